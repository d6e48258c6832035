/* Message encoding for the rpc layer, the errno <-> gRPC status mapping and
 * the wording of a failed call's error. */
#include "rpc_codec.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/status.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "rpc.h"

grpc_byte_buffer *runm_rpc_pack(const ProtobufCMessage *msg, runm_error_t *err)
{
  size_t len = protobuf_c_message_get_packed_size(msg);
  grpc_slice s = grpc_slice_malloc(len);
  grpc_byte_buffer *bb;

  protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
  bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  if (bb == NULL) runm_make_error(err, ENOMEM, "pack %s", msg->descriptor->name);
  return bb;
}

int runm_rpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d, size_t max,
                    ProtobufCMessage **out, runm_error_t *err)
{
  grpc_byte_buffer_reader rd;
  grpc_slice s;
  size_t len = grpc_byte_buffer_length(bb);
  cleanup_free uint8_t *buf = NULL;
  size_t off = 0;

  if (len > max)
    return runm_make_error(err, EMSGSIZE, "%s message of %zu bytes exceeds the %zu-byte limit",
                           d->name, len, max);
  buf = malloc(len ? len : 1);
  if (buf == NULL) return runm_make_error(err, ENOMEM, "unpack %s", d->name);
  if (!grpc_byte_buffer_reader_init(&rd, bb))
    return runm_make_error(err, EINVAL, "cannot read %s message", d->name);
  while (grpc_byte_buffer_reader_next(&rd, &s)) {
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n > len - off) {
      grpc_slice_unref(s);
      grpc_byte_buffer_reader_destroy(&rd);
      return runm_make_error(err, EMSGSIZE, "%s message longer than announced", d->name);
    }
    memcpy(buf + off, GRPC_SLICE_START_PTR(s), n);
    off += n;
    grpc_slice_unref(s);
  }
  grpc_byte_buffer_reader_destroy(&rd);
  return runm_rpc_decode(d, buf, off, out, err);
}

int runm_rpc_code_from_errno(int e)
{
  switch (e) {
  case 0: return GRPC_STATUS_UNKNOWN;
  case ENOENT:
  case ESRCH: return GRPC_STATUS_NOT_FOUND;
  case EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
  case EINVAL:
  case E2BIG:
  case ENAMETOOLONG: return GRPC_STATUS_INVALID_ARGUMENT;
  case ETIMEDOUT: return GRPC_STATUS_DEADLINE_EXCEEDED;
  case EPERM:
  case EACCES: return GRPC_STATUS_PERMISSION_DENIED;
  case ENOSYS:
  case EOPNOTSUPP: return GRPC_STATUS_UNIMPLEMENTED;
  case EBUSY:
  case ENOTEMPTY: return GRPC_STATUS_FAILED_PRECONDITION;
  case ECANCELED: return GRPC_STATUS_CANCELLED;
  case ENOMEM:
  case ENOSPC:
  case EMSGSIZE: return GRPC_STATUS_RESOURCE_EXHAUSTED;
  case ECONNREFUSED:
  case ECONNRESET:
  case EPIPE:
  case EAGAIN: return GRPC_STATUS_UNAVAILABLE;
  case ERANGE: return GRPC_STATUS_OUT_OF_RANGE;
  default: return GRPC_STATUS_INTERNAL;
  }
}

int runm_rpc_errno_from_code(int code)
{
  switch (code) {
  case GRPC_STATUS_OK: return 0;
  case GRPC_STATUS_CANCELLED: return ECANCELED;
  case GRPC_STATUS_INVALID_ARGUMENT: return EINVAL;
  case GRPC_STATUS_DEADLINE_EXCEEDED: return ETIMEDOUT;
  case GRPC_STATUS_NOT_FOUND: return ENOENT;
  case GRPC_STATUS_ALREADY_EXISTS: return EEXIST;
  case GRPC_STATUS_PERMISSION_DENIED:
  case GRPC_STATUS_UNAUTHENTICATED: return EPERM;
  case GRPC_STATUS_RESOURCE_EXHAUSTED: return EMSGSIZE;
  case GRPC_STATUS_FAILED_PRECONDITION: return EBUSY;
  case GRPC_STATUS_OUT_OF_RANGE: return ERANGE;
  case GRPC_STATUS_UNIMPLEMENTED: return ENOSYS;
  case GRPC_STATUS_UNAVAILABLE: return ECONNREFUSED;
  case GRPC_STATUS_ABORTED:
  case GRPC_STATUS_DATA_LOSS:
  case GRPC_STATUS_INTERNAL:
  case GRPC_STATUS_UNKNOWN:
  default: return EIO;
  }
}

const char *runm_rpc_code_name(int code)
{
  static const char *const names[] = {
      "OK",        "CANCELLED",          "UNKNOWN",        "INVALID_ARGUMENT",  "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",
      "UNAVAILABLE", "DATA_LOSS",        "UNAUTHENTICATED",
  };
  if (code >= 0 && (size_t)code < sizeof(names) / sizeof(names[0])) return names[code];
  return "UNKNOWN";
}

/* The details are the peer's text (the guest's, for the shim): escaped and
 * capped so they can go into a log line or an error for containerd as
 * they are. */
int runm_rpc_status_error(runm_error_t *err, const char *method, int code, const char *details,
                          size_t len)
{
  char det[RUNM_RPC_MAX_DETAILS + 1];
  runm_escape(det, sizeof(det), details, len);
  return runm_make_error(err, runm_rpc_errno_from_code(code), "%s: %s: %s", method,
                         runm_rpc_code_name(code), det);
}

const char *runm_rpc_error_details(const runm_error_t err, const char *method)
{
  size_t ml = strlen(method);
  const char *p;

  if (err == NULL || err->msg == NULL || strncmp(err->msg, method, ml) != 0 ||
      strncmp(err->msg + ml, ": ", 2) != 0)
    return NULL;
  p = err->msg + ml + 2;
  for (int code = 1; code <= GRPC_STATUS_UNAUTHENTICATED; code++) {
    const char *name = runm_rpc_code_name(code);
    size_t nl = strlen(name);
    if (strncmp(p, name, nl) == 0 && strncmp(p + nl, ": ", 2) == 0) return p + nl + 2;
  }
  return NULL;
}

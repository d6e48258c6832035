/* A transparent gRPC proxy: every call on the server side is replayed on an
 * upstream channel with the same method, messages passed as raw bytes both
 * ways, half-close and status passed through. The shim and the standalone
 * VM supervisor use it so that many clients share the one connection a
 * virtio-serial port carries. */
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdlib.h>

#include "cleanup.h"
#include "rpc.h"

struct proxy_call {
  struct runm_rpc_call *down;
  struct runm_rpc_stream *up;
};

static void cancel_upstream(void *arg)
{
  struct proxy_call *p = arg;
  runm_rpc_stream_cancel(p->up);
}

/* Client to upstream: messages, then the half-close. */
static void *downstream_reader(void *arg)
{
  struct proxy_call *p = arg;
  for (;;) {
    cleanup_error runm_error_t err = NULL;
    grpc_byte_buffer *bb = NULL;
    int r = runm_rpc_call_recv_raw(p->down, &bb, &err);
    if (r < 0) {
      runm_rpc_stream_cancel(p->up);
      return NULL;
    }
    if (r == 0) {
      runm_rpc_stream_close_send(p->up, &err);
      return NULL;
    }
    r = runm_rpc_stream_send_raw(p->up, bb, &err);
    grpc_byte_buffer_destroy(bb);
    if (r < 0) return NULL; /* upstream ended; its status will tell */
  }
}

int runm_rpc_proxy_handler(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                           runm_error_t *err)
{
  struct runm_rpc_client *upstream = opaque;
  struct proxy_call p = {.down = call};
  cleanup_free char *details = NULL;
  pthread_t reader;
  int code;

  p.up = runm_rpc_stream_open(upstream, runm_rpc_call_method(call), NULL, NULL, 0, err);
  if (p.up == NULL) return -1;
  runm_rpc_call_on_cancel(call, cancel_upstream, &p);
  if (pthread_create(&reader, NULL, downstream_reader, &p) != 0) {
    runm_rpc_call_on_cancel(call, NULL, NULL);
    runm_rpc_stream_free(p.up);
    return runm_make_error(err, EAGAIN, "proxy thread");
  }
  for (;;) {
    cleanup_error runm_error_t e2 = NULL;
    grpc_byte_buffer *bb = NULL;
    int r = runm_rpc_stream_recv_raw(p.up, &bb, &e2);
    if (r <= 0) break;
    r = runm_rpc_call_send_raw(call, bb, &e2);
    grpc_byte_buffer_destroy(bb);
    if (r < 0) {
      runm_rpc_stream_cancel(p.up); /* the client went away */
    }
  }
  code = runm_rpc_stream_status(p.up, &details);
  if (code == GRPC_STATUS_UNKNOWN && details == NULL) code = GRPC_STATUS_UNAVAILABLE;
  /* Finishing wakes the reader if the client never half-closed. */
  runm_rpc_call_set_status(call, code, details ? details : "");
  runm_rpc_call_finish(call, code, details);
  pthread_join(reader, NULL);
  runm_rpc_call_on_cancel(call, NULL, NULL);
  runm_rpc_stream_free(p.up);
  return 0;
}

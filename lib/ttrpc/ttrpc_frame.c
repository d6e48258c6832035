/* ttrpc framing and envelopes: the 10-byte header, whole-frame reads and
 * writes on a socket, and the Request/Response messages around a payload.
 * Everything here treats its input as hostile: the fuzzer runs over it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "cleanup.h"
#include "google/rpc/status.pb-c.h"
#include "ttrpc.h"

static uint32_t get_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void runm_ttrpc_header_pack(const struct runm_ttrpc_header *h, uint8_t out[RUNM_TTRPC_HEADER_SIZE])
{
  put_be32(out, h->length);
  put_be32(out + 4, h->stream_id);
  out[8] = h->type;
  out[9] = h->flags;
}

int runm_ttrpc_header_unpack(const uint8_t in[RUNM_TTRPC_HEADER_SIZE], struct runm_ttrpc_header *h,
                             runm_error_t *err)
{
  h->length = get_be32(in);
  h->stream_id = get_be32(in + 4);
  h->type = in[8];
  h->flags = in[9];
  if (h->length > RUNM_TTRPC_MAX_PAYLOAD)
    return runm_make_error(err, EMSGSIZE, "ttrpc frame of %u bytes on stream %u exceeds %u",
                           h->length, h->stream_id, RUNM_TTRPC_MAX_PAYLOAD);
  return 0;
}

int runm_ttrpc_frame_parse(const uint8_t *buf, size_t len, struct runm_ttrpc_header *h,
                           const uint8_t **payload, size_t *consumed, runm_error_t *err)
{
  if (len < RUNM_TTRPC_HEADER_SIZE) return 0;
  if (runm_ttrpc_header_unpack(buf, h, err) < 0) return -1;
  /* length <= 4 MiB, so the sum cannot overflow a size_t. */
  if (len - RUNM_TTRPC_HEADER_SIZE < h->length) return 0;
  *payload = buf + RUNM_TTRPC_HEADER_SIZE;
  *consumed = RUNM_TTRPC_HEADER_SIZE + (size_t)h->length;
  return 1;
}

/* Fills buf from fd. Returns 1 when full; 0 at EOF or on wake with nothing
 * read yet (*got stays 0); <0 on error, EOF or wake part way. */
static int read_full(int fd, int wake_fd, uint8_t *buf, size_t len, size_t *got,
                     bool frame_started, runm_error_t *err)
{
  struct pollfd pfd[2] = {
      {.fd = fd, .events = POLLIN},
      {.fd = wake_fd, .events = POLLIN},
  };
  nfds_t n = wake_fd >= 0 ? 2 : 1;

  *got = 0;
  while (*got < len) {
    ssize_t r;
    if (poll(pfd, n, -1) < 0) {
      if (errno == EINTR) continue;
      return runm_make_error(err, errno, "poll ttrpc socket");
    }
    /* The wake fd wins: a peer that keeps sending must not hold off a
     * shutdown. */
    if (n == 2 && pfd[1].revents) {
      if (*got == 0 && !frame_started) return 0;
      return runm_make_error(err, ECANCELED, "ttrpc read interrupted inside a frame");
    }
    if (pfd[0].revents == 0) continue;
    r = recv(fd, buf + *got, len - *got, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return runm_make_error(err, errno, "read ttrpc socket");
    }
    if (r == 0) {
      if (*got == 0 && !frame_started) return 0;
      return runm_make_error(err, EPROTO, "ttrpc connection closed inside a frame");
    }
    *got += (size_t)r;
  }
  return 1;
}

int runm_ttrpc_read_frame(int fd, int wake_fd, struct runm_ttrpc_header *h, uint8_t **payload,
                          runm_error_t *err)
{
  uint8_t hdr[RUNM_TTRPC_HEADER_SIZE];
  cleanup_free uint8_t *p = NULL;
  size_t got;
  int ret;

  *payload = NULL;
  ret = read_full(fd, wake_fd, hdr, sizeof(hdr), &got, false, err);
  if (ret <= 0) return ret;
  if (runm_ttrpc_header_unpack(hdr, h, err) < 0) return -1;
  if (h->length == 0) return 1;
  p = malloc(h->length);
  if (p == NULL) return runm_make_error(err, ENOMEM, "ttrpc frame of %u bytes", h->length);
  ret = read_full(fd, wake_fd, p, h->length, &got, true, err);
  if (ret < 0) return ret;
  *payload = steal_pointer(&p);
  return 1;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int runm_ttrpc_write_frame(int fd, const struct runm_ttrpc_header *h, const uint8_t *payload,
                           int timeout_ms, runm_error_t *err)
{
  uint8_t hdr[RUNM_TTRPC_HEADER_SIZE];
  struct iovec iov[2];
  struct msghdr msg;
  int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
  size_t iov_idx = 0;

  if (h->length > RUNM_TTRPC_MAX_PAYLOAD)
    return runm_make_error(err, EMSGSIZE, "ttrpc frame of %u bytes exceeds %u", h->length,
                           RUNM_TTRPC_MAX_PAYLOAD);
  runm_ttrpc_header_pack(h, hdr);
  iov[0].iov_base = hdr;
  iov[0].iov_len = sizeof(hdr);
  iov[1].iov_base = (void *)payload;
  iov[1].iov_len = payload ? h->length : 0;

  while (iov_idx < 2) {
    ssize_t w;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov + iov_idx;
    msg.msg_iovlen = 2 - iov_idx;
    /* Non-blocking per call, so that a peer that stops reading costs at
     * most the timeout, not a thread forever. */
    w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int wait_ms = -1;
        if (deadline >= 0) {
          int64_t left = deadline - now_ms();
          if (left <= 0) return runm_make_error(err, ETIMEDOUT, "ttrpc peer is not reading");
          wait_ms = left > 60000 ? 60000 : (int)left;
        }
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
          return runm_make_error(err, errno, "poll ttrpc socket");
        continue;
      }
      return runm_make_error(err, errno, "write ttrpc socket");
    }
    while (iov_idx < 2 && (size_t)w >= iov[iov_idx].iov_len) {
      w -= (ssize_t)iov[iov_idx].iov_len;
      iov_idx++;
    }
    if (iov_idx < 2) {
      iov[iov_idx].iov_base = (uint8_t *)iov[iov_idx].iov_base + w;
      iov[iov_idx].iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* Packs msg into a fresh buffer; an absent message is an empty one. */
static int pack_message(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *out_len,
                        runm_error_t *err)
{
  size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;

  *out = NULL;
  *out_len = 0;
  if (n > max)
    return runm_make_error(err, EMSGSIZE, "%s of %zu bytes exceeds the ttrpc limit of %zu",
                           msg->descriptor->name, n, max);
  if (n == 0) return 0;
  *out = malloc(n);
  if (*out == NULL) return runm_make_error(err, ENOMEM, "pack %s", msg->descriptor->name);
  *out_len = protobuf_c_message_pack(msg, *out);
  return 0;
}

int runm_ttrpc_request_pack(const char *service, const char *method, const ProtobufCMessage *msg,
                            int64_t timeout_nano, const struct runm_ttrpc_md *md, size_t n_md,
                            uint8_t **out, size_t *out_len, runm_error_t *err)
{
  Ttrpc__Request req = TTRPC__REQUEST__INIT;
  cleanup_free uint8_t *payload = NULL;
  cleanup_free Ttrpc__KeyValue *kv = NULL;
  cleanup_free Ttrpc__KeyValue **kvp = NULL;
  size_t len;

  if (n_md > RUNM_TTRPC_MAX_METADATA)
    return runm_make_error(err, E2BIG, "%zu ttrpc metadata entries", n_md);
  if (pack_message(msg, RUNM_TTRPC_MAX_PAYLOAD, &payload, &len, err) < 0) return -1;
  if (n_md > 0) {
    kv = calloc(n_md, sizeof(*kv));
    kvp = calloc(n_md, sizeof(*kvp));
    if (kv == NULL || kvp == NULL) return runm_make_error(err, ENOMEM, "ttrpc metadata");
    for (size_t i = 0; i < n_md; i++) {
      ttrpc__key_value__init(&kv[i]);
      kv[i].key = (char *)md[i].key;
      kv[i].value = (char *)md[i].value;
      kvp[i] = &kv[i];
    }
  }
  req.service = (char *)service;
  req.method = (char *)method;
  req.payload.data = payload;
  req.payload.len = len;
  req.timeout_nano = timeout_nano;
  req.n_metadata = n_md;
  req.metadata = kvp;
  return pack_message(&req.base, RUNM_TTRPC_MAX_PAYLOAD, out, out_len, err);
}

int runm_ttrpc_request_unpack(const uint8_t *buf, size_t len, Ttrpc__Request **out,
                              runm_error_t *err)
{
  Ttrpc__Request *req;

  *out = NULL;
  if (len > RUNM_TTRPC_MAX_PAYLOAD)
    return runm_make_error(err, EMSGSIZE, "ttrpc request of %zu bytes", len);
  req = ttrpc__request__unpack(NULL, len, buf);
  if (req == NULL) return runm_make_error(err, EINVAL, "malformed ttrpc request");
  if (req->service == NULL || req->service[0] == '\0' || req->method == NULL ||
      req->method[0] == '\0') {
    ttrpc__request__free_unpacked(req, NULL);
    return runm_make_error(err, EINVAL, "ttrpc request names no service or method");
  }
  if (req->n_metadata > RUNM_TTRPC_MAX_METADATA) {
    size_t n = req->n_metadata;
    ttrpc__request__free_unpacked(req, NULL);
    return runm_make_error(err, E2BIG, "ttrpc request with %zu metadata entries (limit %d)", n,
                           RUNM_TTRPC_MAX_METADATA);
  }
  *out = req;
  return 0;
}

int runm_ttrpc_response_pack(int code, const char *message, const ProtobufCMessage *msg,
                             uint8_t **out, size_t *out_len, runm_error_t *err)
{
  Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  cleanup_free uint8_t *payload = NULL;
  size_t len = 0;

  if (code == 0 && pack_message(msg, RUNM_TTRPC_MAX_PAYLOAD, &payload, &len, err) < 0) return -1;
  st.code = code;
  st.message = (char *)(message ? message : "");
  resp.status = &st;
  resp.payload.data = payload;
  resp.payload.len = len;
  return pack_message(&resp.base, RUNM_TTRPC_MAX_PAYLOAD, out, out_len, err);
}

int runm_ttrpc_response_unpack(const uint8_t *buf, size_t len, Ttrpc__Response **out,
                               runm_error_t *err)
{
  *out = NULL;
  if (len > RUNM_TTRPC_MAX_PAYLOAD)
    return runm_make_error(err, EMSGSIZE, "ttrpc response of %zu bytes", len);
  *out = ttrpc__response__unpack(NULL, len, buf);
  if (*out == NULL) return runm_make_error(err, EINVAL, "malformed ttrpc response");
  return 0;
}

int runm_ttrpc_message_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                              ProtobufCMessage **out, runm_error_t *err)
{
  *out = NULL;
  if (len > RUNM_TTRPC_MAX_PAYLOAD)
    return runm_make_error(err, EMSGSIZE, "%s of %zu bytes", d->name, len);
  *out = protobuf_c_message_unpack(d, NULL, len, buf);
  if (*out == NULL) return runm_make_error(err, EINVAL, "malformed %s", d->name);
  return 0;
}

/* gRPC client: unary calls over a unix target or a caller-connected socket,
 * with a cancel-everything switch for when the peer VM dies. */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "rpc.h"
#include "rpc_codec.h"

struct inflight {
  grpc_call *call;
  struct inflight *next;
};

struct runm_rpc_client {
  grpc_channel *ch;
  pthread_mutex_t lock; /* guards calls, cancelled, cancel_why */
  struct inflight *calls;
  bool cancelled;
  char *cancel_why;
};

struct runm_rpc_client *runm_rpc_client_new(const char *target, int fd, runm_error_t *err)
{
  struct runm_rpc_client *c = calloc(1, sizeof(*c));
  grpc_channel_credentials *creds;
  grpc_arg args[1];
  grpc_channel_args ch_args = {.num_args = 1, .args = args};

  if (c == NULL) {
    if (fd >= 0) close(fd);
    runm_make_error(err, ENOMEM, "allocate client");
    return NULL;
  }
  grpc_init();
  pthread_mutex_init(&c->lock, NULL);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = RUNM_RPC_MAX_MESSAGE;
  creds = grpc_insecure_credentials_create();
  if (fd >= 0)
    c->ch = grpc_channel_create_from_fd(target ? target : "fd", fd, creds, &ch_args);
  else
    c->ch = grpc_channel_create(target, creds, &ch_args);
  grpc_channel_credentials_release(creds);
  if (c->ch == NULL) {
    runm_make_error(err, EINVAL, "cannot create a channel to `%s`", target ? target : "fd");
    runm_rpc_client_free(c);
    return NULL;
  }
  return c;
}

void runm_rpc_client_free(struct runm_rpc_client *c)
{
  if (c == NULL) return;
  if (c->ch) grpc_channel_destroy(c->ch);
  pthread_mutex_destroy(&c->lock);
  free(c->cancel_why);
  free(c);
  grpc_shutdown();
}

void runm_rpc_client_cancel_all(struct runm_rpc_client *c, const char *why)
{
  pthread_mutex_lock(&c->lock);
  if (!c->cancelled) {
    c->cancelled = true;
    c->cancel_why = strdup(why ? why : "cancelled");
  }
  for (struct inflight *i = c->calls; i; i = i->next)
    grpc_call_cancel_with_status(i->call, GRPC_STATUS_UNAVAILABLE, c->cancel_why, NULL);
  pthread_mutex_unlock(&c->lock);
}

/* Registers a call so cancel_all can reach it; false when already cancelled. */
static bool track(struct runm_rpc_client *c, struct inflight *node)
{
  bool ok;
  pthread_mutex_lock(&c->lock);
  ok = !c->cancelled;
  if (ok) {
    node->next = c->calls;
    c->calls = node;
  }
  pthread_mutex_unlock(&c->lock);
  return ok;
}

static void untrack(struct runm_rpc_client *c, struct inflight *node)
{
  pthread_mutex_lock(&c->lock);
  for (struct inflight **p = &c->calls; *p; p = &(*p)->next)
    if (*p == node) {
      *p = node->next;
      break;
    }
  pthread_mutex_unlock(&c->lock);
}

/* The error for a call that ended with a non-OK status (rpc_codec.c words
 * it, pure, so the fuzzers drive the same wording). */
static int status_error(runm_error_t *err, const char *method, grpc_status_code status,
                        grpc_slice details)
{
  return runm_rpc_status_error(err, method, status, (const char *)GRPC_SLICE_START_PTR(details),
                               GRPC_SLICE_LENGTH(details));
}

int runm_rpc_client_unary(struct runm_rpc_client *c, const char *method,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, int64_t timeout_ms, bool wait_for_ready,
                          runm_error_t *err)
{
  grpc_completion_queue *cq;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_byte_buffer *send_bb, *recv_bb = NULL;
  grpc_metadata_array init_md, trail_md;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  struct inflight node = {0};
  grpc_event ev;
  int ret = 0, tag = 0;

  *resp = NULL;
  send_bb = runm_rpc_pack(req, err);
  if (send_bb == NULL) return -1;
  deadline = timeout_ms > 0
                 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                 : gpr_inf_future(GPR_CLOCK_MONOTONIC);
  cq = grpc_completion_queue_create_for_pluck(NULL);
  call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                  grpc_slice_from_static_string(method), NULL, deadline, NULL);
  grpc_metadata_array_init(&init_md);
  grpc_metadata_array_init(&trail_md);
  node.call = call;

  memset(ops, 0, sizeof(ops));
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].flags = wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send_bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv_bb;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;

  if (!track(c, &node)) {
    pthread_mutex_lock(&c->lock);
    ret = runm_make_error(err, ECONNABORTED, "%s: %s", method, c->cancel_why);
    pthread_mutex_unlock(&c->lock);
  } else if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
    untrack(c, &node);
    ret = runm_make_error(err, EIO, "%s: cannot start the call", method);
  } else {
    ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    untrack(c, &node);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
      ret = runm_make_error(err, EIO, "%s: call failed", method);
    } else if (status != GRPC_STATUS_OK) {
      ret = status_error(err, method, status, details);
    } else if (recv_bb == NULL) {
      ret = runm_make_error(err, EPROTO, "%s: OK status without a response", method);
    } else {
      ret = runm_rpc_unpack(recv_bb, resp_desc, RUNM_RPC_MAX_MESSAGE, resp, err);
      if (ret < 0) runm_error_wrap(err, "%s", method);
    }
  }

  grpc_byte_buffer_destroy(send_bb);
  if (recv_bb) grpc_byte_buffer_destroy(recv_bb);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&init_md);
  grpc_metadata_array_destroy(&trail_md);
  grpc_call_unref(call);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
  return ret;
}

struct runm_rpc_stream {
  struct runm_rpc_client *client;
  struct inflight node;
  grpc_completion_queue *cq;
  grpc_call *call;
  const ProtobufCMessageDescriptor *resp_desc;
  char *method;
  grpc_metadata_array init_md, trail_md;
  grpc_status_code status;
  grpc_slice details;
  bool got_initial_md;
  bool status_started;
  bool ended;
  int send_tag, recv_tag, status_tag, open_tag;
};

void runm_rpc_stream_free(struct runm_rpc_stream *s)
{
  if (s == NULL) return;
  if (s->call) {
    if (!s->ended && s->status_started) {
      /* Cancel and collect the status so the queue drains. */
      grpc_call_cancel(s->call, NULL);
      grpc_completion_queue_pluck(s->cq, &s->status_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    untrack(s->client, &s->node);
    grpc_call_unref(s->call);
  }
  grpc_metadata_array_destroy(&s->init_md);
  grpc_metadata_array_destroy(&s->trail_md);
  grpc_slice_unref(s->details);
  if (s->cq) {
    grpc_completion_queue_shutdown(s->cq);
    grpc_completion_queue_destroy(s->cq);
  }
  free(s->method);
  free(s);
}

struct runm_rpc_stream *runm_rpc_stream_open(struct runm_rpc_client *c, const char *method,
                                             const ProtobufCMessage *request,
                                             const ProtobufCMessageDescriptor *resp_desc,
                                             int64_t timeout_ms, runm_error_t *err)
{
  struct runm_rpc_stream *s = calloc(1, sizeof(*s));
  gpr_timespec deadline;
  grpc_op ops[3];
  grpc_op st;
  grpc_byte_buffer *bb = NULL;
  size_t n = 0;
  grpc_event ev;

  if (s == NULL) {
    runm_make_error(err, ENOMEM, "%s", method);
    return NULL;
  }
  s->client = c;
  s->resp_desc = resp_desc;
  s->method = strdup(method);
  s->details = grpc_empty_slice();
  grpc_metadata_array_init(&s->init_md);
  grpc_metadata_array_init(&s->trail_md);
  deadline = timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                           gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                            : gpr_inf_future(GPR_CLOCK_MONOTONIC);
  s->cq = grpc_completion_queue_create_for_pluck(NULL);
  s->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
                                     grpc_slice_from_static_string(s->method ? s->method : method),
                                     NULL, deadline, NULL);
  s->node.call = s->call;
  if (!track(c, &s->node)) {
    pthread_mutex_lock(&c->lock);
    runm_make_error(err, ECONNABORTED, "%s: %s", method, c->cancel_why);
    pthread_mutex_unlock(&c->lock);
    grpc_call_unref(s->call);
    s->call = NULL;
    runm_rpc_stream_free(s);
    return NULL;
  }

  /* The status arrives whenever the call ends; ask for it up front. */
  memset(&st, 0, sizeof(st));
  st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  st.data.recv_status_on_client.status = &s->status;
  st.data.recv_status_on_client.status_details = &s->details;
  st.data.recv_status_on_client.trailing_metadata = &s->trail_md;

  memset(ops, 0, sizeof(ops));
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (request) {
    bb = runm_rpc_pack(request, err);
    if (bb == NULL) {
      runm_rpc_stream_free(s);
      return NULL;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  }
  s->status_started = grpc_call_start_batch(s->call, &st, 1, &s->status_tag, NULL) == GRPC_CALL_OK;
  if (!s->status_started ||
      grpc_call_start_batch(s->call, ops, n, &s->open_tag, NULL) != GRPC_CALL_OK) {
    if (bb) grpc_byte_buffer_destroy(bb);
    runm_make_error(err, EIO, "%s: cannot start the call", method);
    runm_rpc_stream_free(s);
    return NULL;
  }
  ev = grpc_completion_queue_pluck(s->cq, &s->open_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (bb) grpc_byte_buffer_destroy(bb);
  (void)ev; /* a failed send shows up as the call's status on recv */
  return s;
}

int runm_rpc_stream_send_raw(struct runm_rpc_stream *s, grpc_byte_buffer *bb, runm_error_t *err)
{
  grpc_op op;
  grpc_event ev;

  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = bb;
  if (grpc_call_start_batch(s->call, &op, 1, &s->send_tag, NULL) != GRPC_CALL_OK)
    return runm_make_error(err, EIO, "%s: cannot send", s->method);
  ev = grpc_completion_queue_pluck(s->cq, &s->send_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (ev.type != GRPC_OP_COMPLETE || !ev.success)
    return runm_make_error(err, EPIPE, "%s: the call has ended", s->method);
  return 0;
}

int runm_rpc_stream_send(struct runm_rpc_stream *s, const ProtobufCMessage *msg, runm_error_t *err)
{
  grpc_byte_buffer *bb = runm_rpc_pack(msg, err);
  int r;
  if (bb == NULL) return -1;
  r = runm_rpc_stream_send_raw(s, bb, err);
  grpc_byte_buffer_destroy(bb);
  return r;
}

int runm_rpc_stream_status(struct runm_rpc_stream *s, char **details)
{
  *details = s->ended ? grpc_slice_to_c_string(s->details) : strdup("stream has not ended");
  return s->ended ? (int)s->status : GRPC_STATUS_UNKNOWN;
}

int runm_rpc_stream_close_send(struct runm_rpc_stream *s, runm_error_t *err)
{
  grpc_op op;
  grpc_event ev;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  if (grpc_call_start_batch(s->call, &op, 1, &s->send_tag, NULL) != GRPC_CALL_OK)
    return runm_make_error(err, EIO, "%s: cannot close", s->method);
  ev = grpc_completion_queue_pluck(s->cq, &s->send_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (ev.type != GRPC_OP_COMPLETE || !ev.success)
    return runm_make_error(err, EPIPE, "%s: the call has ended", s->method);
  return 0;
}

int runm_rpc_stream_recv_raw(struct runm_rpc_stream *s, grpc_byte_buffer **out, runm_error_t *err)
{
  grpc_op ops[2];
  size_t n = 0;
  grpc_byte_buffer *bb = NULL;
  grpc_event ev;

  *out = NULL;
  if (s->ended) return 0;
  memset(ops, 0, sizeof(ops));
  if (!s->got_initial_md) {
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    s->got_initial_md = true;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &bb;
  if (grpc_call_start_batch(s->call, ops, n, &s->recv_tag, NULL) != GRPC_CALL_OK)
    return runm_make_error(err, EIO, "%s: cannot receive", s->method);
  ev = grpc_completion_queue_pluck(s->cq, &s->recv_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (ev.type == GRPC_OP_COMPLETE && ev.success && bb) {
    *out = bb;
    return 1;
  }
  if (bb) grpc_byte_buffer_destroy(bb);
  grpc_completion_queue_pluck(s->cq, &s->status_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  s->ended = true;
  return 0;
}

int runm_rpc_stream_recv(struct runm_rpc_stream *s, ProtobufCMessage **msg, runm_error_t *err)
{
  grpc_byte_buffer *bb = NULL;
  int ret;

  *msg = NULL;
  if (s->ended) return runm_make_error(err, EPIPE, "%s: stream already ended", s->method);
  ret = runm_rpc_stream_recv_raw(s, &bb, err);
  if (ret < 0) return ret;
  if (ret == 1) {
    ret = runm_rpc_unpack(bb, s->resp_desc, RUNM_RPC_MAX_MESSAGE, msg, err);
    grpc_byte_buffer_destroy(bb);
    if (ret < 0) return runm_error_wrap(err, "%s", s->method);
    return 1;
  }
  /* No message: the stream is over; its status says how. */
  if (s->status == GRPC_STATUS_OK) return 0;
  return status_error(err, s->method, s->status, s->details);
}

void runm_rpc_stream_cancel(struct runm_rpc_stream *s)
{
  grpc_call_cancel(s->call, NULL);
}

/* The API a handler uses on its call (rpc.h: runm_rpc_call_*): send and
 * receive messages, the status, and cancellation through a close watcher
 * started only when asked for. The server side is rpc_server.c. */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "rpc.h"
#include "rpc_codec.h"
#include "rpc_server_priv.h"

gpr_timespec rpc_forever(void)
{
  return gpr_inf_future(GPR_CLOCK_REALTIME);
}
void rpc_call_free(struct runm_rpc_call *c)
{
  if (c == NULL) return;
  if (c->call) grpc_call_unref(c->call);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  if (c->cq) {
    grpc_completion_queue_shutdown(c->cq);
    grpc_completion_queue_destroy(c->cq);
  }
  pthread_mutex_destroy(&c->send_lock);
  pthread_mutex_destroy(&c->hook_lock);
  pthread_mutex_destroy(&c->watch_lock);
  free(c->status_details);
  free(c->method_name);
  free(c);
}
/* Runs one batch and waits for it; false when the batch failed (client gone). */
bool rpc_call_run_batch(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag)
{
  grpc_event ev;
  if (grpc_call_start_batch(c->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
  ev = grpc_completion_queue_pluck(c->cq, tag, rpc_forever(), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* run_batch for a wait that only a stalling client makes long: past the
 * server's client timeout the call is cancelled, which completes the batch
 * (failed), so the tag is always collected before returning. */
bool rpc_call_run_batch_client(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag, int ms)
{
  grpc_event ev;

  if (ms <= 0) return rpc_call_run_batch(c, ops, n, tag);
  if (grpc_call_start_batch(c->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
  ev = grpc_completion_queue_pluck(
      c->cq, tag,
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN)), NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    char why[96];
    snprintf(why, sizeof(why), "the client stalled for %d ms", ms);
    c->timed_out = true;
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_DEADLINE_EXCEEDED, why, NULL);
    ev = grpc_completion_queue_pluck(c->cq, tag, rpc_forever(), NULL);
    return false;
  }
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

const char *runm_rpc_call_method(const struct runm_rpc_call *c)
{
  return c->method_name;
}

static void start_close_watch(struct runm_rpc_call *c);

bool runm_rpc_call_cancelled(struct runm_rpc_call *c)
{
  bool r;
  start_close_watch(c);
  pthread_mutex_lock(&c->hook_lock);
  r = c->cancelled;
  pthread_mutex_unlock(&c->hook_lock);
  return r;
}

void runm_rpc_call_on_cancel(struct runm_rpc_call *c, void (*fn)(void *), void *arg)
{
  pthread_mutex_lock(&c->hook_lock);
  c->hook = fn;
  c->hook_arg = arg;
  /* The hook runs under hook_lock, so once this returns with fn == NULL
   * the old hook is not running and will not run. */
  if (fn && c->cancelled) fn(arg);
  pthread_mutex_unlock(&c->hook_lock);
  /* After the hook is in place: a cancel the new watcher sees runs it. */
  if (fn) start_close_watch(c);
}

static void *close_watch_thread(void *arg)
{
  struct runm_rpc_call *c = arg;
  grpc_event ev = grpc_completion_queue_pluck(c->cq, &c->close_tag, rpc_forever(), NULL);

  pthread_mutex_lock(&c->hook_lock);
  if (ev.type != GRPC_OP_COMPLETE || !ev.success || c->close_cancelled) {
    c->cancelled = true;
    if (c->hook) c->hook(c->hook_arg);
  }
  pthread_mutex_unlock(&c->hook_lock);
  return NULL;
}

/* Idempotent; a no-op once finish took the close. */
static void start_close_watch(struct runm_rpc_call *c)
{
  grpc_op op;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->close_cancelled;
  pthread_mutex_lock(&c->watch_lock);
  if (c->watching || c->close_in_finish) goto out;
  /* Started or not, the close is never asked for a second time. */
  c->close_in_finish = true;
  if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) goto out;
  if (pthread_create(&c->watcher, NULL, close_watch_thread, c) != 0) {
    /* Without the thread nobody plucks the tag: cancel so it completes,
     * then take it here. */
    grpc_call_cancel(c->call, NULL);
    grpc_completion_queue_pluck(c->cq, &c->close_tag, rpc_forever(), NULL);
    goto out;
  }
  c->watching = true;
out:
  pthread_mutex_unlock(&c->watch_lock);
}

int runm_rpc_call_send_raw(struct runm_rpc_call *c, grpc_byte_buffer *bb, runm_error_t *err)
{
  grpc_op ops[2];
  size_t n = 0;
  bool ok;

  memset(ops, 0, sizeof(ops));
  pthread_mutex_lock(&c->send_lock);
  if (!c->sent_initial_md) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_initial_md = true;
  }
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = bb;
  ok = rpc_call_run_batch(c, ops, n, &c->send_tag);
  pthread_mutex_unlock(&c->send_lock);
  if (!ok) return runm_make_error(err, EPIPE, "%s: client went away", c->method_name);
  return 0;
}

int runm_rpc_call_recv_raw(struct runm_rpc_call *c, grpc_byte_buffer **bb, runm_error_t *err)
{
  grpc_op op;
  *bb = NULL;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = bb;
  if (!rpc_call_run_batch(c, &op, 1, &c->recv_tag))
    return runm_make_error(err, ECANCELED, "%s: call cancelled", c->method_name);
  return *bb ? 1 : 0;
}

void runm_rpc_call_set_status(struct runm_rpc_call *c, int code, const char *details)
{
  free(c->status_details);
  c->status_details = strdup(details ? details : "");
  c->status_code = code;
  c->status_set = true;
}

void runm_rpc_call_finish(struct runm_rpc_call *c, int code, const char *details)
{
  rpc_call_finish(c, (grpc_status_code)code, details, NULL);
}

int runm_rpc_call_send(struct runm_rpc_call *c, const ProtobufCMessage *msg, runm_error_t *err)
{
  grpc_byte_buffer *bb = runm_rpc_pack(msg, err);
  int ret;

  if (bb == NULL) return -1;
  ret = runm_rpc_call_send_raw(c, bb, err);
  grpc_byte_buffer_destroy(bb);
  return ret;
}

int runm_rpc_call_recv(struct runm_rpc_call *c, ProtobufCMessage **msg, runm_error_t *err)
{
  grpc_byte_buffer *bb = NULL;
  int ret;

  *msg = NULL;
  ret = runm_rpc_call_recv_raw(c, &bb, err);
  if (ret <= 0) return ret; /* cancelled, or the client's half-close */
  ret = runm_rpc_unpack(bb, c->method->request, RUNM_RPC_MAX_MESSAGE, msg, err);
  grpc_byte_buffer_destroy(bb);
  return ret < 0 ? ret : 1;
}

void rpc_call_finish(struct runm_rpc_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *resp)
{
  if (c->status_set) {
    code = (grpc_status_code)c->status_code;
    details = c->status_details;
  }
  grpc_op ops[4];
  size_t n = 0;
  int cancelled = 0;
  bool watched;
  grpc_slice det;

  memset(ops, 0, sizeof(ops));
  pthread_mutex_lock(&c->send_lock);
  if (c->finished) {
    pthread_mutex_unlock(&c->send_lock);
    return;
  }
  c->finished = true;
  det = grpc_slice_from_copied_string(details ? details : "");
  if (!c->sent_initial_md) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_initial_md = true;
  }
  if (resp) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = resp;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = code;
  ops[n++].data.send_status_from_server.status_details = &det;
  pthread_mutex_lock(&c->watch_lock);
  watched = c->watching;
  if (!c->close_in_finish) {
    c->close_in_finish = true;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &cancelled;
  }
  pthread_mutex_unlock(&c->watch_lock);
  /* The response may be megabytes (a hook's output) on a slow guest link:
   * RUNM_RPC_SEND_TIMEOUT_FACTOR times the request's time to take it. */
  rpc_call_run_batch_client(c, ops, n, &c->finish_tag,
                   c->srv->client_timeout_ms > 0
                       ? c->srv->client_timeout_ms * RUNM_RPC_SEND_TIMEOUT_FACTOR
                       : 0);
  pthread_mutex_unlock(&c->send_lock);
  grpc_slice_unref(det);
  if (watched) {
    pthread_join(c->watcher, NULL);
    pthread_mutex_lock(&c->watch_lock);
    c->watching = false;
    pthread_mutex_unlock(&c->watch_lock);
  }
}

/* gRPC server on a unix socket: accepts calls on one thread and runs each
 * call on its own thread with a private pluck completion queue.
 *
 * The client may be hostile (the guest on host.sock): calls beyond
 * max_calls are refused on the accept thread without a thread of their own,
 * and every wait on the client that a well-behaved one never makes long
 * (its request, the write of our answer) ends at client_timeout_ms. */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "rpc_codec.h"
#include "thread_cache.h"

struct runm_rpc_server {
  struct runm_rpc_server_config cfg;
  grpc_server *server;
  grpc_completion_queue *cq; /* new-call notifications and shutdown */
  pthread_t thread;
  bool started;
  char *unix_path;

  pthread_mutex_t lock; /* guards n_active, shutting_down, shutdown_seen */
  pthread_cond_t idle;
  int n_active;
  bool shutting_down;
  bool shutdown_seen;
  int max_calls;         /* resolved from cfg: <= 0 means no limit */
  int client_timeout_ms; /* resolved from cfg: <= 0 means no limit */
  struct runm_thread_cache workers; /* the calls' threads */
};

struct runm_rpc_call {
  struct runm_rpc_server *srv;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_completion_queue *cq;
  const struct runm_rpc_method *method;
  char *method_name;
  struct runm_tc_job job;

  pthread_mutex_t send_lock; /* serialises senders; guards sent_initial_md */
  bool sent_initial_md;
  int recv_tag, send_tag, finish_tag, close_tag;

  /* The close watcher: a thread waiting for RECV_CLOSE_ON_SERVER, which
   * completes when the call ends or the client cancels. Started only when a
   * handler asks about cancellation (on_cancel, cancelled): a thread per
   * call costs ~0.1 ms under TCG, most of a Ping. Otherwise finish takes
   * the close in its own batch (close_in_finish), after which no watcher
   * may start. watch_lock guards both. */
  pthread_mutex_t watch_lock;
  pthread_t watcher;
  bool watching;
  bool close_in_finish;
  int close_cancelled;
  pthread_mutex_t hook_lock; /* guards hook, hook_arg, cancelled */
  void (*hook)(void *);
  void *hook_arg;
  bool cancelled;

  bool timed_out;  /* the client stalled past client_timeout_ms: cancelled */
  bool finished;   /* status sent; guarded by send_lock */
  bool status_set; /* set by runm_rpc_call_set_status */
  int status_code;
  char *status_details;
};

static int shutdown_tag;

static gpr_timespec forever(void)
{
  return gpr_inf_future(GPR_CLOCK_REALTIME);
}

static void call_free(struct runm_rpc_call *c)
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

static int post_request(struct runm_rpc_server *srv, runm_error_t *err)
{
  struct runm_rpc_call *c = calloc(1, sizeof(*c));
  grpc_call_error e;

  if (c == NULL) return runm_make_error(err, ENOMEM, "allocate call");
  c->srv = srv;
  pthread_mutex_init(&c->send_lock, NULL);
  pthread_mutex_init(&c->hook_lock, NULL);
  pthread_mutex_init(&c->watch_lock, NULL);
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->md);
  c->cq = grpc_completion_queue_create_for_pluck(NULL);
  e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->md, c->cq, srv->cq, c);
  if (e != GRPC_CALL_OK) {
    call_free(c);
    return runm_make_error(err, EIO, "grpc_server_request_call failed (%d)", e);
  }
  return 0;
}

/* Runs one batch and waits for it; false when the batch failed (client gone). */
static bool run_batch(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag)
{
  grpc_event ev;
  if (grpc_call_start_batch(c->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
  ev = grpc_completion_queue_pluck(c->cq, tag, forever(), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* run_batch for a wait that only a stalling client makes long: past the
 * server's client timeout the call is cancelled, which completes the batch
 * (failed), so the tag is always collected before returning. */
static bool run_batch_client(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag,
                             int ms)
{
  grpc_event ev;

  if (ms <= 0) return run_batch(c, ops, n, tag);
  if (grpc_call_start_batch(c->call, ops, n, tag, NULL) != GRPC_CALL_OK) return false;
  ev = grpc_completion_queue_pluck(
      c->cq, tag,
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN)), NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    char why[96];
    snprintf(why, sizeof(why), "the client stalled for %d ms", ms);
    c->timed_out = true;
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_DEADLINE_EXCEEDED, why, NULL);
    ev = grpc_completion_queue_pluck(c->cq, tag, forever(), NULL);
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
  grpc_event ev = grpc_completion_queue_pluck(c->cq, &c->close_tag, forever(), NULL);

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
    grpc_completion_queue_pluck(c->cq, &c->close_tag, forever(), NULL);
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
  ok = run_batch(c, ops, n, &c->send_tag);
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
  if (!run_batch(c, &op, 1, &c->recv_tag))
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

static void finish(struct runm_rpc_call *c, grpc_status_code code, const char *details,
                   grpc_byte_buffer *resp);

void runm_rpc_call_finish(struct runm_rpc_call *c, int code, const char *details)
{
  finish(c, (grpc_status_code)code, details, NULL);
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

static void finish(struct runm_rpc_call *c, grpc_status_code code, const char *details,
                   grpc_byte_buffer *resp)
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
  run_batch_client(c, ops, n, &c->finish_tag,
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

static void finish_error(struct runm_rpc_call *c, runm_error_t *err)
{
  cleanup_free char *msg = runm_error_string(*err);
  finish(c, (grpc_status_code)runm_rpc_code_from_errno((*err)->status), msg, NULL);
}

static const struct runm_rpc_method *lookup(const struct runm_rpc_server *srv, grpc_slice name)
{
  size_t len = GRPC_SLICE_LENGTH(name);
  for (size_t i = 0; i < srv->cfg.n_methods; i++) {
    const char *m = srv->cfg.methods[i].name;
    if (strlen(m) == len && memcmp(m, GRPC_SLICE_START_PTR(name), len) == 0)
      return &srv->cfg.methods[i];
  }
  return NULL;
}

/* Receives the single request of a unary or server-streaming call. A
 * stream's headers go out now (its client may wait for them); a unary
 * call's go with its response, in one write: under TCG each write is a trip
 * through the guest relay, virtio-serial and the host's poller. */
static int recv_request(struct runm_rpc_call *c, ProtobufCMessage **req, runm_error_t *err)
{
  grpc_op ops[2];
  grpc_byte_buffer *bb = NULL;
  size_t n = 0;
  int ret;

  memset(ops, 0, sizeof(ops));
  pthread_mutex_lock(&c->send_lock);
  if (c->method->kind != RUNM_RPC_UNARY) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    c->sent_initial_md = true;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &bb;
  bool ok = run_batch_client(c, ops, n, &c->recv_tag, c->srv->client_timeout_ms);
  pthread_mutex_unlock(&c->send_lock);
  if (!ok && c->timed_out)
    return runm_make_error(err, ETIMEDOUT, "%s: no request within %d ms", c->method_name,
                           c->srv->client_timeout_ms);
  if (!ok) return runm_make_error(err, ECANCELED, "%s: call cancelled", c->method_name);
  if (bb == NULL) return runm_make_error(err, EINVAL, "%s: no request message", c->method_name);
  ret = runm_rpc_unpack(bb, c->method->request, RUNM_RPC_MAX_MESSAGE, req, err);
  grpc_byte_buffer_destroy(bb);
  return ret;
}

static void dispatch(struct runm_rpc_call *c)
{
  cleanup_error runm_error_t err = NULL;
  ProtobufCMessage *req = NULL, *resp = NULL;
  const struct runm_rpc_method *m = c->method;
  int ret;

  if (m == NULL && c->srv->cfg.fallback) {
    ret = c->srv->cfg.fallback(c->srv->cfg.opaque, c, NULL, &err);
    if (ret < 0)
      finish_error(c, &err);
    else
      finish(c, GRPC_STATUS_OK, "", NULL);
    return;
  }
  if (m == NULL) {
    cleanup_free char *msg = NULL;
    if (asprintf(&msg, "unknown method %s", c->method_name) < 0) msg = NULL;
    finish(c, GRPC_STATUS_UNIMPLEMENTED, msg ? msg : "unknown method", NULL);
    return;
  }
  if (m->kind != RUNM_RPC_BIDI) {
    if (recv_request(c, &req, &err) < 0) {
      /* A timed-out call is already cancelled with its status. */
      if (err->status != ECANCELED) finish_error(c, &err);
      else finish(c, GRPC_STATUS_CANCELLED, "cancelled", NULL);
      return;
    }
  }
  switch (m->kind) {
  case RUNM_RPC_UNARY:
    ret = m->unary(c->srv->cfg.opaque, c, req, &resp, &err);
    if (ret < 0) {
      finish_error(c, &err);
    } else {
      grpc_byte_buffer *bb = resp ? runm_rpc_pack(resp, &err) : NULL;
      if (bb == NULL)
        finish(c, GRPC_STATUS_INTERNAL, "handler produced no response", NULL);
      else
        finish(c, GRPC_STATUS_OK, "", bb);
      if (bb) grpc_byte_buffer_destroy(bb);
    }
    break;
  case RUNM_RPC_SERVER_STREAM:
  case RUNM_RPC_BIDI:
  default:
    ret = m->stream(c->srv->cfg.opaque, c, req, &err);
    if (ret < 0)
      finish_error(c, &err);
    else
      finish(c, GRPC_STATUS_OK, "", NULL);
    break;
  }
  if (req) protobuf_c_message_free_unpacked(req, NULL);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
}

static void call_job(void *arg)
{
  struct runm_rpc_call *c = arg;
  struct runm_rpc_server *srv = c->srv;

  dispatch(c);
  call_free(c);
  pthread_mutex_lock(&srv->lock);
  if (--srv->n_active == 0) pthread_cond_broadcast(&srv->idle);
  pthread_mutex_unlock(&srv->lock);
}

static void start_call(struct runm_rpc_server *srv, struct runm_rpc_call *c)
{
  size_t len = GRPC_SLICE_LENGTH(c->details.method);

  c->method_name = strndup((const char *)GRPC_SLICE_START_PTR(c->details.method), len);
  c->method = lookup(srv, c->details.method);
  if (srv->cfg.on_call) srv->cfg.on_call(srv->cfg.opaque, c->method_name ? c->method_name : "");

  pthread_mutex_lock(&srv->lock);
  srv->n_active++;
  pthread_mutex_unlock(&srv->lock);

  c->job.fn = call_job;
  c->job.arg = c;
  if (runm_thread_cache_run(&srv->workers, &c->job) != 0) {
    /* No thread: answer on this one rather than drop the call. */
    finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot start a thread for the call", NULL);
    call_free(c);
    pthread_mutex_lock(&srv->lock);
    if (--srv->n_active == 0) pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
  }
}

/* Over the cap: answer RESOURCE_EXHAUSTED without waiting for anything
 * (cancel_with_status does not block), so a flood costs no thread. */
static bool refuse_if_full(struct runm_rpc_server *srv, struct runm_rpc_call *c)
{
  char why[128];
  bool full;

  pthread_mutex_lock(&srv->lock);
  full = srv->max_calls > 0 && srv->n_active >= srv->max_calls;
  pthread_mutex_unlock(&srv->lock);
  if (!full) return false;
  snprintf(why, sizeof(why), "too many calls in flight (limit %d)", srv->max_calls);
  grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED, why, NULL);
  call_free(c);
  return true;
}

static void *accept_thread(void *arg)
{
  struct runm_rpc_server *srv = arg;

  for (;;) {
    grpc_event ev = grpc_completion_queue_next(srv->cq, forever(), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &shutdown_tag) {
      pthread_mutex_lock(&srv->lock);
      srv->shutdown_seen = true;
      pthread_cond_broadcast(&srv->idle);
      pthread_mutex_unlock(&srv->lock);
      continue;
    }
    struct runm_rpc_call *c = ev.tag;
    if (!ev.success) {
      call_free(c); /* server shutting down */
      continue;
    }
    pthread_mutex_lock(&srv->lock);
    bool stopping = srv->shutting_down;
    pthread_mutex_unlock(&srv->lock);
    if (!stopping) {
      cleanup_error runm_error_t err = NULL;
      /* If re-arming fails the server stops accepting; nothing better to do
       * than keep answering the calls it has. */
      post_request(srv, &err);
    }
    if (refuse_if_full(srv, c)) continue;
    start_call(srv, c);
  }
  return NULL;
}

struct runm_rpc_server *runm_rpc_server_new(const struct runm_rpc_server_config *cfg,
                                            runm_error_t *err)
{
  struct runm_rpc_server *srv = calloc(1, sizeof(*srv));
  grpc_arg args[2];
  grpc_channel_args ch_args = {.num_args = 2, .args = args};

  if (srv == NULL) {
    runm_make_error(err, ENOMEM, "allocate server");
    return NULL;
  }
  grpc_init();
  srv->cfg = *cfg;
  srv->max_calls = cfg->max_calls == 0 ? RUNM_RPC_DEFAULT_MAX_CALLS : cfg->max_calls;
  srv->client_timeout_ms =
      cfg->client_timeout_ms == 0 ? RUNM_RPC_DEFAULT_CLIENT_TIMEOUT_MS : cfg->client_timeout_ms;
  pthread_mutex_init(&srv->lock, NULL);
  pthread_cond_init(&srv->idle, NULL);
  runm_thread_cache_init(&srv->workers, RUNM_RPC_IDLE_THREADS, RUNM_RPC_IDLE_THREAD_MS);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = RUNM_RPC_MAX_MESSAGE;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = RUNM_RPC_MAX_MESSAGE;
  srv->server = grpc_server_create(&ch_args, NULL);
  srv->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
  return srv;
}

int runm_rpc_server_listen_unix(struct runm_rpc_server *srv, const char *path, runm_error_t *err)
{
  cleanup_free char *addr = NULL;
  grpc_server_credentials *creds;
  struct stat st;
  int port;

  /* gRPC silently unlinks a stale socket; runm refuses to take over a path. */
  if (lstat(path, &st) == 0)
    return runm_make_error(err, EEXIST, "socket path `%s` already exists", path);
  if (asprintf(&addr, "unix:%s", path) < 0) return runm_make_error(err, ENOMEM, "listen");
  creds = grpc_insecure_server_credentials_create();
  port = grpc_server_add_http2_port(srv->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) return runm_make_error(err, EADDRNOTAVAIL, "cannot listen on `%s`", path);
  if (chmod(path, 0600) < 0) return runm_make_error(err, errno, "chmod `%s`", path);
  free(srv->unix_path);
  srv->unix_path = strdup(path);
  return 0;
}

int runm_rpc_server_start(struct runm_rpc_server *srv, runm_error_t *err)
{
  grpc_server_start(srv->server);
  if (post_request(srv, err) < 0) return -1;
  if (pthread_create(&srv->thread, NULL, accept_thread, srv) != 0)
    return runm_make_error(err, EAGAIN, "start rpc accept thread");
  srv->started = true;
  return 0;
}

void runm_rpc_server_free(struct runm_rpc_server *srv)
{
  if (srv == NULL) return;
  pthread_mutex_lock(&srv->lock);
  srv->shutting_down = true;
  pthread_mutex_unlock(&srv->lock);
  grpc_server_shutdown_and_notify(srv->server, srv->cq, &shutdown_tag);
  grpc_server_cancel_all_calls(srv->server);
  if (srv->started) {
    /* Once the accept thread has seen the shutdown tag no new call can start,
     * so the count of active calls only goes down. */
    pthread_mutex_lock(&srv->lock);
    while (!srv->shutdown_seen || srv->n_active > 0) pthread_cond_wait(&srv->idle, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
  } else {
    for (;;) {
      grpc_event ev = grpc_completion_queue_next(srv->cq, forever(), NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN || ev.tag == &shutdown_tag) break;
      if (ev.type == GRPC_OP_COMPLETE && ev.tag) call_free(ev.tag);
    }
  }
  grpc_server_destroy(srv->server);
  grpc_completion_queue_shutdown(srv->cq);
  if (srv->started)
    pthread_join(srv->thread, NULL);
  else
    while (grpc_completion_queue_next(srv->cq, forever(), NULL).type != GRPC_QUEUE_SHUTDOWN) {
      /* drain */
    }
  grpc_completion_queue_destroy(srv->cq);
  if (srv->unix_path) unlink(srv->unix_path);
  free(srv->unix_path);
  runm_thread_cache_destroy(&srv->workers); /* no call is left: only idle threads */
  pthread_mutex_destroy(&srv->lock);
  pthread_cond_destroy(&srv->idle);
  free(srv);
  grpc_shutdown();
}

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
#include "rpc_server_priv.h"
#include "thread_cache.h"

static int shutdown_tag;

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
    rpc_call_free(c);
    return runm_make_error(err, EIO, "grpc_server_request_call failed (%d)", e);
  }
  return 0;
}
static void finish_error(struct runm_rpc_call *c, runm_error_t *err)
{
  cleanup_free char *msg = runm_error_string(*err);
  rpc_call_finish(c, (grpc_status_code)runm_rpc_code_from_errno((*err)->status), msg, NULL);
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
  bool ok = rpc_call_run_batch_client(c, ops, n, &c->recv_tag, c->srv->client_timeout_ms);
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
      rpc_call_finish(c, GRPC_STATUS_OK, "", NULL);
    return;
  }
  if (m == NULL) {
    cleanup_free char *msg = NULL;
    if (asprintf(&msg, "unknown method %s", c->method_name) < 0) msg = NULL;
    rpc_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, msg ? msg : "unknown method", NULL);
    return;
  }
  if (m->kind != RUNM_RPC_BIDI) {
    if (recv_request(c, &req, &err) < 0) {
      /* A timed-out call is already cancelled with its status. */
      if (err->status != ECANCELED) finish_error(c, &err);
      else rpc_call_finish(c, GRPC_STATUS_CANCELLED, "cancelled", NULL);
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
        rpc_call_finish(c, GRPC_STATUS_INTERNAL, "handler produced no response", NULL);
      else
        rpc_call_finish(c, GRPC_STATUS_OK, "", bb);
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
      rpc_call_finish(c, GRPC_STATUS_OK, "", NULL);
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
  rpc_call_free(c);
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
    rpc_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot start a thread for the call", NULL);
    rpc_call_free(c);
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
  rpc_call_free(c);
  return true;
}

static void *accept_thread(void *arg)
{
  struct runm_rpc_server *srv = arg;

  for (;;) {
    grpc_event ev = grpc_completion_queue_next(srv->cq, rpc_forever(), NULL);
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
      rpc_call_free(c); /* server shutting down */
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
      grpc_event ev = grpc_completion_queue_next(srv->cq, rpc_forever(), NULL);
      if (ev.type == GRPC_QUEUE_SHUTDOWN || ev.tag == &shutdown_tag) break;
      if (ev.type == GRPC_OP_COMPLETE && ev.tag) rpc_call_free(ev.tag);
    }
  }
  grpc_server_destroy(srv->server);
  grpc_completion_queue_shutdown(srv->cq);
  if (srv->started)
    pthread_join(srv->thread, NULL);
  else
    while (grpc_completion_queue_next(srv->cq, rpc_forever(), NULL).type != GRPC_QUEUE_SHUTDOWN) {
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

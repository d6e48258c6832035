/* ttrpc server, the call side: dispatch of each request to its handler on
 * a thread of its own, responses, deadlines and cancellation, start and
 * graceful shutdown. Sockets and frames are in ttrpc_conn.c. */
#include <errno.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "ttrpc.h"
#include "ttrpc_internal.h"

/* ---- time ---- */

static struct timespec mono_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
  if (a->tv_sec != b->tv_sec) return a->tv_sec < b->tv_sec ? -1 : 1;
  if (a->tv_nsec != b->tv_nsec) return a->tv_nsec < b->tv_nsec ? -1 : 1;
  return 0;
}

static struct timespec ts_add_ns(struct timespec t, int64_t ns)
{
  t.tv_sec += ns / 1000000000LL;
  t.tv_nsec += ns % 1000000000LL;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

/* ---- calls: accessors and cancellation ---- */

const char *runm_ttrpc_call_service(const struct runm_ttrpc_call *c)
{
  return c->req->service;
}

const char *runm_ttrpc_call_method(const struct runm_ttrpc_call *c)
{
  return c->req->method;
}

const char *runm_ttrpc_call_metadata(const struct runm_ttrpc_call *c, const char *key)
{
  for (size_t i = 0; i < c->req->n_metadata; i++) {
    const Ttrpc__KeyValue *kv = c->req->metadata[i];
    if (kv->key && kv->value && strcmp(kv->key, key) == 0) return kv->value;
  }
  return NULL;
}

const char *runm_ttrpc_call_namespace(const struct runm_ttrpc_call *c)
{
  return runm_ttrpc_call_metadata(c, RUNM_TTRPC_NAMESPACE_KEY);
}

bool runm_ttrpc_call_deadline(const struct runm_ttrpc_call *c, struct timespec *deadline)
{
  if (!c->has_deadline) return false;
  *deadline = c->deadline;
  return true;
}

int64_t runm_ttrpc_call_timeout_ms(const struct runm_ttrpc_call *c)
{
  struct timespec now = mono_now();
  int64_t ms;

  if (!c->has_deadline) return -1;
  if (ts_cmp(&c->deadline, &now) <= 0) return 0;
  ms = (int64_t)(c->deadline.tv_sec - now.tv_sec) * 1000 +
       (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
  return ms > 0 ? ms : 1; /* under a millisecond left is not "expired" */
}

bool runm_ttrpc_call_cancelled(struct runm_ttrpc_call *c)
{
  bool r;
  pthread_mutex_lock(&c->hook_lock);
  r = c->cancelled;
  pthread_mutex_unlock(&c->hook_lock);
  return r;
}

void runm_ttrpc_call_on_cancel(struct runm_ttrpc_call *c, void (*fn)(void *), void *arg)
{
  pthread_mutex_lock(&c->hook_lock);
  c->hook = fn;
  c->hook_arg = arg;
  /* The hook runs under hook_lock, so once this returns with fn == NULL the
   * old hook is not running and will not run. */
  if (fn && c->cancelled) fn(arg);
  pthread_mutex_unlock(&c->hook_lock);
}

void runm_ttrpc_call_cancel(struct runm_ttrpc_call *c)
{
  pthread_mutex_lock(&c->hook_lock);
  if (!c->cancelled) {
    c->cancelled = true;
    if (c->hook) c->hook(c->hook_arg);
  }
  pthread_mutex_unlock(&c->hook_lock);
}

static void call_free(struct runm_ttrpc_call *c)
{
  if (c == NULL) return;
  if (c->msg) protobuf_c_message_free_unpacked(c->msg, NULL);
  if (c->req) ttrpc__request__free_unpacked(c->req, NULL);
  pthread_mutex_destroy(&c->hook_lock);
  free(c);
}

/* ---- responses ---- */

/* Sends one Response frame. A failed write marks the connection broken and
 * shuts the socket down, which also ends its reader. */
static void send_response(struct runm_ttrpc_conn *cn, uint32_t stream_id, int code,
                          const char *message, const ProtobufCMessage *msg)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free uint8_t *buf = NULL;
  struct runm_ttrpc_header h = {.stream_id = stream_id, .type = RUNM_TTRPC_RESPONSE};
  size_t len;

  if (runm_ttrpc_response_pack(code, message, msg, &buf, &len, &err) < 0) {
    /* Only a handler's response can be too large; say so instead. */
    cleanup_free char *why = runm_error_string(err);
    runm_error_release(&err);
    if (runm_ttrpc_response_pack(GRPC_STATUS_RESOURCE_EXHAUSTED, why, NULL, &buf, &len, &err) < 0)
      return;
  }
  h.length = (uint32_t)len;
  pthread_mutex_lock(&cn->write_lock);
  if (!cn->broken && runm_ttrpc_write_frame(cn->fd, &h, buf, TTRPC_SEND_TIMEOUT_MS, &err) < 0) {
    cn->broken = true;
    shutdown(cn->fd, SHUT_RDWR);
  }
  pthread_mutex_unlock(&cn->write_lock);
}

void runm_ttrpc_send_status(struct runm_ttrpc_conn *cn, uint32_t stream_id, int code,
                            const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  send_response(cn, stream_id, code, msg ? msg : runm_rpc_code_name(code), NULL);
}

/* ---- the call thread ---- */

/* The status details for a handler's error: its message, and the errno's
 * text unless the message already ends with it in any case (runc's
 * lowercase "no such file or directory" relayed from the guest). */
static char *status_text(const runm_error_t err)
{
  const char *e;
  size_t ml, el;

  if (err == NULL) return strdup("handler failed");
  if (err->status <= 0 || err->msg == NULL) return runm_error_string(err);
  e = strerror(err->status);
  ml = strlen(err->msg);
  el = strlen(e);
  if (ml >= el && strcasecmp(err->msg + ml - el, e) == 0) return strdup(err->msg);
  return runm_error_string(err);
}

/* The call this thread's handler serves (each call has its own thread), for
 * code below a handler that was not handed the call: the shim's guest()
 * passes containerd's deadline on without every Task method carrying it.
 * Per thread, like errno; NULL outside a handler. */
static __thread struct runm_ttrpc_call *current_call;

int64_t runm_ttrpc_current_timeout_ms(void)
{
  return current_call ? runm_ttrpc_call_timeout_ms(current_call) : -1;
}

static void *call_thread(void *arg)
{
  struct runm_ttrpc_call *c = arg;
  struct runm_ttrpc_conn *cn = c->conn;
  struct runm_ttrpc_server *srv = cn->srv;
  cleanup_error runm_error_t err = NULL;
  ProtobufCMessage *resp = NULL;
  int ret;

  current_call = c;
  ret = c->method->handler(srv->cfg.opaque, c, c->msg, &resp, &err);
  current_call = NULL;
  if (ret < 0) {
    cleanup_free char *msg = status_text(err);
    send_response(cn, c->stream_id, runm_rpc_code_from_errno(err ? err->status : 0),
                  msg ? msg : "handler failed", NULL);
  } else {
    send_response(cn, c->stream_id, GRPC_STATUS_OK, "", resp);
  }
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);

  pthread_mutex_lock(&srv->lock);
  for (struct runm_ttrpc_call **pp = &srv->calls; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  srv->n_calls--;
  cn->n_calls--;
  pthread_cond_broadcast(&srv->changed);
  pthread_mutex_unlock(&srv->lock);
  call_free(c);
  return NULL;
}

static const struct runm_ttrpc_method *lookup(const struct runm_ttrpc_server *srv,
                                              const Ttrpc__Request *req, bool *service_known)
{
  *service_known = false;
  for (size_t i = 0; i < srv->cfg.n_methods; i++) {
    const struct runm_ttrpc_method *m = &srv->cfg.methods[i];
    if (strcmp(m->service, req->service) != 0) continue;
    *service_known = true;
    if (strcmp(m->method, req->method) == 0) return m;
  }
  return NULL;
}

/* Answers one request frame: an error status right here, or a call thread
 * that will answer. The payload stays owned by the caller. */
void runm_ttrpc_handle_request(struct runm_ttrpc_conn *cn, uint32_t id, const uint8_t *payload,
                               size_t len)
{
  struct runm_ttrpc_server *srv = cn->srv;
  cleanup_error runm_error_t err = NULL;
  struct runm_ttrpc_call *c;
  unsigned max_calls = srv->cfg.max_calls ? srv->cfg.max_calls : TTRPC_DEFAULT_MAX_CALLS;
  bool service_known, limited;
  pthread_attr_t attr;
  pthread_t t;
  int ret;

  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    runm_ttrpc_send_status(cn, id, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  pthread_mutex_init(&c->hook_lock, NULL);
  c->conn = cn;
  c->stream_id = id;
  if (runm_ttrpc_request_unpack(payload, len, &c->req, &err) < 0) {
    cleanup_free char *msg = runm_error_string(err);
    runm_ttrpc_send_status(cn, id, GRPC_STATUS_INVALID_ARGUMENT, "%s",
                           msg ? msg : "malformed request");
    call_free(c);
    return;
  }
  c->method = lookup(srv, c->req, &service_known);
  if (c->method == NULL) {
    if (service_known)
      runm_ttrpc_send_status(cn, id, GRPC_STATUS_UNIMPLEMENTED, "%s: unknown method %s",
                             c->req->service, c->req->method);
    else
      runm_ttrpc_send_status(cn, id, GRPC_STATUS_UNIMPLEMENTED, "unknown service %s",
                             c->req->service);
    call_free(c);
    return;
  }
  if (runm_ttrpc_message_unpack(c->method->request, c->req->payload.data, c->req->payload.len,
                                &c->msg, &err) < 0) {
    runm_ttrpc_send_status(cn, id, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s: malformed %s",
                           c->req->service, c->req->method, c->method->request->name);
    call_free(c);
    return;
  }
  if (c->req->timeout_nano != 0) {
    /* Relative to receipt, as containerd's server counts it. A negative
     * timeout has already expired. */
    int64_t ns = c->req->timeout_nano;
    if (ns < 0) ns = 0;
    if (ns > TTRPC_MAX_TIMEOUT_NANO) ns = TTRPC_MAX_TIMEOUT_NANO;
    c->has_deadline = true;
    c->deadline = ts_add_ns(mono_now(), ns);
  }

  pthread_mutex_lock(&srv->lock);
  limited = cn->n_calls >= max_calls;
  if (!limited) {
    cn->n_calls++;
    srv->n_calls++;
    c->next = srv->calls;
    srv->calls = c;
    if (c->has_deadline) pthread_cond_signal(&srv->timer);
  }
  pthread_mutex_unlock(&srv->lock);
  if (limited) {
    runm_ttrpc_send_status(cn, id, GRPC_STATUS_RESOURCE_EXHAUSTED, "more than %u calls in flight",
                           max_calls);
    call_free(c);
    return;
  }

  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ret = pthread_create(&t, &attr, call_thread, c);
  pthread_attr_destroy(&attr);
  if (ret != 0) {
    pthread_mutex_lock(&srv->lock);
    for (struct runm_ttrpc_call **pp = &srv->calls; *pp; pp = &(*pp)->next) {
      if (*pp == c) {
        *pp = c->next;
        break;
      }
    }
    cn->n_calls--;
    srv->n_calls--;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
    runm_ttrpc_send_status(cn, id, GRPC_STATUS_RESOURCE_EXHAUSTED,
                           "cannot start a thread for the call");
    call_free(c);
  }
}

/* ---- deadlines ---- */

static void *timer_thread(void *arg)
{
  struct runm_ttrpc_server *srv = arg;

  pthread_mutex_lock(&srv->lock);
  while (!srv->timer_stop) {
    struct timespec now = mono_now(), next = {0, 0};
    bool have_next = false;

    for (struct runm_ttrpc_call *c = srv->calls; c; c = c->next) {
      if (!c->has_deadline || c->deadline_fired) continue;
      if (ts_cmp(&c->deadline, &now) <= 0) {
        c->deadline_fired = true;
        runm_ttrpc_call_cancel(c);
      } else if (!have_next || ts_cmp(&c->deadline, &next) < 0) {
        next = c->deadline;
        have_next = true;
      }
    }
    if (have_next)
      pthread_cond_timedwait(&srv->timer, &srv->lock, &next);
    else
      pthread_cond_wait(&srv->timer, &srv->lock);
  }
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

/* ---- lifecycle ---- */

struct runm_ttrpc_server *runm_ttrpc_server_new(const struct runm_ttrpc_server_config *cfg,
                                                runm_error_t *err)
{
  struct runm_ttrpc_server *srv = calloc(1, sizeof(*srv));
  pthread_condattr_t ca;

  if (srv == NULL) {
    runm_make_error(err, ENOMEM, "allocate ttrpc server");
    return NULL;
  }
  srv->cfg = *cfg;
  srv->listen_fd = -1;
  srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (srv->wake_fd < 0) {
    runm_make_error(err, errno, "eventfd");
    free(srv);
    return NULL;
  }
  pthread_mutex_init(&srv->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&srv->changed, &ca);
  pthread_cond_init(&srv->timer, &ca);
  pthread_condattr_destroy(&ca);
  return srv;
}

int runm_ttrpc_server_start(struct runm_ttrpc_server *srv, runm_error_t *err)
{
  int ret;

  if (srv->timing || srv->shut_down) return runm_make_error(err, EBUSY, "ttrpc server started");
  ret = pthread_create(&srv->timer_thread, NULL, timer_thread, srv);
  if (ret != 0) return runm_make_error(err, ret, "start the ttrpc timer thread");
  srv->timing = true;
  if (srv->listen_fd >= 0) {
    ret = pthread_create(&srv->accept_thread, NULL, runm_ttrpc_accept_thread, srv);
    if (ret != 0) return runm_make_error(err, ret, "start the ttrpc accept thread");
    srv->accepting = true;
  }
  return 0;
}

void runm_ttrpc_server_shutdown(struct runm_ttrpc_server *srv, int64_t grace_ms)
{
  uint64_t one = 1;
  struct timespec until = ts_add_ns(mono_now(), grace_ms > 0 ? grace_ms * 1000000 : 0);

  if (srv->shut_down) return;
  srv->shut_down = true;
  pthread_mutex_lock(&srv->lock);
  srv->stopping = true;
  pthread_mutex_unlock(&srv->lock);
  /* Wakes the accept thread and every reader at once; they stop taking
   * connections and requests. An eventfd write of 1 cannot fail short of
   * overflow, which a single write cannot reach. */
  if (write(srv->wake_fd, &one, sizeof(one)) < 0) {
    /* Nothing else would wake them; closing the sockets would. */
    pthread_mutex_lock(&srv->lock);
    for (struct runm_ttrpc_conn *cn = srv->conns; cn; cn = cn->next) shutdown(cn->fd, SHUT_RD);
    pthread_mutex_unlock(&srv->lock);
    if (srv->listen_fd >= 0) shutdown(srv->listen_fd, SHUT_RDWR);
  }
  if (srv->accepting) pthread_join(srv->accept_thread, NULL);
  srv->accepting = false;
  if (srv->listen_fd >= 0) close(srv->listen_fd);
  srv->listen_fd = -1;
  if (srv->unix_path) unlink(srv->unix_path);

  pthread_mutex_lock(&srv->lock);
  while (srv->n_calls > 0 && grace_ms != 0) {
    if (grace_ms < 0) {
      pthread_cond_wait(&srv->changed, &srv->lock);
    } else if (pthread_cond_timedwait(&srv->changed, &srv->lock, &until) == ETIMEDOUT) {
      break;
    }
  }
  for (struct runm_ttrpc_call *c = srv->calls; c; c = c->next) runm_ttrpc_call_cancel(c);
  /* Readers close their connection once its calls have answered. */
  while (srv->n_conns > 0) pthread_cond_wait(&srv->changed, &srv->lock);
  srv->timer_stop = true;
  pthread_cond_signal(&srv->timer);
  pthread_mutex_unlock(&srv->lock);
  if (srv->timing) pthread_join(srv->timer_thread, NULL);
  srv->timing = false;
}

void runm_ttrpc_server_free(struct runm_ttrpc_server *srv)
{
  if (srv == NULL) return;
  runm_ttrpc_server_shutdown(srv, 0);
  close(srv->wake_fd);
  free(srv->unix_path);
  pthread_cond_destroy(&srv->changed);
  pthread_cond_destroy(&srv->timer);
  pthread_mutex_destroy(&srv->lock);
  free(srv);
}


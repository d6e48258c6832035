/* The rpc layer end to end in one process: a server on a temp unix socket,
 * a client calling it; statuses, limits and shutdown. */
#include <errno.h>
#include <pthread.h>
#include <grpc/status.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"
#include "tap.h"

static int ping(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                ProtobufCMessage **resp, runm_error_t *err)
{
  const Runm__V1__PingRequest *r = (const Runm__V1__PingRequest *)req;
  Runm__V1__PingResponse *out;
  int *count = opaque;

  if (r->data.len == 4 && memcmp(r->data.data, "gone", 4) == 0)
    return runm_make_error(err, ENOENT, "container `gone` not found");
  out = malloc(sizeof(*out));
  runm__v1__ping_response__init(out);
  out->data.data = malloc(r->data.len + 1);
  memcpy(out->data.data, r->data.data, r->data.len);
  out->data.len = r->data.len;
  out->realtime_ns = 42;
  __atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
  *resp = &out->base;
  return 0;
}

/* Server stream: `since` + 1 .. `since` + 5. */
static int events(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                  runm_error_t *err)
{
  const Runm__V1__EventsRequest *r = (const Runm__V1__EventsRequest *)req;
  for (uint64_t i = 1; i <= 5; i++) {
    Runm__V1__Event ev = RUNM__V1__EVENT__INIT;
    Runm__V1__OomEvent oom = RUNM__V1__OOM_EVENT__INIT;
    ev.seq = r->since + i;
    ev.kind_case = RUNM__V1__EVENT__KIND_OOM;
    oom.id = "c1";
    ev.oom = &oom;
    if (runm_rpc_call_send(call, &ev.base, err) < 0) return -1;
  }
  return 0;
}

/* Bidi: stdin comes back as stdout, upper-cased; close_stdin ends it. */
static int stdio(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                 runm_error_t *err)
{
  for (;;) {
    ProtobufCMessage *m = NULL;
    int r = runm_rpc_call_recv(call, &m, err);
    if (r < 0) return r;
    if (r == 0) break;
    Runm__V1__StdioIn *in = (Runm__V1__StdioIn *)m;
    Runm__V1__StdioOut out = RUNM__V1__STDIO_OUT__INIT;
    bool close = in->close_stdin;
    for (size_t i = 0; i < in->stdin.len; i++)
      if (in->stdin.data[i] >= 'a' && in->stdin.data[i] <= 'z') in->stdin.data[i] -= 32;
    out.stdout = in->stdin;
    if (close) {
      out.exited = true;
      out.exit_status = 7;
    }
    r = runm_rpc_call_send(call, &out.base, err);
    protobuf_c_message_free_unpacked(m, NULL);
    if (r < 0) return r;
    if (close) break;
  }
  return 0;
}

struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool woken;
};

static void wake(void *arg)
{
  struct waiter *w = arg;
  pthread_mutex_lock(&w->lock);
  w->woken = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

static int cancelled_waits;

/* Unary that blocks until the client goes away. */
static int wait_forever(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, runm_error_t *err)
{
  struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
  runm_rpc_call_on_cancel(call, wake, &w);
  pthread_mutex_lock(&w.lock);
  while (!w.woken) pthread_cond_wait(&w.cond, &w.lock);
  pthread_mutex_unlock(&w.lock);
  runm_rpc_call_on_cancel(call, NULL, NULL);
  if (runm_rpc_call_cancelled(call)) __atomic_add_fetch(&cancelled_waits, 1, __ATOMIC_SEQ_CST);
  return runm_make_error(err, ECANCELED, "cancelled");
}

static const struct runm_rpc_method methods[] = {
    {.name = "/runm.v1.Guest/Ping",
     .kind = RUNM_RPC_UNARY,
     .request = &runm__v1__ping_request__descriptor,
     .response = &runm__v1__ping_response__descriptor,
     .unary = ping},
    {.name = "/runm.v1.Guest/Events",
     .kind = RUNM_RPC_SERVER_STREAM,
     .request = &runm__v1__events_request__descriptor,
     .response = &runm__v1__event__descriptor,
     .stream = events},
    {.name = "/runm.v1.Guest/Stdio",
     .kind = RUNM_RPC_BIDI,
     .request = &runm__v1__stdio_in__descriptor,
     .response = &runm__v1__stdio_out__descriptor,
     .stream = stdio},
    {.name = "/runm.v1.Guest/Wait",
     .kind = RUNM_RPC_UNARY,
     .request = &runm__v1__wait_request__descriptor,
     .response = &runm__v1__wait_response__descriptor,
     .unary = wait_forever},
};

static int call_ping(struct runm_rpc_client *cl, const char *method, const void *data, size_t len,
                     Runm__V1__PingResponse **out, runm_error_t *err)
{
  Runm__V1__PingRequest req = RUNM__V1__PING_REQUEST__INIT;
  req.data.data = (uint8_t *)data;
  req.data.len = len;
  return runm_rpc_client_unary(cl, method, &req.base, &runm__v1__ping_response__descriptor,
                               (ProtobufCMessage **)out, 5000, false, err);
}

int main(void)
{
  char dir[] = "/tmp/runm-test-rpc.XXXXXX";
  cleanup_free char *sock = NULL, *target = NULL;
  int count = 0, good = 0;
  struct runm_rpc_server_config cfg = {.methods = methods, .n_methods = 4, .opaque = &count};
  runm_error_t err = NULL;
  Runm__V1__PingResponse *resp = NULL;
  struct stat st;

  ok(mkdtemp(dir) != NULL, "temp dir");
  if (asprintf(&sock, "%s/rpc.sock", dir) < 0 || asprintf(&target, "unix:%s", sock) < 0) abort();

  struct runm_rpc_server *srv = runm_rpc_server_new(&cfg, &err);
  ok(srv != NULL, "server created");
  is_int(runm_rpc_server_listen_unix(srv, sock, &err), 0, "listen on unix socket");
  ok(stat(sock, &st) == 0 && (st.st_mode & 0777) == 0600, "socket is mode 0600");
  is_int(runm_rpc_server_start(srv, &err), 0, "server started");

  struct runm_rpc_client *cl = runm_rpc_client_new(target, -1, &err);
  ok(cl != NULL, "client created");
  for (int i = 0; i < 100; i++) {
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "ping-%d", i);
    if (call_ping(cl, "/runm.v1.Guest/Ping", buf, n, &resp, &err) == 0 && resp &&
        resp->data.len == (size_t)n && memcmp(resp->data.data, buf, n) == 0 &&
        resp->realtime_ns == 42)
      good++;
    if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
    resp = NULL;
    runm_error_release(&err);
  }
  is_int(good, 100, "100 pings echo their data");
  is_int(count, 100, "handler ran 100 times");

  int ret = call_ping(cl, "/runm.v1.Guest/Ping", "gone", 4, &resp, &err);
  ok(ret < 0 && err && err->status == ENOENT, "handler ENOENT arrives as NOT_FOUND");
  ok(err && strstr(err->msg, "NOT_FOUND") && strstr(err->msg, "container `gone` not found"),
     "status details carry the handler's message");
  runm_error_release(&err);

  ret = call_ping(cl, "/runm.v1.Guest/Nope", "x", 1, &resp, &err);
  ok(ret < 0 && err && err->status == ENOSYS && strstr(err->msg, "UNIMPLEMENTED"),
     "unknown method is UNIMPLEMENTED");
  runm_error_release(&err);

  size_t big = RUNM_RPC_MAX_MESSAGE + 1024;
  cleanup_free char *bigbuf = calloc(1, big);
  ret = call_ping(cl, "/runm.v1.Guest/Ping", bigbuf, big, &resp, &err);
  ok(ret < 0 && err && err->status == EMSGSIZE, "oversized request is RESOURCE_EXHAUSTED");
  runm_error_release(&err);

  ret = call_ping(cl, "/runm.v1.Guest/Ping", "after", 5, &resp, &err);
  ok(ret == 0, "server still serves after bad calls");
  if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
  resp = NULL;

  /* server streaming */
  {
    Runm__V1__EventsRequest er = RUNM__V1__EVENTS_REQUEST__INIT;
    er.since = 10;
    struct runm_rpc_stream *sm = runm_rpc_stream_open(cl, "/runm.v1.Guest/Events", &er.base,
                                                      &runm__v1__event__descriptor, 5000, &err);
    uint64_t want = 11;
    int r, n = 0, inorder = 1;
    ProtobufCMessage *m;
    ok(sm != NULL, "events stream opens");
    while (sm && (r = runm_rpc_stream_recv(sm, &m, &err)) == 1) {
      Runm__V1__Event *ev = (Runm__V1__Event *)m;
      if (ev->seq != want++ || ev->kind_case != RUNM__V1__EVENT__KIND_OOM) inorder = 0;
      n++;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    is_int(n, 5, "five events received");
    ok(inorder, "events arrive in order");
    ok(sm && r == 0, "stream ends with OK");
    runm_rpc_stream_free(sm);
  }

  /* bidirectional */
  {
    struct runm_rpc_stream *sm = runm_rpc_stream_open(cl, "/runm.v1.Guest/Stdio", NULL,
                                                      &runm__v1__stdio_out__descriptor, 5000, &err);
    Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
    ProtobufCMessage *m = NULL;
    int good_echo = 0, exited = 0;
    ok(sm != NULL, "stdio stream opens");
    in.id = "c1";
    in.stdin.data = (uint8_t *)"hello";
    in.stdin.len = 5;
    ok(runm_rpc_stream_send(sm, &in.base, &err) == 0, "send stdin");
    if (runm_rpc_stream_recv(sm, &m, &err) == 1) {
      Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
      good_echo = o->stdout.len == 5 && memcmp(o->stdout.data, "HELLO", 5) == 0;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    ok(good_echo, "bidi echo comes back");
    in.stdin.len = 0;
    in.close_stdin = true;
    runm_rpc_stream_send(sm, &in.base, &err);
    if (runm_rpc_stream_recv(sm, &m, &err) == 1) {
      Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
      exited = o->exited && o->exit_status == 7;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    ok(exited, "close_stdin yields the exit message");
    runm_rpc_stream_close_send(sm, &err);
    ok(runm_rpc_stream_recv(sm, &m, &err) == 0, "bidi stream ends with OK");
    runm_rpc_stream_free(sm);
  }

  /* a blocked handler learns that its client went away */
  {
    Runm__V1__WaitRequest wr = RUNM__V1__WAIT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    wr.id = "c1";
    ret = runm_rpc_client_unary(cl, "/runm.v1.Guest/Wait", &wr.base,
                                &runm__v1__wait_response__descriptor, &m, 300, false, &err);
    ok(ret < 0 && err && err->status == ETIMEDOUT, "blocked call hits its deadline");
    runm_error_release(&err);
    for (int i = 0; i < 200 && __atomic_load_n(&cancelled_waits, __ATOMIC_SEQ_CST) == 0; i++)
      usleep(10000);
    is_int(__atomic_load_n(&cancelled_waits, __ATOMIC_SEQ_CST), 1,
           "the handler was woken by the cancel hook");
  }

  /* The transparent proxy: a second server forwarding everything to the
   * first through one client connection. */
  {
    cleanup_free char *psock = NULL, *ptarget = NULL;
    if (asprintf(&psock, "%s/proxy.sock", dir) < 0 || asprintf(&ptarget, "unix:%s", psock) < 0)
      abort();
    struct runm_rpc_server_config pcfg = {.fallback = runm_rpc_proxy_handler, .opaque = cl};
    struct runm_rpc_server *ps = runm_rpc_server_new(&pcfg, &err);
    ok(ps && runm_rpc_server_listen_unix(ps, psock, &err) == 0 &&
           runm_rpc_server_start(ps, &err) == 0,
       "proxy server starts");
    struct runm_rpc_client *pc = runm_rpc_client_new(ptarget, -1, &err);
    int good_p = 0;
    for (int i = 0; i < 20; i++) {
      if (call_ping(pc, "/runm.v1.Guest/Ping", "via", 3, &resp, &err) == 0 && resp &&
          resp->data.len == 3 && memcmp(resp->data.data, "via", 3) == 0)
        good_p++;
      if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
      resp = NULL;
      runm_error_release(&err);
    }
    is_int(good_p, 20, "unary calls pass through the proxy");
    ret = call_ping(pc, "/runm.v1.Guest/Ping", "gone", 4, &resp, &err);
    ok(ret < 0 && err && err->status == ENOENT && strstr(err->msg, "container `gone` not found"),
       "status code and details pass through the proxy");
    runm_error_release(&err);
    ret = call_ping(pc, "/runm.v1.Guest/Nope", "x", 1, &resp, &err);
    ok(ret < 0 && err && err->status == ENOSYS, "UNIMPLEMENTED passes through the proxy");
    runm_error_release(&err);

    Runm__V1__EventsRequest er = RUNM__V1__EVENTS_REQUEST__INIT;
    struct runm_rpc_stream *sm = runm_rpc_stream_open(pc, "/runm.v1.Guest/Events", &er.base,
                                                      &runm__v1__event__descriptor, 5000, &err);
    ProtobufCMessage *m;
    int n = 0, r;
    while (sm && (r = runm_rpc_stream_recv(sm, &m, &err)) == 1) {
      n++;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    ok(n == 5 && r == 0, "server stream passes through the proxy");
    runm_rpc_stream_free(sm);

    sm = runm_rpc_stream_open(pc, "/runm.v1.Guest/Stdio", NULL, &runm__v1__stdio_out__descriptor,
                              5000, &err);
    Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
    int echo = 0;
    in.stdin.data = (uint8_t *)"abc";
    in.stdin.len = 3;
    in.close_stdin = true;
    runm_rpc_stream_send(sm, &in.base, &err);
    if (runm_rpc_stream_recv(sm, &m, &err) == 1) {
      Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
      echo = o->stdout.len == 3 && memcmp(o->stdout.data, "ABC", 3) == 0 && o->exited;
      protobuf_c_message_free_unpacked(m, NULL);
    }
    runm_rpc_stream_close_send(sm, &err);
    ok(echo && runm_rpc_stream_recv(sm, &m, &err) == 0, "bidi stream passes through the proxy");
    runm_rpc_stream_free(sm);

    /* A client that goes away mid-call through the proxy reaches the handler. */
    int before = __atomic_load_n(&cancelled_waits, __ATOMIC_SEQ_CST);
    Runm__V1__WaitRequest wr = RUNM__V1__WAIT_REQUEST__INIT;
    m = NULL;
    ret = runm_rpc_client_unary(pc, "/runm.v1.Guest/Wait", &wr.base,
                                &runm__v1__wait_response__descriptor, &m, 300, false, &err);
    runm_error_release(&err);
    for (int i = 0; i < 200 && __atomic_load_n(&cancelled_waits, __ATOMIC_SEQ_CST) == before; i++)
      usleep(10000);
    is_int(__atomic_load_n(&cancelled_waits, __ATOMIC_SEQ_CST), before + 1,
           "cancel through the proxy wakes the upstream handler");
    runm_rpc_client_free(pc);
    runm_rpc_server_free(ps);
  }

  runm_rpc_client_cancel_all(cl, "peer VM exited");
  ret = call_ping(cl, "/runm.v1.Guest/Ping", "x", 1, &resp, &err);
  ok(ret < 0 && err && strstr(err->msg, "peer VM exited"), "cancel_all fails later calls");
  runm_error_release(&err);
  runm_rpc_client_free(cl);

  struct runm_rpc_server *srv2 = runm_rpc_server_new(&cfg, &err);
  ok(runm_rpc_server_listen_unix(srv2, sock, &err) < 0 && err && err->status == EEXIST,
     "existing socket path is refused");
  runm_error_release(&err);
  runm_rpc_server_free(srv2);
  ok(access(sock, F_OK) == 0, "refused server did not remove the other's socket");

  runm_rpc_server_free(srv);
  ok(access(sock, F_OK) != 0, "socket removed at shutdown");
  rmdir(dir);
  return tap_done();
}

/* The rpc layer end to end in one process: a server on a temp unix socket,
 * a client calling it; statuses, limits and shutdown. */
#include <errno.h>
#include <grpc/status.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"
#include "tap.h"

static int ping(void *opaque, const ProtobufCMessage *req, ProtobufCMessage **resp,
                runm_error_t *err)
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

static const struct runm_rpc_method methods[] = {
    {.name = "/runm.v1.Guest/Ping",
     .kind = RUNM_RPC_UNARY,
     .request = &runm__v1__ping_request__descriptor,
     .response = &runm__v1__ping_response__descriptor,
     .unary = ping},
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
  struct runm_rpc_server_config cfg = {.methods = methods, .n_methods = 1, .opaque = &count};
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

/* The rpc layer against a hostile peer (issue 11): a client that opens calls
 * and never sends their request, one that floods calls, a server whose reply
 * decodes to far more memory than its bytes, and status details made to
 * forge log lines. Each check here fails on the code before the limits. */
#include <dirent.h>
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"
#include "tap.h"

static int ping(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                ProtobufCMessage **resp, runm_error_t *err)
{
  const Runm__V1__PingRequest *r = (const Runm__V1__PingRequest *)req;
  Runm__V1__PingResponse *out;

  /* "evil": an error whose text tries to start log lines of its own. */
  if (r->data.len == 4 && memcmp(r->data.data, "evil", 4) == 0) {
    cleanup_free char *tail = malloc(3001);
    memset(tail, 'x', 3000);
    tail[3000] = '\0';
    return runm_make_error(err, EINVAL,
                           "runc failed\ntime=\"0\" level=error msg=\"forged\"\r\x1b[2J\x01%s",
                           tail);
  }
  out = malloc(sizeof(*out));
  runm__v1__ping_response__init(out);
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

/* Raw server: answers any call with the bytes in opaque (a hostile guest
 * replying whatever it likes). */
struct raw_reply {
  const uint8_t *data;
  size_t len;
};

static int raw_handler(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                       runm_error_t *err)
{
  struct raw_reply *r = opaque;
  grpc_byte_buffer *bb = NULL;
  grpc_slice s;
  int ret;

  if (runm_rpc_call_recv_raw(call, &bb, err) < 0) return -1;
  if (bb) grpc_byte_buffer_destroy(bb);
  s = grpc_slice_from_copied_buffer((const char *)r->data, r->len);
  bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  ret = runm_rpc_call_send_raw(call, bb, err);
  grpc_byte_buffer_destroy(bb);
  return ret;
}

static int n_threads(void)
{
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static long vm_hwm_kib(void)
{
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long v = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld kB", &v) == 1) break;
  fclose(f);
  return v;
}

static struct runm_rpc_server *serve(const struct runm_rpc_server_config *cfg, const char *sock)
{
  runm_error_t err = NULL;
  struct runm_rpc_server *srv = runm_rpc_server_new(cfg, &err);
  if (srv == NULL || runm_rpc_server_listen_unix(srv, sock, &err) < 0 ||
      runm_rpc_server_start(srv, &err) < 0) {
    fprintf(stderr, "server: %s\n", err ? err->msg : "?");
    exit(1);
  }
  return srv;
}

static int call_ping(struct runm_rpc_client *cl, const char *data, runm_error_t *err)
{
  Runm__V1__PingRequest req = RUNM__V1__PING_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  int r;
  req.data.data = (uint8_t *)data;
  req.data.len = strlen(data);
  r = runm_rpc_client_unary(cl, "/runm.v1.Guest/Ping", &req.base,
                            &runm__v1__ping_response__descriptor, &resp, 10000, false, err);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return r;
}

/* A header-only call: the request is never sent. Its own deadline (15 s)
 * only keeps this test from hanging where the server has no limit. */
static struct runm_rpc_stream *hold(struct runm_rpc_client *cl)
{
  runm_error_t err = NULL;
  struct runm_rpc_stream *s = runm_rpc_stream_open(cl, "/runm.v1.Guest/Ping", NULL,
                                                   &runm__v1__ping_response__descriptor, 15000, &err);
  runm_error_release(&err);
  return s;
}

static void test_decode_budget(const char *dir)
{
  cleanup_free char *sock = NULL, *target = NULL;
  /* 4 MiB less a little of empty ProcessInfo entries (2 bytes each):
   * ~2 million submessages, ~64 bytes each once decoded. */
  size_t len = RUNM_RPC_MAX_MESSAGE - 64;
  cleanup_free uint8_t *hostile = malloc(len);
  struct raw_reply reply = {hostile, len};
  struct runm_rpc_server_config cfg = {.fallback = raw_handler, .opaque = &reply};
  runm_error_t err = NULL;
  ProtobufCMessage *resp = NULL;
  Runm__V1__PidsRequest req = RUNM__V1__PIDS_REQUEST__INIT;
  long before, after;
  int r;

  for (size_t i = 0; i + 1 < len; i += 2) {
    hostile[i] = 0x0a; /* field 1, length-delimited */
    hostile[i + 1] = 0x00;
  }
  if (asprintf(&sock, "%s/raw.sock", dir) < 0 || asprintf(&target, "unix:%s", sock) < 0) abort();
  struct runm_rpc_server *srv = serve(&cfg, sock);
  struct runm_rpc_client *cl = runm_rpc_client_new(target, -1, &err);

  before = vm_hwm_kib();
  r = runm_rpc_client_unary(cl, "/runm.v1.Guest/Pids", &req.base,
                            &runm__v1__pids_response__descriptor, &resp, 30000, false, &err);
  after = vm_hwm_kib();
  ok(r < 0 && err && err->status == EMSGSIZE && strstr(err->msg, "decodes to more than"),
     "a 4 MiB Pids reply of 2 million empty entries is refused (EMSGSIZE)");
  if (err) printf("# %s\n", err->msg);
  printf("# peak RSS grew by %ld KiB decoding it (limit %d MiB decoded)\n", after - before,
         RUNM_RPC_MAX_DECODED >> 20);
  ok(after - before < 48 * 1024, "decoding the hostile reply costs under 48 MiB of peak RSS");
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  resp = NULL;
  runm_error_release(&err);

  /* 20000 real entries (pid and exec id) still decode. */
  {
    Runm__V1__PidsResponse pr = RUNM__V1__PIDS_RESPONSE__INIT;
    size_t n = 20000;
    Runm__V1__ProcessInfo *pis = calloc(n, sizeof(*pis));
    Runm__V1__ProcessInfo **pp = calloc(n, sizeof(*pp));
    uint8_t *buf;
    for (size_t i = 0; i < n; i++) {
      runm__v1__process_info__init(&pis[i]);
      pis[i].pid = (uint32_t)i + 1;
      pis[i].exec_id = i % 2 ? "exec-1" : "";
      pp[i] = &pis[i];
    }
    pr.processes = pp;
    pr.n_processes = n;
    buf = malloc(protobuf_c_message_get_packed_size(&pr.base));
    reply.data = buf;
    reply.len = protobuf_c_message_pack(&pr.base, buf);
    r = runm_rpc_client_unary(cl, "/runm.v1.Guest/Pids", &req.base,
                              &runm__v1__pids_response__descriptor, &resp, 30000, false, &err);
    ok(r == 0 && resp && ((Runm__V1__PidsResponse *)resp)->n_processes == n &&
           ((Runm__V1__PidsResponse *)resp)->processes[n - 1]->pid == n,
       "a Pids reply of 20000 processes still decodes");
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    runm_error_release(&err);
    free(buf);
    free(pp);
    free(pis);
  }
  runm_rpc_client_free(cl);
  runm_rpc_server_free(srv);
}

static void count_call(void *opaque, const char *method)
{
  __atomic_add_fetch((int *)opaque, 1, __ATOMIC_SEQ_CST);
}

static void test_call_cap(const char *dir)
{
  cleanup_free char *sock = NULL, *target = NULL;
  int accepted = 0;
  struct runm_rpc_server_config cfg = {.methods = methods,
                                       .n_methods = 1,
                                       .opaque = &accepted,
                                       .on_call = count_call,
                                       .max_calls = 3,
                                       .client_timeout_ms = 3000};
  struct runm_rpc_stream *held[3];
  struct runm_rpc_client *hcl[3];
  runm_error_t err = NULL;
  ProtobufCMessage *m = NULL;
  int r, timed_out = 0;

  if (asprintf(&sock, "%s/cap.sock", dir) < 0 || asprintf(&target, "unix:%s", sock) < 0) abort();
  struct runm_rpc_server *srv = serve(&cfg, sock);
  struct runm_rpc_client *cl = runm_rpc_client_new(target, -1, &err);

  /* No call before these: a finished call keeps its slot until its thread
   * has cleaned up, a moment after the client has its answer. */
  /* Each on its own connection: gRPC's client may hold back the headers of
   * a stream that has no message yet behind other streams of its channel. */
  for (int i = 0; i < 3; i++) {
    hcl[i] = runm_rpc_client_new(target, -1, &err);
    held[i] = hold(hcl[i]);
  }
  /* All three in (on_call runs for accepted calls only), then the 4th. */
  for (int i = 0; i < 1000 && __atomic_load_n(&accepted, __ATOMIC_SEQ_CST) < 3; i++)
    usleep(10 * 1000);
  is_int(__atomic_load_n(&accepted, __ATOMIC_SEQ_CST), 3, "3 header-only calls are in");
  r = call_ping(cl, "hi", &err);
  ok(r < 0 && err && strstr(err->msg, "RESOURCE_EXHAUSTED") && strstr(err->msg, "limit 3"),
     "with 3 calls waiting for their request, a 4th is refused with RESOURCE_EXHAUSTED");
  if (err) printf("# %s\n", err->msg);
  runm_error_release(&err);
  /* The held calls end at the server's client timeout. */
  for (int i = 0; i < 3; i++) {
    r = held[i] ? runm_rpc_stream_recv(held[i], &m, &err) : 0;
    if (err) printf("# held %d: %s\n", i, err->msg);
    if (r < 0 && err && err->status == ETIMEDOUT && strstr(err->msg, "stalled")) timed_out++;
    runm_error_release(&err);
    runm_rpc_stream_free(held[i]);
    runm_rpc_client_free(hcl[i]);
  }
  is_int(timed_out, 3, "calls that never send their request end with DEADLINE_EXCEEDED");
  /* Their threads finish a moment after the clients saw the status. */
  r = -1;
  for (int i = 0; i < 100 && r < 0; i++) {
    r = call_ping(cl, "again", &err);
    runm_error_release(&err);
    if (r < 0) usleep(20 * 1000);
  }
  ok(r == 0, "the server serves again once they are gone");
  runm_rpc_client_free(cl);
  runm_rpc_server_free(srv);
}

static void test_flood_threads(const char *dir)
{
  cleanup_free char *sock = NULL, *target = NULL;
  int accepted = 0;
  struct runm_rpc_server_config cfg = {
      .methods = methods, .n_methods = 1, .opaque = &accepted, .on_call = count_call};
  enum { FLOOD = 300 };
  struct runm_rpc_stream **held = calloc(FLOOD, sizeof(*held));
  runm_error_t err = NULL;
  int base, peak = 0, refused = 0;

  if (asprintf(&sock, "%s/flood.sock", dir) < 0 || asprintf(&target, "unix:%s", sock) < 0)
    abort();
  struct runm_rpc_server *srv = serve(&cfg, sock);
  struct runm_rpc_client *cl = runm_rpc_client_new(target, -1, &err);
  ok(call_ping(cl, "warm", &err) == 0, "default server: a call is served");
  base = n_threads();
  for (int i = 0; i < FLOOD; i++) held[i] = hold(cl);
  for (int i = 0; i < 10; i++) {
    int n = n_threads();
    if (n > peak) peak = n;
    usleep(50 * 1000);
  }
  printf("# %d header-only calls: %d threads before, at most %d during (default limit %d "
         "calls)\n",
         FLOOD, base, peak, RUNM_RPC_DEFAULT_MAX_CALLS);
  ok(peak - base <= 2 * RUNM_RPC_DEFAULT_MAX_CALLS + 4,
     "threads stay within 2 per allowed call under a flood of header-only calls");
  for (int i = 0; i < FLOOD; i++) {
    ProtobufCMessage *m = NULL;
    if (held[i] && runm_rpc_stream_recv(held[i], &m, &err) < 0 && err &&
        strstr(err->msg, "RESOURCE_EXHAUSTED"))
      refused++;
    runm_error_release(&err);
    runm_rpc_stream_free(held[i]);
  }
  /* The warm-up call may still hold its slot for a moment. */
  accepted = __atomic_load_n(&accepted, __ATOMIC_SEQ_CST) - 1;
  printf("# %d of %d refused with RESOURCE_EXHAUSTED, %d let in\n", refused, FLOOD, accepted);
  ok(accepted <= RUNM_RPC_DEFAULT_MAX_CALLS && accepted >= RUNM_RPC_DEFAULT_MAX_CALLS - 1 &&
         refused == FLOOD - accepted,
     "every call beyond the limit is refused");
  free(held);
  runm_rpc_client_free(cl);
  runm_rpc_server_free(srv);
}

struct captured {
  char line[4096];
};

static void capture(void *opaque, enum runm_log_level level, const char *line)
{
  struct captured *c = opaque;
  snprintf(c->line, sizeof(c->line), "%s", line);
}

static bool has_control(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

static void test_escaping(const char *dir)
{
  cleanup_free char *sock = NULL, *target = NULL;
  struct runm_rpc_server_config cfg = {.methods = methods, .n_methods = 1};
  runm_error_t err = NULL;
  char out[16];
  struct captured cap = {{0}};
  struct runm_logger lg = {.component = "t", .max_level = RUNM_LOG_DEBUG, .sink = capture,
                           .opaque = &cap};

  if (asprintf(&sock, "%s/esc.sock", dir) < 0 || asprintf(&target, "unix:%s", sock) < 0) abort();
  struct runm_rpc_server *srv = serve(&cfg, sock);
  struct runm_rpc_client *cl = runm_rpc_client_new(target, -1, &err);
  ok(call_ping(cl, "evil", &err) < 0 && err, "the peer's error arrives");
  ok(err && !has_control(err->msg), "its details carry no control character");
  ok(err && strstr(err->msg, "runc failed\\ntime=\"0\" level=error msg=\"forged\"\\r\\x1b[2J\\x01"),
     "newlines, CR, ESC and others arrive escaped");
  ok(err && strlen(err->msg) <= 64 + RUNM_RPC_MAX_DETAILS && strstr(err->msg, "x..."),
     "3 kB of details are cut to RUNM_RPC_MAX_DETAILS with a \"...\" mark");
  if (err) printf("# %zu bytes: %.120s\n", strlen(err->msg), err->msg);
  runm_log(&lg, RUNM_LOG_WARN, "guest said: %s", "a\nb\x7f");
  ok(strstr(cap.line, "guest said: a\\nb\\x7f") && !has_control(cap.line),
     "runm_log writes one line whatever the message holds");
  runm_error_release(&err);
  runm_rpc_client_free(cl);
  runm_rpc_server_free(srv);

  runm_escape(out, sizeof(out), "abc", 3);
  is_str(out, "abc", "runm_escape: plain text unchanged");
  runm_escape(out, sizeof(out), "0123456789abcdef", 16);
  is_str(out, "0123456789ab...", "runm_escape: too long ends in ...");
  runm_escape(out, sizeof(out), "012345678901234", 15);
  is_str(out, "012345678901234", "runm_escape: exactly fitting text is whole");
  runm_escape(out, sizeof(out), "\n\t\x02", 3);
  is_str(out, "\\n\\t\\x02", "runm_escape: escapes");
}

int main(void)
{
  char dir[] = "/tmp/runm-test-rpcl.XXXXXX";
  ok(mkdtemp(dir) != NULL, "temp dir");
  test_decode_budget(dir); /* first: it measures the peak RSS */
  test_call_cap(dir);
  test_flood_threads(dir);
  test_escaping(dir);
  rmdir(dir);
  return tap_done();
}

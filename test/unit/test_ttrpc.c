/* ttrpc: frames, then server and client in one process over a temporary
 * unix socket, carrying real containerd messages; hostile frames from a raw
 * socket; concurrency, deadlines, cancellation and graceful shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "containerd/cgroups/v2/metrics.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "tap.h"
#include "ttrpc.h"

#define TASK "containerd.task.v2.Task"
#define EVENTS "containerd.services.events.ttrpc.v1.Events"

/* Test state shared with the handlers. A cancel hook takes `lock`, so the
 * handlers register hooks outside it (see runm_ttrpc_call_on_cancel). */
struct fixture {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int entered;        /* blocking handlers that have started */
  bool release;       /* lets blocking handlers return */
  int cancelled_seen; /* blocking handlers that saw a cancel */
  int64_t kill_timeout_ms;
  int64_t state_timeout_ms;
  char namespace[64];
  char extra_md[64];
  char forward_topic[64];
  char forward_exit_id[64];
  uint32_t forward_exit_status;
};

struct blocker {
  struct fixture *fx;
  bool cancelled;
};

static void on_cancel(void *arg)
{
  struct blocker *b = arg;
  pthread_mutex_lock(&b->fx->lock);
  b->cancelled = true;
  pthread_cond_broadcast(&b->fx->cond);
  pthread_mutex_unlock(&b->fx->lock);
}

/* Blocks until the test releases it (0) or the call is cancelled (-1). */
static int block(struct fixture *fx, struct runm_ttrpc_call *call)
{
  struct blocker b = {.fx = fx};
  int ret;

  runm_ttrpc_call_on_cancel(call, on_cancel, &b);
  pthread_mutex_lock(&fx->lock);
  fx->entered++;
  pthread_cond_broadcast(&fx->cond);
  while (!fx->release && !b.cancelled) pthread_cond_wait(&fx->cond, &fx->lock);
  ret = b.cancelled ? -1 : 0;
  if (b.cancelled) fx->cancelled_seen++;
  pthread_cond_broadcast(&fx->cond);
  pthread_mutex_unlock(&fx->lock);
  runm_ttrpc_call_on_cancel(call, NULL, NULL);
  return ret;
}

static void wait_entered(struct fixture *fx, int n)
{
  pthread_mutex_lock(&fx->lock);
  while (fx->entered < n) pthread_cond_wait(&fx->cond, &fx->lock);
  pthread_mutex_unlock(&fx->lock);
}

static void wait_cancelled(struct fixture *fx, int n)
{
  pthread_mutex_lock(&fx->lock);
  while (fx->cancelled_seen < n) pthread_cond_wait(&fx->cond, &fx->lock);
  pthread_mutex_unlock(&fx->lock);
}

static void set_release(struct fixture *fx, bool v)
{
  pthread_mutex_lock(&fx->lock);
  fx->release = v;
  pthread_cond_broadcast(&fx->cond);
  pthread_mutex_unlock(&fx->lock);
}

/* ---- handlers ---- */

static int h_create(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, runm_error_t *err)
{
  struct fixture *fx = opaque;
  const Containerd__Task__V2__CreateTaskRequest *r = (const void *)req;
  Containerd__Task__V2__CreateTaskResponse *out;
  const char *ns = runm_ttrpc_call_namespace(call), *x = runm_ttrpc_call_metadata(call, "x-extra");

  if (strcmp(r->id, "c1") != 0 || r->n_rootfs != 2 || strcmp(r->rootfs[1]->type, "bind") != 0 ||
      r->rootfs[1]->n_options != 2 || strcmp(r->rootfs[1]->options[1], "ro") != 0 || !r->terminal)
    return runm_make_error(err, EINVAL, "request did not survive the trip");
  pthread_mutex_lock(&fx->lock);
  snprintf(fx->namespace, sizeof(fx->namespace), "%s", ns ? ns : "(none)");
  snprintf(fx->extra_md, sizeof(fx->extra_md), "%s", x ? x : "(none)");
  pthread_mutex_unlock(&fx->lock);
  out = malloc(sizeof(*out));
  if (out == NULL) return runm_make_error(err, ENOMEM, "response");
  containerd__task__v2__create_task_response__init(out);
  out->pid = 4242;
  *resp = &out->base;
  return 0;
}

static int h_state(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                   ProtobufCMessage **resp, runm_error_t *err)
{
  struct fixture *fx = opaque;
  const Containerd__Task__V2__StateRequest *r = (const void *)req;
  Containerd__Task__V2__StateResponse *out = malloc(sizeof(*out));
  Google__Protobuf__Timestamp *ts = malloc(sizeof(*ts));

  if (out == NULL || ts == NULL) {
    free(out);
    free(ts);
    return runm_make_error(err, ENOMEM, "response");
  }
  pthread_mutex_lock(&fx->lock);
  fx->state_timeout_ms = runm_ttrpc_call_timeout_ms(call);
  pthread_mutex_unlock(&fx->lock);
  containerd__task__v2__state_response__init(out);
  google__protobuf__timestamp__init(ts);
  ts->seconds = 1700000000;
  ts->nanos = 5;
  out->id = strdup(r->id);
  out->exec_id = strdup(r->exec_id);
  out->bundle = strdup("/run/bundle");
  out->pid = 7;
  out->status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
  out->exit_status = 137;
  out->exited_at = ts;
  *resp = &out->base;
  return 0;
}

static int h_wait(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                  ProtobufCMessage **resp, runm_error_t *err)
{
  Containerd__Task__V2__WaitResponse *out;

  if (block(opaque, call) < 0) return runm_make_error(err, ECANCELED, "wait cancelled");
  out = malloc(sizeof(*out));
  if (out == NULL) return runm_make_error(err, ENOMEM, "response");
  containerd__task__v2__wait_response__init(out);
  out->exit_status = 42;
  *resp = &out->base;
  return 0;
}

/* Blocks until its deadline cancels it. */
static int h_kill(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                  ProtobufCMessage **resp, runm_error_t *err)
{
  struct fixture *fx = opaque;
  int64_t left = runm_ttrpc_call_timeout_ms(call);

  pthread_mutex_lock(&fx->lock);
  fx->kill_timeout_ms = left;
  pthread_mutex_unlock(&fx->lock);
  if (block(fx, call) < 0) return runm_make_error(err, ETIMEDOUT, "kill: deadline passed");
  return 0;
}

static int h_delete(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, runm_error_t *err)
{
  const Containerd__Task__V2__DeleteRequest *r = (const void *)req;
  return runm_make_error(err, ENOENT, "container `%s`", r->id);
}

/* An empty response: google.protobuf.Empty. */
static int h_shutdown(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                      ProtobufCMessage **resp, runm_error_t *err)
{
  *resp = NULL;
  return 0;
}

/* Answers with `size` bytes of junk in an Any: over 4 MiB it cannot be sent. */
static int h_stats(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                   ProtobufCMessage **resp, runm_error_t *err)
{
  const Containerd__Task__V2__StatsRequest *r = (const void *)req;
  Containerd__Task__V2__StatsResponse *out = calloc(1, sizeof(*out));
  Google__Protobuf__Any *any = calloc(1, sizeof(*any));
  Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
  Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;

  if (out == NULL || any == NULL) {
    free(out);
    free(any);
    return runm_make_error(err, ENOMEM, "response");
  }
  containerd__task__v2__stats_response__init(out);
  google__protobuf__any__init(any);
  out->stats = any;
  *resp = &out->base;
  if (strcmp(r->id, "huge") == 0) {
    any->type_url = strdup("junk");
    any->value.len = 5u << 20;
    any->value.data = calloc(1, any->value.len);
    return any->value.data ? 0 : runm_make_error(err, ENOMEM, "junk");
  }
  pids.current = 3;
  pids.limit = 100;
  mem.usage = 12345678;
  m.pids = &pids;
  m.memory = &mem;
  any->type_url = strdup("io.containerd.cgroups.v2.Metrics");
  any->value.len = protobuf_c_message_get_packed_size(&m.base);
  any->value.data = malloc(any->value.len);
  if (any->value.data == NULL) return runm_make_error(err, ENOMEM, "metrics");
  protobuf_c_message_pack(&m.base, any->value.data);
  return 0;
}

static int h_forward(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                     ProtobufCMessage **resp, runm_error_t *err)
{
  struct fixture *fx = opaque;
  const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *r = (const void *)req;
  Containerd__Events__TaskExit *ex;

  if (r->envelope == NULL || r->envelope->event == NULL)
    return runm_make_error(err, EINVAL, "no envelope");
  if (strcmp(r->envelope->event->type_url, "containerd.events.TaskExit") != 0)
    return runm_make_error(err, EINVAL, "unexpected event %s", r->envelope->event->type_url);
  ex = containerd__events__task_exit__unpack(NULL, r->envelope->event->value.len,
                                             r->envelope->event->value.data);
  if (ex == NULL) return runm_make_error(err, EINVAL, "bad TaskExit");
  pthread_mutex_lock(&fx->lock);
  snprintf(fx->forward_topic, sizeof(fx->forward_topic), "%s", r->envelope->topic);
  snprintf(fx->forward_exit_id, sizeof(fx->forward_exit_id), "%s", ex->id);
  fx->forward_exit_status = ex->exit_status;
  pthread_mutex_unlock(&fx->lock);
  containerd__events__task_exit__free_unpacked(ex, NULL);
  return 0;
}

static const struct runm_ttrpc_method methods[] = {
    {TASK, "Create", &containerd__task__v2__create_task_request__descriptor, h_create},
    {TASK, "State", &containerd__task__v2__state_request__descriptor, h_state},
    {TASK, "Wait", &containerd__task__v2__wait_request__descriptor, h_wait},
    {TASK, "Kill", &containerd__task__v2__kill_request__descriptor, h_kill},
    {TASK, "Delete", &containerd__task__v2__delete_request__descriptor, h_delete},
    {TASK, "Stats", &containerd__task__v2__stats_request__descriptor, h_stats},
    {TASK, "Shutdown", &containerd__task__v2__shutdown_request__descriptor, h_shutdown},
    {EVENTS, "Forward", &containerd__services__events__ttrpc__v1__forward_request__descriptor,
     h_forward},
};

/* ---- helpers ---- */

static struct runm_ttrpc_server *new_server(struct fixture *fx, unsigned max_calls,
                                            bool same_user)
{
  struct runm_ttrpc_server_config cfg = {
      .methods = methods,
      .n_methods = sizeof(methods) / sizeof(methods[0]),
      .opaque = fx,
      .max_calls = max_calls,
      .require_same_user = same_user,
  };
  cleanup_error runm_error_t err = NULL;
  return runm_ttrpc_server_new(&cfg, &err);
}

static int raw_connect(const char *path)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int raw_send(int fd, uint32_t len, uint32_t id, uint8_t type, const void *p, size_t plen)
{
  uint8_t hdr[RUNM_TTRPC_HEADER_SIZE];
  struct runm_ttrpc_header h = {.length = len, .stream_id = id, .type = type};
  runm_ttrpc_header_pack(&h, hdr);
  if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr)) return -1;
  if (plen && send(fd, p, plen, MSG_NOSIGNAL) != (ssize_t)plen) return -1;
  return 0;
}

static int raw_request(int fd, uint32_t id, const char *service, const char *method,
                       const ProtobufCMessage *msg)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free uint8_t *buf = NULL;
  size_t len;
  if (runm_ttrpc_request_pack(service, method, msg, 0, NULL, 0, &buf, &len, &err) < 0) return -1;
  return raw_send(fd, (uint32_t)len, id, RUNM_TTRPC_REQUEST, buf, len);
}

/* Reads one response frame: its status code (or -1 at EOF / on error). */
static int raw_status(int fd, uint32_t *id)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free uint8_t *p = NULL;
  struct runm_ttrpc_header h;
  Ttrpc__Response *r = NULL;
  int code;

  if (runm_ttrpc_read_frame(fd, -1, &h, &p, &err) <= 0) return -1;
  if (h.type != RUNM_TTRPC_RESPONSE) return -1;
  if (runm_ttrpc_response_unpack(p, h.length, &r, &err) < 0) return -1;
  code = r->status ? r->status->code : 0;
  ttrpc__response__free_unpacked(r, NULL);
  if (id) *id = h.stream_id;
  return code;
}

static int call_state(struct runm_ttrpc_client *c, int64_t timeout_ms, runm_error_t *err)
{
  Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  req.id = (char *)"c1";
  if (runm_ttrpc_client_call(c, TASK, "State", &req.base,
                             &containerd__task__v2__state_response__descriptor, &resp, NULL, 0,
                             timeout_ms, err) < 0)
    return -1;
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

struct wait_call {
  struct runm_ttrpc_client *c;
  int ret, status;
  uint32_t exit_status;
};

static void *wait_thread(void *arg)
{
  struct wait_call *w = arg;
  Containerd__Task__V2__WaitRequest req = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  cleanup_error runm_error_t err = NULL;

  req.id = (char *)"c1";
  w->ret = runm_ttrpc_client_call(w->c, TASK, "Wait", &req.base,
                                  &containerd__task__v2__wait_response__descriptor, &resp, NULL, 0,
                                  0, &err);
  w->status = err ? err->status : 0;
  if (resp) {
    w->exit_status = ((Containerd__Task__V2__WaitResponse *)resp)->exit_status;
    protobuf_c_message_free_unpacked(resp, NULL);
  }
  return NULL;
}

struct hammer {
  struct runm_ttrpc_client *c;
  int failures;
};

static void *hammer_thread(void *arg)
{
  struct hammer *hm = arg;
  for (int i = 0; i < 50; i++) {
    cleanup_error runm_error_t err = NULL;
    if (call_state(hm->c, 5000, &err) < 0) hm->failures++;
  }
  return NULL;
}

/* ---- tests ---- */

static void test_frames(void)
{
  cleanup_error runm_error_t err = NULL;
  struct runm_ttrpc_header h = {
      .length = 0x01020304, .stream_id = 0x0a0b0c0d, .type = 2, .flags = 4};
  struct runm_ttrpc_header g;
  uint8_t buf[RUNM_TTRPC_HEADER_SIZE + 3];
  const uint8_t want[] = {1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 2, 4};
  const uint8_t *payload;
  size_t used;

  runm_ttrpc_header_pack(&h, buf);
  ok(memcmp(buf, want, sizeof(want)) == 0, "header: big-endian length, stream id, type, flags");
  is_int(runm_ttrpc_header_unpack(buf, &g, &err), -EMSGSIZE, "header: 16 MiB length refused");
  is_int(g.stream_id, 0x0a0b0c0d, "header: stream id still decoded for the error");
  runm_error_release(&err);

  h.length = 3;
  runm_ttrpc_header_pack(&h, buf);
  memcpy(buf + RUNM_TTRPC_HEADER_SIZE, "abc", 3);
  is_int(runm_ttrpc_frame_parse(buf, 5, &g, &payload, &used, &err), 0, "parse: partial header");
  is_int(runm_ttrpc_frame_parse(buf, 12, &g, &payload, &used, &err), 0, "parse: partial payload");
  is_int(runm_ttrpc_frame_parse(buf, sizeof(buf), &g, &payload, &used, &err), 1, "parse: whole");
  ok(used == sizeof(buf) && memcmp(payload, "abc", 3) == 0 && g.type == 2 && g.flags == 4,
     "parse: payload and fields");
  h.length = RUNM_TTRPC_MAX_PAYLOAD;
  runm_ttrpc_header_pack(&h, buf);
  is_int(runm_ttrpc_header_unpack(buf, &g, &err), 0, "header: exactly 4 MiB accepted");
}

static void test_roundtrips(struct runm_ttrpc_client *c, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  Containerd__Types__Mount m0 = CONTAINERD__TYPES__MOUNT__INIT, m1 = CONTAINERD__TYPES__MOUNT__INIT;
  Containerd__Types__Mount *mounts[] = {&m0, &m1};
  char *opts[] = {(char *)"rbind", (char *)"ro"};
  Containerd__Task__V2__CreateTaskRequest creq = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
  Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  const struct runm_ttrpc_md md[] = {
      {RUNM_TTRPC_NAMESPACE_KEY, "default"},
      {"x-extra", "first"},
      {"x-extra", "second"},
  };
  ProtobufCMessage *resp = NULL;
  int ret;

  m0.type = (char *)"overlay";
  m0.source = (char *)"overlay";
  m1.type = (char *)"bind";
  m1.source = (char *)"/var/lib/snap/1/fs";
  m1.n_options = 2;
  m1.options = opts;
  creq.id = (char *)"c1";
  creq.bundle = (char *)"/run/containerd/io.containerd.runtime.v2.task/default/c1";
  creq.n_rootfs = 2;
  creq.rootfs = mounts;
  creq.terminal = true;
  creq.stdout = (char *)"/run/fifo/out";
  ret = runm_ttrpc_client_call(c, TASK, "Create", &creq.base,
                               &containerd__task__v2__create_task_response__descriptor, &resp, md,
                               3, 5000, &err);
  is_int(ret, 0, "Create: OK");
  if (ret < 0) printf("#   %s\n", err->msg);
  ok(resp && ((Containerd__Task__V2__CreateTaskResponse *)resp)->pid == 4242, "Create: pid back");
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  resp = NULL;
  is_str(fx->namespace, "default", "metadata: namespace under containerd-namespace-ttrpc");
  is_str(fx->extra_md, "first", "metadata: the first of repeated values");

  sreq.id = (char *)"c1";
  sreq.exec_id = (char *)"e1";
  ret = runm_ttrpc_client_call(c, TASK, "State", &sreq.base,
                               &containerd__task__v2__state_response__descriptor, &resp, NULL, 0,
                               5000, &err);
  is_int(ret, 0, "State: OK");
  if (resp) {
    Containerd__Task__V2__StateResponse *s = (void *)resp;
    ok(strcmp(s->id, "c1") == 0 && strcmp(s->exec_id, "e1") == 0 && s->pid == 7 &&
           s->status == CONTAINERD__V1__TYPES__STATUS__STOPPED && s->exit_status == 137 &&
           s->exited_at && s->exited_at->seconds == 1700000000 && s->exited_at->nanos == 5,
       "State: every field back");
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  ok(fx->state_timeout_ms > 4000 && fx->state_timeout_ms <= 5000,
     "deadline: handler sees the client's timeout");
  call_state(c, 0, &err);
  is_int(fx->state_timeout_ms, -1, "deadline: none when the client sets none");

  /* Stats: cgroup v2 Metrics in an Any. */
  {
    Containerd__Task__V2__StatsRequest r = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
    r.id = (char *)"c1";
    ret = runm_ttrpc_client_call(c, TASK, "Stats", &r.base,
                                 &containerd__task__v2__stats_response__descriptor, &resp, NULL, 0,
                                 5000, &err);
    is_int(ret, 0, "Stats: OK");
    if (resp) {
      Containerd__Task__V2__StatsResponse *s = (void *)resp;
      Io__Containerd__Cgroups__V2__Metrics *m = NULL;
      if (s->stats)
        m = io__containerd__cgroups__v2__metrics__unpack(NULL, s->stats->value.len,
                                                         s->stats->value.data);
      is_str(s->stats ? s->stats->type_url : NULL, "io.containerd.cgroups.v2.Metrics",
             "Stats: type URL");
      ok(m && m->pids && m->pids->current == 3 && m->memory && m->memory->usage == 12345678,
         "Stats: Metrics decode");
      if (m) io__containerd__cgroups__v2__metrics__free_unpacked(m, NULL);
      protobuf_c_message_free_unpacked(resp, NULL);
      resp = NULL;
    }
    r.id = (char *)"huge";
    ret = runm_ttrpc_client_call(c, TASK, "Stats", &r.base,
                                 &containerd__task__v2__stats_response__descriptor, &resp, NULL, 0,
                                 5000, &err);
    ok(ret < 0 && err->status == EMSGSIZE && strstr(err->msg, "RESOURCE_EXHAUSTED"),
       "a response over 4 MiB becomes ResourceExhausted");
    ok(call_state(c, 5000, &err) == 0, "... and the connection is fine");
  }

  /* Shutdown returns google.protobuf.Empty: a zero-length payload. */
  {
    Containerd__Task__V2__ShutdownRequest r = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;
    ret = runm_ttrpc_client_call(c, TASK, "Shutdown", &r.base, &google__protobuf__empty__descriptor,
                                 &resp, NULL, 0, 5000, &err);
    ok(ret == 0 && resp != NULL, "Shutdown: Empty response");
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }

  /* An event as the shim publishes it. */
  {
    Containerd__Events__TaskExit ex = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Containerd__Services__Events__Ttrpc__V1__Envelope env =
        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
    Containerd__Services__Events__Ttrpc__V1__ForwardRequest fwd =
        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
    uint8_t packed[256];

    ex.container_id = (char *)"c1";
    ex.id = (char *)"c1";
    ex.pid = 7;
    ex.exit_status = 137;
    ex.exited_at = &ts;
    any.type_url = (char *)containerd__events__task_exit__descriptor.name;
    any.value.len = containerd__events__task_exit__pack(&ex, packed);
    any.value.data = packed;
    env.timestamp = &ts;
    env.namespace_ = (char *)"default";
    env.topic = (char *)"/tasks/exit";
    env.event = &any;
    fwd.envelope = &env;
    ret = runm_ttrpc_client_call(c, EVENTS, "Forward", &fwd.base,
                                 &google__protobuf__empty__descriptor, &resp, NULL, 0, 5000, &err);
    is_int(ret, 0, "Forward: OK");
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
    ok(strcmp(fx->forward_topic, "/tasks/exit") == 0 && strcmp(fx->forward_exit_id, "c1") == 0 &&
           fx->forward_exit_status == 137,
       "Forward: envelope and TaskExit (type URL containerd.events.TaskExit) decode");
  }
}

static void test_errors(struct runm_ttrpc_client *c)
{
  cleanup_error runm_error_t err = NULL;
  Containerd__Task__V2__DeleteRequest d = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  int ret;

  d.id = (char *)"nope";
  ret = runm_ttrpc_client_call(c, TASK, "Delete", &d.base,
                               &containerd__task__v2__delete_response__descriptor, &resp, NULL, 0,
                               5000, &err);
  ok(ret < 0 && err->status == ENOENT && strstr(err->msg, "NOT_FOUND") &&
         strstr(err->msg, "container `nope`"),
     "handler ENOENT -> NotFound -> ENOENT, message kept");
  ret = runm_ttrpc_client_call(c, TASK, "Frobnicate", &d.base,
                               &containerd__task__v2__delete_response__descriptor, &resp, NULL, 0,
                               5000, &err);
  ok(ret < 0 && err->status == ENOSYS && strstr(err->msg, "UNIMPLEMENTED"),
     "unknown method -> Unimplemented");
  ret = runm_ttrpc_client_call(c, "containerd.task.v3.Task", "Delete", &d.base,
                               &containerd__task__v2__delete_response__descriptor, &resp, NULL, 0,
                               5000, &err);
  ok(ret < 0 && err->status == ENOSYS && strstr(err->msg, "unknown service"),
     "unknown service -> Unimplemented");
}

static void test_concurrency(struct runm_ttrpc_client *c, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  struct wait_call w = {.c = c};
  struct hammer hm[6];
  pthread_t wt, ht[6];
  int n_ok = 0;

  fx->entered = 0;
  set_release(fx, false);
  pthread_create(&wt, NULL, wait_thread, &w);
  wait_entered(fx, 1);
  for (int i = 0; i < 10; i++) n_ok += call_state(c, 5000, &err) == 0;
  is_int(n_ok, 10, "10 calls complete while a Wait blocks on the same connection");
  for (int i = 0; i < 6; i++) {
    hm[i] = (struct hammer){.c = c};
    pthread_create(&ht[i], NULL, hammer_thread, &hm[i]);
  }
  n_ok = 0;
  for (int i = 0; i < 6; i++) {
    pthread_join(ht[i], NULL);
    n_ok += hm[i].failures;
  }
  is_int(n_ok, 0, "6 threads x 50 concurrent calls, no failure");
  set_release(fx, true);
  pthread_join(wt, NULL);
  ok(w.ret == 0 && w.exit_status == 42, "the Wait completes once released");
}

static void test_timeouts(struct runm_ttrpc_client *c, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  struct timespec t0, t1;
  int ret;
  long ms;

  set_release(fx, false);
  fx->cancelled_seen = 0;
  k.id = (char *)"c1";
  k.signal = 9;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ret = runm_ttrpc_client_call(c, TASK, "Kill", &k.base, &google__protobuf__empty__descriptor,
                               &resp, NULL, 0, 300, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  ok(ret < 0 && err->status == ETIMEDOUT, "client: call past its timeout fails ETIMEDOUT");
  ok(ms >= 290 && ms < 3000, "client: ... after about the timeout");
  wait_cancelled(fx, 1);
  ok(1, "server: the deadline cancelled the handler (its hook ran)");
  ok(fx->kill_timeout_ms > 0 && fx->kill_timeout_ms <= 300, "server: handler saw its deadline");
  ok(call_state(c, 5000, &err) == 0, "the late response is dropped; the connection works on");
}

static void test_hostile(const char *path, struct runm_ttrpc_client *c, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  const char garbage[] = "\xff\xff\xff\xff garbage that is not protobuf";
  uint8_t buf[16];
  uint32_t id = 0;
  int fd;

  s.id = (char *)"c1";
  fd = raw_connect(path);
  raw_send(fd, RUNM_TTRPC_MAX_PAYLOAD + 1, 1, RUNM_TTRPC_REQUEST, NULL, 0);
  is_int(raw_status(fd, &id), 8 /* RESOURCE_EXHAUSTED */, "oversized frame: ResourceExhausted");
  is_int(id, 1, "... on its stream id");
  is_int(recv(fd, buf, sizeof(buf), 0), 0, "... then the connection is closed");
  close(fd);

  fd = raw_connect(path);
  ok(send(fd, "\0\0\0\x05\0", 5, MSG_NOSIGNAL) == 5, "truncated header sent");
  close(fd);

  fd = raw_connect(path);
  raw_send(fd, sizeof(garbage) - 1, 1, RUNM_TTRPC_REQUEST, garbage, sizeof(garbage) - 1);
  is_int(raw_status(fd, &id), 3 /* INVALID_ARGUMENT */, "garbage Request: InvalidArgument");
  raw_send(fd, 4, 3, RUNM_TTRPC_REQUEST, "\x0a\x02zz", 4); /* service only */
  is_int(raw_status(fd, NULL), 3, "Request without a method: InvalidArgument");
  {
    cleanup_free uint8_t *p = NULL;
    size_t len;
    Ttrpc__Request r = TTRPC__REQUEST__INIT;
    r.service = (char *)TASK;
    r.method = (char *)"State";
    r.payload.data = (uint8_t *)garbage;
    r.payload.len = sizeof(garbage) - 1;
    len = ttrpc__request__get_packed_size(&r);
    p = malloc(len);
    ttrpc__request__pack(&r, p);
    raw_send(fd, (uint32_t)len, 5, RUNM_TTRPC_REQUEST, p, len);
    is_int(raw_status(fd, NULL), 3, "garbage StateRequest payload: InvalidArgument");
  }
  raw_request(fd, 4, TASK, "State", &s.base);
  is_int(raw_status(fd, NULL), 3, "even stream id: InvalidArgument");
  raw_request(fd, 5, TASK, "State", &s.base);
  is_int(raw_status(fd, NULL), 3, "reused stream id: InvalidArgument");
  raw_send(fd, 0, 7, RUNM_TTRPC_DATA, NULL, 0);
  is_int(raw_status(fd, NULL), 3, "data frame: InvalidArgument");
  raw_send(fd, 3, 9, 0x42, "abc", 3); /* unknown type: ignored */
  raw_request(fd, 11, TASK, "State", &s.base);
  is_int(raw_status(fd, &id), 0, "same connection still serves a valid request");
  is_int(id, 11, "... answered on its stream id");
  close(fd);

  /* A client that goes away cancels its calls. */
  fx->entered = 0;
  fx->cancelled_seen = 0;
  set_release(fx, false);
  fd = raw_connect(path);
  raw_request(fd, 1, TASK, "Wait", &s.base);
  wait_entered(fx, 1);
  close(fd);
  wait_cancelled(fx, 1);
  ok(1, "peer closed: its blocked Wait is cancelled");

  ok(call_state(c, 5000, &err) == 0, "the server is still up after all of that");
}

static void test_limits(struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  struct runm_ttrpc_server *srv = new_server(fx, 1, false);
  struct runm_ttrpc_client *c;
  struct wait_call w;
  pthread_t wt;
  int sv[2];

  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  is_int(runm_ttrpc_server_add_conn(srv, sv[0], &err), 0, "serve a connected socket");
  runm_ttrpc_server_start(srv, &err);
  c = runm_ttrpc_client_new_fd(sv[1], &err);
  fx->entered = 0;
  set_release(fx, false);
  w = (struct wait_call){.c = c};
  pthread_create(&wt, NULL, wait_thread, &w);
  wait_entered(fx, 1);
  ok(call_state(c, 5000, &err) < 0 && err->status == EMSGSIZE,
     "max_calls: one over the limit gets ResourceExhausted");
  set_release(fx, true);
  pthread_join(wt, NULL);
  is_int(w.ret, 0, "max_calls: the call in flight completes");
  ok(call_state(c, 5000, &err) == 0, "max_calls: room again afterwards");
  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);
}

struct shut {
  struct runm_ttrpc_server *srv;
  int64_t grace;
};

static void *shutdown_thread(void *arg)
{
  struct shut *s = arg;
  runm_ttrpc_server_shutdown(s->srv, s->grace);
  return NULL;
}

static void test_shutdown(const char *dir, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  char path[256];
  struct runm_ttrpc_server *srv = new_server(fx, 0, false);
  struct runm_ttrpc_client *c;
  struct wait_call w;
  struct shut s = {.srv = srv, .grace = -1};
  pthread_t wt, st;
  struct stat sb;
  char b;
  int idle;

  snprintf(path, sizeof(path), "%s/shut.sock", dir);
  runm_ttrpc_server_listen_unix(srv, path, &err);
  runm_ttrpc_server_start(srv, &err);
  c = runm_ttrpc_client_connect(path, &err);
  idle = raw_connect(path);
  ok(call_state(c, 5000, &err) == 0, "shutdown: server serving");

  fx->entered = 0;
  set_release(fx, false);
  w = (struct wait_call){.c = c};
  pthread_create(&wt, NULL, wait_thread, &w);
  wait_entered(fx, 1);
  pthread_create(&st, NULL, shutdown_thread, &s);
  /* The idle connection closes as soon as shutdown begins. */
  is_int(recv(idle, &b, 1, 0), 0, "shutdown: idle connection closed at once");
  close(idle);
  set_release(fx, true);
  pthread_join(wt, NULL);
  ok(w.ret == 0 && w.exit_status == 42, "shutdown: the call in flight still gets its answer");
  pthread_join(st, NULL);
  ok(lstat(path, &sb) < 0 && errno == ENOENT, "shutdown: socket path removed");
  ok(call_state(c, 5000, &err) < 0 && err->status == ECONNRESET,
     "shutdown: afterwards the connection is closed");
  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);

  /* A handler that does not finish within the grace period is cancelled. */
  srv = new_server(fx, 0, false);
  snprintf(path, sizeof(path), "%s/shut2.sock", dir);
  runm_ttrpc_server_listen_unix(srv, path, &err);
  runm_ttrpc_server_start(srv, &err);
  c = runm_ttrpc_client_connect(path, &err);
  fx->entered = 0;
  fx->cancelled_seen = 0;
  set_release(fx, false);
  w = (struct wait_call){.c = c};
  pthread_create(&wt, NULL, wait_thread, &w);
  wait_entered(fx, 1);
  runm_ttrpc_server_shutdown(srv, 100);
  is_int(fx->cancelled_seen, 1, "grace over: the blocked handler was cancelled");
  pthread_join(wt, NULL);
  ok(w.ret < 0 && w.status == ECANCELED,
     "grace over: its Cancelled status still reached the client");
  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);
}

static void test_listen(const char *dir, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  char path[256];
  struct runm_ttrpc_server *srv = new_server(fx, 0, false);
  struct runm_ttrpc_client *c;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  struct stat sb;
  int fd;

  snprintf(path, sizeof(path), "%s/exists", dir);
  close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  is_int(runm_ttrpc_server_listen_unix(srv, path, &err), -EEXIST,
         "listen: refuses an existing path");
  unlink(path);
  snprintf(path, sizeof(path), "%s/mode.sock", dir);
  is_int(runm_ttrpc_server_listen_unix(srv, path, &err), 0, "listen: new path");
  ok(stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) && (sb.st_mode & 0777) == 0600,
     "listen: socket is mode 0600");
  runm_ttrpc_server_free(srv);

  /* A listening socket made elsewhere, as the shim's `start` hands over. */
  srv = new_server(fx, 0, false);
  snprintf(path, sizeof(path), "%s/fd.sock", dir);
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(fd, (struct sockaddr *)&addr, sizeof(addr));
  is_int(runm_ttrpc_server_listen_fd(srv, dup(fd), &err), -EINVAL, "listen_fd: not listening yet");
  listen(fd, 8);
  is_int(runm_ttrpc_server_listen_fd(srv, fd, &err), 0, "listen_fd: takes a listening socket");
  runm_ttrpc_server_start(srv, &err);
  c = runm_ttrpc_client_connect(path, &err);
  ok(c && call_state(c, 5000, &err) == 0, "listen_fd: serves calls");
  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);
  unlink(path);

  c = runm_ttrpc_client_connect(path, &err);
  ok(c == NULL && err->status == ENOENT, "client: connect to a missing socket fails");
}

/* As root: a peer of another uid is refused when require_same_user is set. */
static void test_peer_uid(const char *dir, struct fixture *fx)
{
  cleanup_error runm_error_t err = NULL;
  char path[256];
  struct runm_ttrpc_server *srv;
  int status = -1;
  pid_t pid;

  if (geteuid() != 0) {
    ok(1, "# SKIP peer uid check needs root");
    return;
  }
  srv = new_server(fx, 0, true);
  snprintf(path, sizeof(path), "%s/uid.sock", dir);
  runm_ttrpc_server_listen_unix(srv, path, &err);
  chmod(path, 0666); /* let the other user reach the socket at all */
  chmod(dir, 0755);
  runm_ttrpc_server_start(srv, &err);
  pid = fork();
  if (pid == 0) {
    Containerd__Task__V2__StateRequest s = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
    int fd;
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(2);
    fd = raw_connect(path);
    if (fd < 0) _exit(3);
    s.id = (char *)"c1";
    raw_request(fd, 1, TASK, "State", &s.base);
    _exit(raw_status(fd, NULL) == -1 ? 0 : 1); /* closed without an answer */
  }
  waitpid(pid, &status, 0);
  ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "require_same_user: other uid gets no answer");
  runm_ttrpc_server_free(srv);
}

int main(void)
{
  cleanup_error runm_error_t err = NULL;
  char dir[] = "/tmp/runm-ttrpc-XXXXXX";
  char path[256];
  struct fixture fx = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  struct runm_ttrpc_server *srv;
  struct runm_ttrpc_client *c;

  alarm(120); /* a hang is a failure, not a stuck test run */
  if (mkdtemp(dir) == NULL) return 1;
  snprintf(path, sizeof(path), "%s/ttrpc.sock", dir);

  test_frames();

  srv = new_server(&fx, 0, false);
  ok(srv != NULL, "server created");
  is_int(runm_ttrpc_server_listen_unix(srv, path, &err), 0, "listen on a temp socket");
  is_int(runm_ttrpc_server_start(srv, &err), 0, "server started");
  c = runm_ttrpc_client_connect(path, &err);
  ok(c != NULL, "client connected");

  test_roundtrips(c, &fx);
  test_errors(c);
  test_concurrency(c, &fx);
  test_timeouts(c, &fx);
  test_hostile(path, c, &fx);

  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);
  ok(access(path, F_OK) < 0, "socket removed at free");

  test_limits(&fx);
  test_shutdown(dir, &fx);
  test_listen(dir, &fx);
  test_peer_uid(dir, &fx);

  rmdir(dir);
  return tap_done();
}

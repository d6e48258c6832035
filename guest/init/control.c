/* Handlers that act on a running container or ask about it: Kill, State,
 * Pids, Pause, Resume, Update, Stats, Wait, ResizePty, CloseStdin. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "handlers.h"
#include "init.h"
#include "jsonscan.h"
#include "runc.h"
#include "cgroup_stats.h"
#include "tty.h"
#include "runm/v1/guest.pb-c.h"

/* `runc ps` output for a container with many processes. */
#define PS_OUT_MAX (256 * 1024)
#define PIDS_MAX 16384
#define RESOURCES_JSON_MAX (1024 * 1024)

static int check_ids(const char *id, const char *exec_id, runm_error_t *err)
{
  if (validate_id("container id", id, false, err) < 0) return -1;
  if (exec_id && validate_id("exec id", exec_id, true, err) < 0) return -1;
  return 0;
}

static int kill_init(struct registry *reg, const Runm__V1__KillRequest *r, runm_error_t *err)
{
  cleanup_container_op struct container *c = container_op_begin(reg, r->id, false, err);
  char sig[16];
  const char *args[6];
  size_t n = 0;
  struct runc_io io;
  enum proc_state st;

  if (c == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  st = c->init->state;
  pthread_mutex_unlock(&reg->lock);
  if (st == PROC_STOPPED && !r->all)
    return runm_make_error(err, ENOENT, "process already finished");
  snprintf(sig, sizeof(sig), "%u", r->signal);
  args[n++] = "kill";
  if (r->all) args[n++] = "--all";
  args[n++] = r->id;
  args[n++] = sig;
  args[n] = NULL;
  runc_io_init(&io);
  if (runc_run(reg->reaper, args, &io, EIO, err) < 0) {
    if ((*err)->status == ENOENT) return runm_make_error(err, ENOENT, "process already finished");
    return runm_error_wrap(err, "kill `%s`", r->id);
  }
  return 0;
}

int svc_kill(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
             ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__KillRequest *r = (const Runm__V1__KillRequest *)req;
  cleanup_process struct process *p = NULL;
  int ret = 0;

  if (check_ids(r->id, r->exec_id, err) < 0) return -1;
  if (r->signal == 0 || r->signal >= 65)
    return runm_make_error(err, EINVAL, "signal %u is not a signal number", r->signal);
  if (r->exec_id[0] == '\0') {
    if (kill_init(reg, r, err) < 0) return -1;
    return handler_empty(resp, err);
  }
  p = registry_get_process(reg, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  switch (p->state) {
  case PROC_CREATED:
  case PROC_STARTING:
    ret = runm_make_error(err, EBUSY, "exec `%s` has not started", r->exec_id);
    break;
  case PROC_STOPPED: ret = runm_make_error(err, ENOENT, "process already finished"); break;
  case PROC_RUNNING:
  default: ret = process_signal(p, (int)r->signal, err); break;
  }
  pthread_mutex_unlock(&reg->lock);
  if (ret < 0) return ret;
  return handler_empty(resp, err);
}

/* runc's view of a live init: its status word and pid. */
static int runc_state(struct registry *reg, const char *id, char *status, size_t cap, pid_t *pid,
                      runm_error_t *err)
{
  const char *args[] = {"state", id, NULL};
  char out[8192];
  struct runc_io io;
  struct jscan_span doc, v;
  int64_t x;

  runc_io_init(&io);
  io.out = out;
  io.out_cap = sizeof(out);
  if (runc_run(reg->reaper, args, &io, EIO, err) < 0) return runm_error_wrap(err, "state `%s`", id);
  doc.p = out;
  doc.len = io.out_len;
  if (!jscan_object_get(doc, "status", &v) || !jscan_string(v, status, cap))
    return runm_make_error(err, EIO, "runc state `%s`: no status in its output", id);
  if (jscan_object_get(doc, "pid", &v) && jscan_int(v, &x)) *pid = (pid_t)x;
  return 0;
}

int svc_state(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
              ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__StateRequest *r = (const Runm__V1__StateRequest *)req;
  cleanup_container_op struct container *c = NULL;
  cleanup_process struct process *p = NULL;
  Runm__V1__StateResponse *out;
  char status[32];
  enum proc_state st;
  pid_t pid;

  if (check_ids(r->id, r->exec_id, err) < 0) return -1;
  c = container_op_begin(reg, r->id, false, err);
  if (c == NULL) return -1;
  p = registry_get_process(reg, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  out = RESP_NEW(Runm__V1__StateResponse, RUNM__V1__STATE_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "state");
  *resp = &out->base;
  pthread_mutex_lock(&reg->lock);
  st = p->state;
  pid = p->pid;
  out->exit_status = p->exit_status;
  out->exited_at_ns = p->exited_at;
  out->terminal = p->terminal;
  out->stdin = p->stdin;
  pthread_mutex_unlock(&reg->lock);
  switch (st) {
  case PROC_CREATED:
  case PROC_STARTING: snprintf(status, sizeof(status), "created"); break;
  case PROC_STOPPED: snprintf(status, sizeof(status), "stopped"); break;
  case PROC_RUNNING:
  default: snprintf(status, sizeof(status), "running"); break;
  }
  /* What `runc state` would say, without starting runc: a Go binary whose
   * start costs ~0.3-0.5 s under TCG, and containerd asks for the state
   * after every Start. Init knows created, running and stopped from its
   * own calls and its reaper; paused is the cgroup's freezer, which is
   * what runc reads (libcontainer's isPaused). An exec reports its
   * container's pause, as runc-v2's exec processes do. Only a container
   * whose cgroup init could not learn at create still asks runc. */
  if (st != PROC_STOPPED && c->cgroup[0] != '\0') {
    if (cgroup_frozen(c->cgroup)) snprintf(status, sizeof(status), "paused");
  } else if (r->exec_id[0] == '\0' && st != PROC_STOPPED) {
    pid_t rpid = 0;
    if (runc_state(reg, r->id, status, sizeof(status), &rpid, err) < 0) return -1;
    if (rpid > 0) pid = rpid;
  }
  out->id = strdup(r->id);
  out->exec_id = strdup(r->exec_id);
  out->status = strdup(status);
  out->bundle = strdup(c->bundle);
  out->pid = (uint32_t)pid;
  if (!out->id || !out->exec_id || !out->status || !out->bundle)
    return runm_make_error(err, ENOMEM, "state");
  return 0;
}

struct pid_list {
  Runm__V1__PidsResponse *out;
  bool oom;
};

static bool add_pid(void *arg, int64_t v)
{
  struct pid_list *l = arg;
  Runm__V1__ProcessInfo *pi;
  if (l->out->n_processes >= PIDS_MAX || v <= 0) return false;
  pi = RESP_NEW(Runm__V1__ProcessInfo, RUNM__V1__PROCESS_INFO__INIT);
  if (pi == NULL) {
    l->oom = true;
    return false;
  }
  pi->pid = (uint32_t)v;
  l->out->processes[l->out->n_processes++] = pi;
  return true;
}

int svc_pids(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
             ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__PidsRequest *r = (const Runm__V1__PidsRequest *)req;
  cleanup_container_op struct container *c = NULL;
  cleanup_free char *buf = NULL;
  const char *args[] = {"ps", "--format", "json", r->id, NULL};
  struct runc_io io;
  struct pid_list l;
  Runm__V1__PidsResponse *out;

  if (check_ids(r->id, NULL, err) < 0) return -1;
  c = container_op_begin(reg, r->id, false, err);
  if (c == NULL) return -1;
  buf = malloc(PS_OUT_MAX);
  out = RESP_NEW(Runm__V1__PidsResponse, RUNM__V1__PIDS_RESPONSE__INIT);
  if (out) {
    *resp = &out->base;
    out->processes = calloc(PIDS_MAX, sizeof(*out->processes));
  }
  if (buf == NULL || out == NULL || out->processes == NULL)
    return runm_make_error(err, ENOMEM, "pids");
  runc_io_init(&io);
  io.out = buf;
  io.out_cap = PS_OUT_MAX;
  if (runc_run(reg->reaper, args, &io, EIO, err) < 0) return runm_error_wrap(err, "ps `%s`", r->id);
  l.out = out;
  l.oom = false;
  if (!jscan_int_array((struct jscan_span){buf, io.out_len}, add_pid, &l))
    return runm_make_error(err, l.oom ? ENOMEM : EIO, "runc ps `%s`: unexpected output", r->id);
  pthread_mutex_lock(&reg->lock);
  for (size_t i = 0; i < out->n_processes; i++)
    for (struct process *p = c->execs; p; p = p->next)
      if (p->state == PROC_RUNNING && (uint32_t)p->pid == out->processes[i]->pid) {
        char *e = strdup(p->exec_id);
        if (e == NULL) l.oom = true;
        else out->processes[i]->exec_id = e;
        break;
      }
  pthread_mutex_unlock(&reg->lock);
  if (l.oom) return runm_make_error(err, ENOMEM, "pids");
  return 0;
}

static int simple_op(struct init_ctx *ctx, const char *verb, const char *id, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  struct registry *reg = ctx->registry;
  cleanup_container_op struct container *c = NULL;
  const char *args[] = {verb, id, NULL};
  struct runc_io io;

  if (check_ids(id, NULL, err) < 0) return -1;
  c = container_op_begin(reg, id, true, err);
  if (c == NULL) return -1;
  runc_io_init(&io);
  if (runc_run(reg->reaper, args, &io, EBUSY, err) < 0)
    return runm_error_wrap(err, "%s `%s`", verb, id);
  return handler_empty(resp, err);
}

int svc_pause(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
              ProtobufCMessage **resp, runm_error_t *err)
{
  return simple_op(opaque, "pause", ((const Runm__V1__ContainerRequest *)req)->id, resp, err);
}

int svc_resume(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
               ProtobufCMessage **resp, runm_error_t *err)
{
  return simple_op(opaque, "resume", ((const Runm__V1__ContainerRequest *)req)->id, resp, err);
}

int svc_update(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
               ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__UpdateRequest *r = (const Runm__V1__UpdateRequest *)req;
  cleanup_container_op struct container *c = NULL;
  const char *args[] = {"update", "--resources", "-", r->id, NULL};
  struct runc_io io;
  size_t i = 0;

  if (check_ids(r->id, NULL, err) < 0) return -1;
  if (r->resources_json.len > RESOURCES_JSON_MAX)
    return runm_make_error(err, E2BIG, "resources_json is %zu bytes; the limit is %d",
                           r->resources_json.len, RESOURCES_JSON_MAX);
  while (i < r->resources_json.len && strchr(" \t\r\n", r->resources_json.data[i])) i++;
  if (i == r->resources_json.len || r->resources_json.data[i] != '{')
    return runm_make_error(err, EINVAL, "resources_json is not a JSON object");
  c = container_op_begin(reg, r->id, false, err);
  if (c == NULL) return -1;
  runc_io_init(&io);
  io.input = (const char *)r->resources_json.data;
  io.input_len = r->resources_json.len;
  if (runc_run(reg->reaper, args, &io, EINVAL, err) < 0)
    return runm_error_wrap(err, "update `%s`", r->id);
  return handler_empty(resp, err);
}

int svc_stats(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
              ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__ContainerRequest *r = (const Runm__V1__ContainerRequest *)req;
  cleanup_container_op struct container *c = NULL;
  Runm__V1__StatsResponse *out;

  if (check_ids(r->id, NULL, err) < 0) return -1;
  c = container_op_begin(ctx->registry, r->id, false, err);
  if (c == NULL) return -1;
  out = RESP_NEW(Runm__V1__StatsResponse, RUNM__V1__STATS_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "stats");
  *resp = &out->base;
  /* c->cgroup is written once, by Create, under the op lock held for
   * writing; readers hold it for reading. */
  if (cgroup_stats(c->cgroup, out, err) < 0) return runm_error_wrap(err, "stats `%s`", r->id);
  return 0;
}

int svc_wait(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
             ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__WaitRequest *r = (const Runm__V1__WaitRequest *)req;
  cleanup_process struct process *p = NULL;
  Runm__V1__WaitResponse *out;

  if (check_ids(r->id, r->exec_id, err) < 0) return -1;
  p = registry_get_process(reg, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  if (process_wait_exit(p, call, err) < 0) return -1;
  out = RESP_NEW(Runm__V1__WaitResponse, RUNM__V1__WAIT_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "wait");
  pthread_mutex_lock(&reg->lock);
  out->exit_status = p->exit_status;
  out->exited_at_ns = p->exited_at;
  pthread_mutex_unlock(&reg->lock);
  *resp = &out->base;
  return 0;
}

int svc_resize_pty(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                   ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__ResizePtyRequest *r = (const Runm__V1__ResizePtyRequest *)req;
  cleanup_process struct process *p = NULL;
  int master;

  if (check_ids(r->id, r->exec_id, err) < 0) return -1;
  p = registry_get_process(reg, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  master = p->master; /* stays open while p is referenced */
  pthread_mutex_unlock(&reg->lock);
  if (!p->terminal || master < 0)
    return runm_make_error(err, EBUSY, "process `%s%s%s` has no terminal", r->id,
                           r->exec_id[0] ? "/" : "", r->exec_id);
  if (tty_resize(master, r->rows, r->cols, err) < 0) return -1;
  return handler_empty(resp, err);
}

int svc_close_stdin(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                    ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__ProcessRequest *r = (const Runm__V1__ProcessRequest *)req;
  cleanup_process struct process *p = NULL;

  if (check_ids(r->id, r->exec_id, err) < 0) return -1;
  p = registry_get_process(ctx->registry, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  process_close_stdin(p);
  return handler_empty(resp, err);
}

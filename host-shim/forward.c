/* The one guest-call path and the Task methods that are one guest call
 * (forward.h). */
#include "forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "containerd/cgroups/v2/metrics.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "pb.h"
#include "publish.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"
#include "stdio_relay.h"
#include "ttrpc.h"
#include "vm.h"
#include "xalloc.h"

#define VERSION "runm 0.1.0"

/* runc-v2's words for a failed runtime call (containerd's pkg/process). */
static const char *oci_failure(const char *method, const ProtobufCMessage *req)
{
  static const char *const words[][2] = {
      {"Create", "OCI runtime create failed"}, {"Pause", "OCI runtime pause failed"},
      {"Resume", "OCI runtime resume failed"}, {"Update", "OCI runtime update failed"},
      {"Delete", "failed to delete task"},
  };
  if (strcmp(method, "Start") == 0) {
    const char *e = ((const Runm__V1__StartRequest *)req)->exec_id;
    return e && e[0] ? "OCI runtime exec failed" : "OCI runtime start failed";
  }
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if (strcmp(method, words[i][0]) == 0) return words[i][1];
  return NULL;
}

/* A guest call's error as containerd gets it, shaped like runc-v2's: the
 * guest's text (escaped by the rpc layer) after runc-v2's words, the RPC
 * path only in the debug log. runc's failures (the guest's INVALID_ARGUMENT
 * or INTERNAL) go out as Unknown, as runc-v2's do, except a missing file
 * (NotFound); the guest's other codes (NotFound for a process gone, ...)
 * stay. */
static int guest_error(struct shim *s, const char *method, const ProtobufCMessage *req,
                       runm_error_t *err)
{
  char full[96];
  const char *det, *words = oci_failure(method, req);
  static const char enoent[] = "no such file or directory";
  size_t dl;
  int status;
  bool runtime = false; /* runc failed: runc-v2 puts its words first */

  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", method);
  det = runm_rpc_error_details(*err, full);
  if (det == NULL) return -1; /* not the guest's answer: keep it as it is */
  runm_log(&s->log, RUNM_LOG_DEBUG, "%s", (*err)->msg);
  dl = strlen(det);
  status = (*err)->status;
  /* The guest rendered its errno after its text (": Invalid argument"):
   * the code says it, runc-v2 does not write it. */
  if (status > 0) {
    const char *e = strerror(status);
    size_t el = strlen(e);
    if (dl >= el + 2 && strcmp(det + dl - el, e) == 0 && strncmp(det + dl - el - 2, ": ", 2) == 0)
      dl -= el + 2;
  }
  if (status == EINVAL || status == EIO) {
    runtime = true;
    status = 0;
  }
  if (dl >= strlen(enoent) && strncasecmp(det + dl - strlen(enoent), enoent, strlen(enoent)) == 0)
    status = ENOENT;
  {
    cleanup_free char *text = strndup(det, dl);
    if (text == NULL) return -1;
    if (words && runtime) return runm_make_error(err, status, "%s: %s", words, text);
    return runm_make_error(err, status, "%s", text);
  }
}

int guest_call(struct shim *s, const char *method, const ProtobufCMessage *req, ProtobufCMessage **resp,
               int64_t max_ms, runm_error_t *err)
{
  struct runm_rpc_client *cl;
  int64_t ms = runm_ttrpc_current_timeout_ms();
  int ret;
  *resp = NULL;
  if (ms == 0) return runm_make_error(err, ETIMEDOUT, "/runm.v1.Guest/%s: containerd's deadline has passed", method);
  /* containerd's deadline, within the host's bound on any guest call (a
   * guest that never answers holds a handler thread that long at most),
   * then within the call's own limit. */
  if (ms < 0 || ms > GUEST_TIMEOUT_MS) ms = GUEST_TIMEOUT_MS;
  if (max_ms >= 0 && ms > max_ms) ms = max_ms;
  /* Counted while it uses the client: another container's Delete may stop
   * the VM meanwhile (task_vm_stop), and frees the client only after. */
  pthread_mutex_lock(&s->lock);
  cl = s->vm ? s->vm->client : NULL;
  if (cl) s->guest_calls++;
  pthread_mutex_unlock(&s->lock);
  if (cl == NULL) return runm_make_error(err, ENOENT, "the shim of `%s` has no VM", s->id);
  ret = runm_rpc_call(cl, &runm__v1__guest__descriptor, method, req, resp, ms, err);
  pthread_mutex_lock(&s->lock);
  s->guest_calls--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  if (ret == 0) return 0;
  return guest_error(s, method, req, err);
}

int t_pids(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__PidsRequest *r = (const void *)rq;
  Runm__V1__PidsRequest gr = RUNM__V1__PIDS_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__PidsResponse *out;
  Runm__V1__PidsResponse *g;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  /* Guest pids, as `ctr task ps` lists them: informational only, never a
   * host process (runc-v2 gives container pids here; Kata its VMM's). */
  if (guest_call(s, "Pids", &gr.base, &gresp, -1, err) < 0) return -1;
  g = (Runm__V1__PidsResponse *)gresp;
  out = (void *)runm_pb_new(&containerd__task__v2__pids_response__descriptor);
  out->processes = runm_xcalloc(g->n_processes + 1, sizeof(*out->processes));
  for (size_t i = 0; i < g->n_processes; i++) {
    Containerd__V1__Types__ProcessInfo *pi = (void *)runm_pb_new(&containerd__v1__types__process_info__descriptor);
    pi->pid = g->processes[i]->pid;
    out->processes[out->n_processes++] = pi;
  }
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

static int pause_resume(struct shim *s, const char *id, bool pause, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  if (guest_call(s, pause ? "Pause" : "Resume", &gr.base, &gresp, -1, err) < 0)
    return -1;
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  if (pause) {
    Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
    ev.container_id = c->id;
    publisher_publish(s->pub, "/tasks/paused", &ev.base);
  } else {
    Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
    ev.container_id = c->id;
    publisher_publish(s->pub, "/tasks/resumed", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_pause(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__PauseRequest *)rq)->id, true, resp, err);
}

int t_resume(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__ResumeRequest *)rq)->id, false, resp, err);
}

int t_checkpoint(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  return runm_make_error(err, ENOSYS,
                         "checkpoint is not supported by runm: the container's state lives in "
                         "its VM, and runc's CRIU checkpointing is not available there");
}

int t_resize(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__ResizePtyRequest *r = (const void *)rq;
  Runm__V1__ResizePtyRequest gr = RUNM__V1__RESIZE_PTY_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  gr.rows = r->height;
  gr.cols = r->width;
  if (guest_call(s, "ResizePty", &gr.base, &gresp, -1, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_closeio(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__CloseIORequest *r = (const void *)rq;
  struct shim_process *p;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  if (p && r->stdin && p->io) io_relay_close_stdin(p->io);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_update(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)rq;
  Runm__V1__UpdateRequest gr = RUNM__V1__UPDATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  if (r->resources == NULL || r->resources->value.len == 0)
    return runm_make_error(err, EINVAL, "update without resources");
  gr.id = c->id;
  gr.resources_json = r->resources->value;
  if (guest_call(s, "Update", &gr.base, &gresp, -1, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static void *pack_any(const ProtobufCMessage *m, const char *url, Google__Protobuf__Any **out)
{
  Google__Protobuf__Any *a = (void *)runm_pb_new(&google__protobuf__any__descriptor);
  a->type_url = runm_xstrdup(url);
  a->value.len = protobuf_c_message_get_packed_size(m);
  a->value.data = runm_xmalloc(a->value.len);
  protobuf_c_message_pack(m, a->value.data);
  *out = a;
  return a;
}

int t_stats(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StatsRequest *r = (const void *)rq;
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StatsResponse *out;
  Runm__V1__StatsResponse *g;
  Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
  Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
  Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryEvents mev = IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
  Io__Containerd__Cgroups__V2__IOStat io = IO__CONTAINERD__CGROUPS__V2__IOSTAT__INIT;
  Io__Containerd__Cgroups__V2__IOEntry ioe = IO__CONTAINERD__CGROUPS__V2__IOENTRY__INIT;
  Io__Containerd__Cgroups__V2__IOEntry *ioes[1] = {&ioe};

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  if (guest_call(s, "Stats", &gr.base, &gresp, -1, err) < 0) return -1;
  g = (Runm__V1__StatsResponse *)gresp;
  pids.current = g->pids_current;
  pids.limit = g->pids_max;
  cpu.usage_usec = g->cpu_usage_usec;
  cpu.user_usec = g->cpu_user_usec;
  cpu.system_usec = g->cpu_system_usec;
  cpu.nr_periods = g->cpu_nr_periods;
  cpu.nr_throttled = g->cpu_nr_throttled;
  cpu.throttled_usec = g->cpu_throttled_usec;
  mem.anon = g->memory_anon;
  mem.file = g->memory_file;
  mem.usage = g->memory_current;
  mem.usage_limit = g->memory_max;
  mem.swap_usage = g->memory_swap_current;
  mev.max = g->memory_events_max;
  mev.oom = g->memory_events_oom;
  mev.oom_kill = g->memory_events_oom_kill;
  ioe.rbytes = g->io_rbytes;
  ioe.wbytes = g->io_wbytes;
  ioe.rios = g->io_rios;
  ioe.wios = g->io_wios;
  io.n_usage = 1;
  io.usage = ioes;
  m.pids = &pids;
  m.cpu = &cpu;
  m.memory = &mem;
  m.memory_events = &mev;
  m.io = &io;
  out = (void *)runm_pb_new(&containerd__task__v2__stats_response__descriptor);
  pack_any(&m.base, "io.containerd.cgroups.v2.Metrics", &out->stats);
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

int t_connect(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__ConnectRequest *r = (const void *)rq;
  Containerd__Task__V2__ConnectResponse *out;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  out = (void *)runm_pb_new(&containerd__task__v2__connect_response__descriptor);
  out->shim_pid = (uint32_t)getpid();
  pthread_mutex_lock(&s->lock);
  /* The task's QEMU, like every pid the host is given. */
  out->task_pid = (uint32_t)s->vm_pid;
  pthread_mutex_unlock(&s->lock);
  out->version = runm_xstrdup(VERSION);
  *resp = &out->base;
  return 0;
}


/* containerd's Task service on top of the guest service: the methods that
 * change a container's life (Create, Start, Exec, Kill, Delete) or read it
 * (State, Wait), and Shutdown; the one-call forwarders are in forward.c,
 * the VM in task_vm.c, the container table in container.c. Events follow
 * in containerd's order. */
#include "task.h"
#include "create.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "exports.h"
#include "forward.h"
#include "fusebind.h"
#include "guest_reply.h"
#include "guest_spec.h"
#include "hooks.h"
#include "lifecycle.h"
#include "pb.h"
#include "publish.h"
#include "resolv.h"
#include "rlimits.h"
#include "rootfs.h"
#include "runm/v1/guest.pb-c.h"
#include "spec.h"
#include "stdio_relay.h"
#include "task_vm.h"
#include "timing.h"
#include "vm.h"
#include "xalloc.h"

static int t_start(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StartRequest *r = (const void *)rq;
  Runm__V1__StartRequest gr = RUNM__V1__START_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StartResponse *out;
  struct shim_process *p;
  uint32_t pid;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  shim_timing_mark(s->vm_id, p->exec_id[0] ? "exec.start.begin" : "start.begin", 0);
  /* runc runs startContainer hooks (and poststop, if it fails) now. */
  if (p->exec_id[0] == '\0') hooks_set_phase(s->hooks, HOOK_PHASE_START);
  {
    int gret = guest_call(s, "Start", &gr.base, &gresp, -1, err);
    if (p->exec_id[0] == '\0') hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
    if (gret < 0) return -1;
  }
  shim_timing_mark(s->vm_id, p->exec_id[0] ? "exec.start.end" : "start.end", 0);
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  /* Execs too: as Kata does, every process of the task is its VMM to the
   * host (containerd keys processes by exec id, not by pid). */
  pid = (uint32_t)s->vm_pid;
  p->pid = pid;
  p->started = true;
  if (p->exec_id[0]) {
    Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
    ev.container_id = c->id;
    ev.exec_id = p->exec_id;
    ev.pid = pid;
    publisher_publish(s->pub, "/tasks/exec-started", &ev.base);
  } else {
    Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
    ev.container_id = c->id;
    ev.pid = pid;
    publisher_publish(s->pub, "/tasks/start", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  out = (void *)runm_pb_new(&containerd__task__v2__start_response__descriptor);
  out->pid = pid;
  *resp = &out->base;
  return 0;
}

static int t_exec(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__ExecProcessRequest *r = (const void *)rq;
  Runm__V1__ExecRequest gr = RUNM__V1__EXEC_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_process *p;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  if (r->exec_id == NULL || r->exec_id[0] == '\0') return runm_make_error(err, EINVAL, "exec id is empty");
  if (r->spec == NULL || r->spec->value.len == 0)
    return runm_make_error(err, EINVAL, "exec `%s` has no process spec", r->exec_id);
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p) return runm_make_error(err, EEXIST, "exec `%s` already exists", r->exec_id);
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  gr.process_json = r->spec->value;
  gr.terminal = r->terminal;
  gr.stdin = r->stdin && r->stdin[0];
  shim_timing_mark(s->vm_id, "exec.begin", 0);
  if (guest_call(s, "Exec", &gr.base, &gresp, -1, err) < 0) return -1;
  shim_timing_mark(s->vm_id, "exec.guest", 0);
  runm_pb_free(gresp);
  p = proc_new(c, r->exec_id, r->stdin, r->stdout, r->stderr, r->terminal);
  if (task_start_io(s, p, err) < 0) {
    Runm__V1__DeleteRequest dr = RUNM__V1__DELETE_REQUEST__INIT;
    cleanup_error runm_error_t e2 = NULL;
    dr.id = c->id;
    dr.exec_id = r->exec_id;
    dr.force = true;
    guest_call(s, "Delete", &dr.base, &gresp, -1, &e2);
    runm_pb_free(gresp);
    proc_free(p);
    return -1;
  }
  pthread_mutex_lock(&s->lock);
  /* Execs go after the init, which stays first. */
  struct shim_process **tail = &c->procs;
  while (*tail) tail = &(*tail)->next;
  *tail = p;
  {
    Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
    ev.container_id = c->id;
    ev.exec_id = p->exec_id;
    publisher_publish(s->pub, "/tasks/exec-added", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_kill(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__KillRequest *r = (const void *)rq;
  Runm__V1__KillRequest gr = RUNM__V1__KILL_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_process *p = NULL;
  bool enforce = r->signal == SIGKILL && (r->exec_id == NULL || r->exec_id[0] == '\0');
  struct timespec t0, t1;
  int64_t left_ms;
  int ret;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  /* An exited process is not signalled (its VM may be gone with it):
   * NotFound, as runc-v2 answers, which is what containerd's
   * WithProcessKill (CRI's exit handling) takes for done. */
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  ret = p && p->exited;
  p = NULL;
  pthread_mutex_unlock(&s->lock);
  if (ret) return runm_make_error(err, ENOENT, "process already finished");
  /* SIGKILL of a running init is the host's to carry out: the guest gets
   * LIFE_KILL_GRACE_MS to report the exit, then QEMU is killed. */
  if (enforce) {
    pthread_mutex_lock(&s->lock);
    p = proc_find_locked(c, "");
    enforce = p && p->started && !p->exited;
    if (enforce) p->waiters++;
    pthread_mutex_unlock(&s->lock);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  gr.signal = r->signal;
  gr.all = r->all;
  ret = guest_call(s, "Kill", &gr.base, &gresp, enforce ? LIFE_KILL_GRACE_MS : LIFE_GUEST_CONTROL_MS, err);
  runm_pb_free(gresp);
  if (!enforce) {
    if (ret < 0) return -1;
    *resp = runm_pb_new(&google__protobuf__empty__descriptor);
    return 0;
  }
  if (ret < 0) {
    cleanup_free char *msg = runm_error_string(*err);
    runm_log(&s->log, RUNM_LOG_WARN, "SIGKILL: the guest's Kill failed (%s); the host ends the task",
             msg ? msg : "error");
    runm_error_release(err);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  left_ms = LIFE_KILL_GRACE_MS - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
  pthread_mutex_lock(&s->lock);
  if (!proc_wait_exit_locked(s, p, left_ms > 0 ? left_ms : 0))
    proc_end_locked(s, p, "SIGKILL: the guest did not end the task in time");
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

/* After c's init was deleted: c's execs end, their waiters answer first.
 * The last container takes the VM with it; before that (a pod), the VM
 * runs on and only what c took on the host goes (the first container's
 * exports hold the VM's share: they go with the VM). */
static void container_deleted(struct shim *s, struct shim_container *c)
{
  unsigned live;
  /* Counted inside the teardown: of two Deletes in a race, the second
   * sees the first's container gone and the last one takes the VM. */
  pthread_mutex_lock(&s->teardown);
  pthread_mutex_lock(&s->lock);
  live = container_count_locked(s);
  pthread_mutex_unlock(&s->lock);
  if (live > 0) {
    container_abort(s, c);
    pthread_mutex_lock(&s->lock);
    for (struct shim_process *q = c->procs; q; q = q->next)
      while (q->waiters > 0) pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    container_free_procs(c);
    if (c != s->leader) container_release_host(c);
    pthread_mutex_unlock(&s->teardown);
    return;
  }
  task_abort(s);
  pthread_mutex_lock(&s->lock);
  for (struct shim_process *q = c->procs; q; q = q->next)
    while (q->waiters > 0) pthread_cond_wait(&s->changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  task_vm_pid_forget(s);
  task_cleanup(s);
  pthread_mutex_unlock(&s->teardown);
}

/* Whether deleting c, a task's init, ends its VM with nothing for runc in
 * the guest to do first. Then the shim does not ask for `runc delete`: a
 * start of runc's Go binary under TCG (~0.3 s of every cold start) that
 * would only tidy a guest about to be stopped. Its one effect beyond the
 * guest, the spec's poststop hooks, the host runs itself (t_delete). Not
 * in a pod (another container may still come), or while a process of c
 * has not exited or never started (runc-v2's delete refuses or kills; the
 * guest's does too). */
static bool delete_ends_vm(struct shim *s, struct shim_container *c)
{
  bool ends;

  pthread_mutex_lock(&s->lock);
  ends = !s->pod && container_count_locked(s) == 1;
  for (struct shim_process *q = c->procs; ends && q; q = q->next)
    if (!q->started || !q->exited) ends = false;
  pthread_mutex_unlock(&s->lock);
  return ends;
}

static int t_delete(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__DeleteRequest *r = (const void *)rq;
  Runm__V1__DeleteRequest gr = RUNM__V1__DELETE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__DeleteResponse *out;
  struct shim_process *p;
  bool init = r->exec_id == NULL || r->exec_id[0] == '\0';
  bool skip_guest;
  uint32_t pid, status;
  int64_t at;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", init ? c->id : r->exec_id);
  shim_timing_mark(s->vm_id, init ? "delete.begin" : "exec.delete.begin", 0);
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  /* A created-but-never-started process is killed, as runc-v2 does. */
  gr.force = !p->started;
  skip_guest = init && delete_ends_vm(s, c);
  /* runc runs poststop hooks when it deletes the container; a guest not
   * asked to delete has no hook to ask for. */
  if (init && !skip_guest) hooks_set_phase(s->hooks, HOOK_PHASE_DELETE);
  if (skip_guest) {
    /* Nothing to ask the guest: the VM stops below. runc would run the
     * poststop hooks now, after the container's processes are gone; the
     * host runs them (allow-listed from the spec, state "stopped"), as it
     * does for a VM that died (task_net_teardown). Without a pid, as runc
     * gives it: the container's processes are gone. */
    hooks_set_pid(s->hooks, 0);
    hooks_run_poststop(s->hooks, true);
  } else if (guest_call(s, "Delete", &gr.base, &gresp, LIFE_GUEST_CONTROL_MS, err) < 0) {
    if (init) hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
    /* The VM is gone, or its guest does not answer: deleting must still
     * work (the host ends the VM below). */
    if (!(init && ((*err)->status == ECONNREFUSED || (*err)->status == ETIMEDOUT))) return -1;
    {
      cleanup_free char *msg = runm_error_string(*err);
      runm_log(&s->log, RUNM_LOG_WARN, "Delete: %s; the host ends the task", msg ? msg : "error");
    }
    runm_error_release(err);
  }
  if (init) hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
  runm_pb_free(gresp);
  if (init) shim_timing_mark(s->vm_id, "delete.guest", 0);
  pthread_mutex_lock(&s->lock);
  if (p->started || !init) {
    /* Output drained and exit published first, so that Delete never
     * overtakes TaskExit; but only for so long. */
    if (!proc_wait_exit_locked(s, p, LIFE_GUEST_CONTROL_MS) &&
        proc_end_locked(s, p, "Delete: the process did not exit") < 0) {
      pthread_mutex_unlock(&s->lock);
      return runm_make_error(err, EBUSY, "exec `%s` is still running in the guest", p->exec_id);
    }
  } else if (!p->exited) {
    p->exited = true;
    p->exit_status = LIFE_KILLED_STATUS;
    p->exited_at_ns = runm_realtime_ns();
  }
  /* Waits and Kills that hold p let go of it once it has exited. */
  while (p->waiters > 0) pthread_cond_wait(&s->changed, &s->lock);
  pid = p->pid;
  status = p->exit_status;
  at = p->exited_at_ns;
  for (struct shim_process **pp = &c->procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  if (init) {
    Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    runm_pb_timestamp_set(&ts, at);
    ev.container_id = c->id;
    ev.pid = pid;
    ev.exit_status = status;
    ev.exited_at = &ts;
    ev.id = c->id;
    publisher_publish(s->pub, "/tasks/delete", &ev.base);
    c->deleted = true;
  }
  pthread_mutex_unlock(&s->lock);
  proc_free(p);
  if (init) container_deleted(s, c);
  shim_timing_mark(s->vm_id, init ? "delete.end" : "exec.delete.end", 0);
  out = (void *)runm_pb_new(&containerd__task__v2__delete_response__descriptor);
  out->pid = pid;
  out->exit_status = status;
  out->exited_at = runm_pb_timestamp_new(at);
  *resp = &out->base;
  return 0;
}

static int t_state(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StateRequest *r = (const void *)rq;
  Runm__V1__StateRequest gr = RUNM__V1__STATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StateResponse *out;
  struct shim_process *p;
  Containerd__V1__Types__Status st = CONTAINERD__V1__TYPES__STATUS__UNKNOWN;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  if (p) p->waiters++; /* a Delete does not free it under us */
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  out = (void *)runm_pb_new(&containerd__task__v2__state_response__descriptor);
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  pthread_mutex_lock(&s->lock);
  bool exited = p->exited;
  pthread_mutex_unlock(&s->lock);
  if (!exited && guest_call(s, "State", &gr.base, &gresp, LIFE_GUEST_CONTROL_MS, err) == 0) {
    st = guest_reply_status(((Runm__V1__StateResponse *)gresp)->status);
    runm_pb_free(gresp);
  } else {
    /* A guest that does not answer has not told us the process ended. */
    st = !exited && *err && (*err)->status == ETIMEDOUT ? CONTAINERD__V1__TYPES__STATUS__UNKNOWN
                                                        : CONTAINERD__V1__TYPES__STATUS__STOPPED;
    runm_error_release(err);
  }
  pthread_mutex_lock(&s->lock);
  if (p->exited) st = CONTAINERD__V1__TYPES__STATUS__STOPPED;
  out->id = runm_xstrdup(p->exec_id[0] ? p->exec_id : c->id);
  out->exec_id = runm_xstrdup(p->exec_id);
  out->bundle = runm_xstrdup(c->bundle);
  out->pid = p->pid;
  out->status = st;
  out->stdin = runm_xstrdup(p->stdin_path);
  out->stdout = runm_xstrdup(p->stdout_path);
  out->stderr = runm_xstrdup(p->stderr_path);
  out->terminal = p->terminal;
  out->exit_status = p->exit_status;
  if (p->exited) out->exited_at = runm_pb_timestamp_new(p->exited_at_ns);
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = &out->base;
  return 0;
}

static int t_wait(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__WaitRequest *r = (const void *)rq;
  Containerd__Task__V2__WaitResponse *out;
  struct shim_process *p;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  if (p == NULL) {
    pthread_mutex_unlock(&s->lock);
    return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  }
  /* No limit: a process may run for ever. What ends a wait is its exit,
   * which a SIGKILL, Delete or shutdown makes sure of (lifecycle.h). */
  p->waiters++;
  proc_wait_exit_locked(s, p, -1);
  out = (void *)runm_pb_new(&containerd__task__v2__wait_response__descriptor);
  out->exit_status = p->exit_status;
  out->exited_at = runm_pb_timestamp_new(p->exited_at_ns);
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = &out->base;
  return 0;
}

static int t_shutdown(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                      runm_error_t *err)
{
  const Containerd__Task__V2__ShutdownRequest *r = (const void *)rq;
  pthread_mutex_lock(&s->lock);
  /* Like runc-v2: a shim with a live task stays unless told `now`. */
  if (r->now || container_count_locked(s) == 0) {
    s->shutdown_requested = true;
    pthread_cond_broadcast(&s->changed);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

const struct task_method task_methods[] = {
    {"State", t_state},
    {"Create", t_create},
    {"Start", t_start},
    {"Delete", t_delete},
    {"Pids", t_pids},
    {"Pause", t_pause},
    {"Resume", t_resume},
    {"Checkpoint", t_checkpoint},
    {"Kill", t_kill},
    {"Exec", t_exec},
    {"ResizePty", t_resize},
    {"CloseIO", t_closeio},
    {"Update", t_update},
    {"Wait", t_wait},
    {"Stats", t_stats},
    {"Connect", t_connect},
    {"Shutdown", t_shutdown},
};
const size_t n_task_methods = sizeof(task_methods) / sizeof(task_methods[0]);

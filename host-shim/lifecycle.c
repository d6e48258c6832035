/* Process exits under the host's control (lifecycle.h). The guest is
 * untrusted: it may never answer, never report an exit, or report one only
 * after output nobody reads. Each wait here has a limit, and the last
 * resort is the host's own: SIGKILL to the task's QEMU through a pidfd
 * (never a pid that could have been reused). */
#include "lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pb.h"
#include "clock.h"
#include "containerd/events/task.pb-c.h"
#include "publish.h"
#include "stdio_relay.h"
#include "rpc.h"
#include "timing.h"
#include "vm.h"

static const char *proc_name(const struct shim_process *p)
{
  return p->exec_id[0] ? p->exec_id : p->c->id;
}

void proc_mark_exited_locked(struct shim *s, struct shim_process *p, uint32_t status)
{
  Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

  if (p->exited) return;
  p->exited = true;
  p->exit_status = status;
  p->exited_at_ns = runm_clock_ns(CLOCK_REALTIME);
  ev.container_id = p->c->id;
  ev.id = (char *)proc_name(p);
  ev.pid = p->pid;
  ev.exit_status = p->exit_status;
  runm_pb_timestamp_set(&ts, p->exited_at_ns);
  ev.exited_at = &ts;
  /* Published under the lock so a Delete cannot publish before the exit. */
  publisher_publish(s->pub, "/tasks/exit", &ev.base);
  if (p->exec_id[0] == '\0' && strcmp(p->c->id, s->id) == 0) shim_timing_mark(s->vm_id, "exit.published", 0);
  pthread_cond_broadcast(&s->changed);
}

/* Called by a process's io relay once all its output is out (or dropped). */
void proc_exited(void *opaque, bool exited, uint32_t status)
{
  struct shim_process *p = opaque;
  struct shim *s = p->c->shim;

  pthread_mutex_lock(&s->lock);
  if (!p->exited && !exited)
    runm_log(&s->log, RUNM_LOG_ERROR, "process `%s` lost: the VM's stdio stream failed", proc_name(p));
  /* The VM died under the process: report it as killed. */
  proc_mark_exited_locked(s, p, exited ? status : LIFE_KILLED_STATUS);
  pthread_mutex_unlock(&s->lock);
}

bool proc_wait_exit_locked(struct shim *s, struct shim_process *p, int64_t timeout_ms)
{
  int64_t until = runm_clock_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000LL;
  while (!p->exited) {
    struct timespec ts;
    if (timeout_ms < 0) {
      pthread_cond_wait(&s->changed, &s->lock);
      continue;
    }
    if (runm_clock_ns(CLOCK_MONOTONIC) >= until) break;
    ts.tv_sec = until / 1000000000LL;
    ts.tv_nsec = until % 1000000000LL;
    /* s->changed runs on CLOCK_MONOTONIC (shim_new). */
    pthread_cond_timedwait(&s->changed, &s->lock, &ts);
  }
  return p->exited;
}

void task_vm_pid_set(struct shim *s)
{
  pthread_mutex_lock(&s->lock);
  s->vm_pid = s->vm ? s->vm->pid : 0;
  /* QEMU is our child and not reaped yet: the pid is QEMU's. */
  if (s->vm_pidfd < 0 && s->vm_pid > 0) s->vm_pidfd = (int)syscall(SYS_pidfd_open, s->vm_pid, 0);
  pthread_mutex_unlock(&s->lock);
}

void task_vm_pid_forget(struct shim *s)
{
  pthread_mutex_lock(&s->lock);
  if (s->vm_pidfd >= 0) close(s->vm_pidfd);
  s->vm_pidfd = -1;
  s->vm_pid = 0;
  pthread_mutex_unlock(&s->lock);
}

void task_kill_vm_locked(struct shim *s, const char *why)
{
  int r = -1;
  if (s->vm_pidfd >= 0) r = (int)syscall(SYS_pidfd_send_signal, s->vm_pidfd, SIGKILL, NULL, 0);
  else if (s->vm_pid > 0) r = kill(s->vm_pid, SIGKILL); /* no pidfd: still unreaped, still ours */
  if (r == 0)
    runm_log(&s->log, RUNM_LOG_WARN, "%s: killed the task's VM (QEMU pid %d)", why, (int)s->vm_pid);
  else if (s->vm_pid > 0 && errno != ESRCH)
    runm_log(&s->log, RUNM_LOG_ERROR, "%s: cannot kill QEMU pid %d: %s", why, (int)s->vm_pid, strerror(errno));
}

int proc_end_locked(struct shim *s, struct shim_process *p, const char *why)
{
  if (p->exited) return 0;
  /* An exit the guest did report may wait behind output nobody reads. */
  if (p->io) io_relay_drop_output(p->io);
  if (proc_wait_exit_locked(s, p, LIFE_EXIT_AFTER_KILL_MS / 4)) return 0;
  if (p->exec_id[0]) return -1;
  task_kill_vm_locked(s, why);
  if (proc_wait_exit_locked(s, p, LIFE_EXIT_AFTER_KILL_MS)) return 0;
  runm_log(&s->log, RUNM_LOG_ERROR, "%s: no exit from process `%s` after its VM was killed: recorded as %d",
           why, proc_name(p), LIFE_KILLED_STATUS);
  proc_mark_exited_locked(s, p, LIFE_KILLED_STATUS);
  return 0;
}

/* The first process of c (every container's when c is NULL) still
 * running; lock held. */
static struct shim_process *live_proc_locked(struct shim *s, struct shim_container *only)
{
  for (struct shim_container *c = s->containers; c; c = c->next) {
    if (only && c != only) continue;
    for (struct shim_process *p = c->procs; p; p = p->next)
      if (!p->exited) return p;
  }
  return NULL;
}

/* Waits until LIFE_EXIT_AFTER_KILL_MS for the processes of `only` (every
 * container's when NULL) to report their exits, then records the rest as
 * killed. The first time one still runs: their output is dropped (exits
 * wait only behind output nobody reads now) and, when kill_why is set,
 * the task's QEMU is killed first. */
static void abort_procs(struct shim *s, struct shim_container *only, const char *kill_why)
{
  int64_t until = runm_clock_ns(CLOCK_MONOTONIC) + LIFE_EXIT_AFTER_KILL_MS * 1000000LL;
  bool dropped = false;

  pthread_mutex_lock(&s->lock);
  for (;;) {
    /* The table is walked afresh after every wait: a Delete in flight may
     * free processes meanwhile. */
    struct shim_process *live = live_proc_locked(s, only);
    if (live == NULL) break;
    if (!dropped) {
      if (kill_why) task_kill_vm_locked(s, kill_why);
      for (struct shim_container *c = s->containers; c; c = c->next) {
        if (only && c != only) continue;
        for (struct shim_process *p = c->procs; p; p = p->next)
          if (p->io) io_relay_drop_output(p->io);
      }
      dropped = true;
    }
    if (runm_clock_ns(CLOCK_MONOTONIC) >= until) {
      if (only)
        runm_log(&s->log, RUNM_LOG_WARN, "container %s deleted: no exit from `%s`, recorded as %d", only->id,
                 proc_name(live), LIFE_KILLED_STATUS);
      proc_mark_exited_locked(s, live, LIFE_KILLED_STATUS);
      continue;
    }
    live->waiters++;
    proc_wait_exit_locked(s, live, (until - runm_clock_ns(CLOCK_MONOTONIC)) / 1000000LL + 1);
    live->waiters--;
    pthread_cond_broadcast(&s->changed);
  }
  pthread_mutex_unlock(&s->lock);
}

void task_abort(struct shim *s)
{
  abort_procs(s, NULL, "shutting down with processes running");
}

/* The guest deleted the container (runc kills what runs in it): the VM
 * runs on for the pod's other members. */
void container_abort(struct shim *s, struct shim_container *c)
{
  abort_procs(s, c, NULL);
}

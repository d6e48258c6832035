/* How a task's processes end, with the host in charge: the guest reports
 * exits, but a SIGKILL, a Delete or a shutdown never waits on the guest
 * longer than the limits below; past them the shim ends the task's QEMU
 * itself (the process exits 137) and, failing even that, records the exit
 * on the guest's behalf. The pid containerd and host hooks see is that
 * QEMU's, never a pid the guest chose. See docs/security.md. */
#ifndef SHIM_LIFECYCLE_H
#define SHIM_LIFECYCLE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "shim.h"

/* After a SIGKILL to the init: how long the guest has to report its exit
 * before the shim kills QEMU. */
#define LIFE_KILL_GRACE_MS 3000
/* Bound on the guest calls the shim makes for Kill, State and Delete. */
#define LIFE_GUEST_CONTROL_MS 5000
/* After QEMU is killed (or output dropped): how long the stdio relays get
 * to report the exits before the shim records them itself. */
#define LIFE_EXIT_AFTER_KILL_MS 2000

/* The exit status of a process whose VM was ended under it. */
#define LIFE_KILLED_STATUS (128 + 9)

/* The io relay's on_exit for a process (opaque = struct shim_process *). */
void proc_exited(void *opaque, bool exited, uint32_t status);
/* Records an exit (lock held) and publishes TaskExit, once. */
void proc_mark_exited_locked(struct shim *s, struct shim_process *p, uint32_t status);
/* Waits (lock held) up to timeout_ms (< 0: for ever) for p's exit; the
 * caller holds a reference (p->waiters) so p outlives the wait. True when
 * p exited. */
bool proc_wait_exit_locked(struct shim *s, struct shim_process *p, int64_t timeout_ms);
/* Ends p now (lock held): its output is dropped; if its exit still does
 * not come, QEMU is killed (when p is the init: an exec alone never takes
 * the VM down, and then -1); failing that the exit is recorded as 137.
 * `why` goes to the log. 0 once p has exited. */
int proc_end_locked(struct shim *s, struct shim_process *p, const char *why);

/* The task's host identity, once the VM runs: s->vm_pid and a pidfd. */
void task_vm_pid_set(struct shim *s);
/* Before the VM is stopped and reaped: the pid may be reused after. */
void task_vm_pid_forget(struct shim *s);
/* Kills the task's QEMU (lock held); `why` goes to the log. */
void task_kill_vm_locked(struct shim *s, const char *why);

/* Shutdown or SIGTERM with processes still running: QEMU is killed and
 * every process's exit recorded (137) within LIFE_EXIT_AFTER_KILL_MS, so
 * in-flight Waits answer and teardown can proceed. */
void task_abort(struct shim *s);
/* A pod member deleted while the VM runs on: its processes still running
 * get LIFE_EXIT_AFTER_KILL_MS (output dropped) to report their exits,
 * then are recorded as 137. The VM is not killed. */
void container_abort(struct shim *s, struct shim_container *c);


#endif

/* The one place PID 1 reaps. Children the init spawned itself are registered
 * (under the reaper lock, so an exit can never be reaped before its waiter is
 * known). Container processes are not spawned by init: runc starts them and
 * exits, and they are reparented to PID 1; they are "adopted" after the fact
 * with reaper_adopt. Every other exit (orphans) is kept in a bounded ring of
 * recent unknown exits, so an adoption that comes after the reap still finds
 * the status. */
#ifndef RUNM_REAPER_H
#define RUNM_REAPER_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Recent unknown exits kept for late adoption. */
#define REAPER_RECENT_MAX 4096

struct reaper;

/* Called once, on the reaping thread and with no reaper lock held, when an
 * adopted process exits. `status` is the waitpid status; `exited_at_ns` is
 * CLOCK_REALTIME at the reap. */
typedef void (*reaper_exit_fn)(void *arg, pid_t pid, int status, int64_t exited_at_ns);

struct reaper *reaper_new(runm_error_t *err);
/* An executable to run from an fd rather than its path (runc_exe.c).
 * reaper_expect_exe(path) announces it: from then on reaper_exe_path(path)
 * waits (at most 30 s) until reaper_set_exe settles it; with fd >= 0 it names
 * /proc/self/fd/FD (an exec of which runs the file behind fd; the reaper
 * keeps fd for good), with fd < 0 path itself. One alias per reaper. */
void reaper_expect_exe(struct reaper *r, const char *path);
void reaper_set_exe(struct reaper *r, int fd);
/* Writes what to exec for `path` into buf. */
void reaper_exe_path(struct reaper *r, const char *path, char *buf, size_t len);
/* Reaps everything that has exited; called by main when SIGCHLD arrives. */
void reaper_reap(struct reaper *r);

/* posix_spawn with the child registered before anyone can reap it. When
 * ret_pidfd is not NULL it receives a pidfd of the child (O_CLOEXEC), opened
 * before the child can be reaped, so polling it is a race-free exit wait. */
int reaper_spawn(struct reaper *r, pid_t *pid, int *ret_pidfd, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[], runm_error_t *err);

/* What a forked child says when it fails before its exec. */
struct reaper_child_failure {
  int err;
  char what[60]; /* the step that failed, e.g. "setrlimit RLIMIT_NPROC" */
};
/* Runs in a forked child of a multithreaded process: async-signal-safe
 * calls only, ending in an exec. Returns only on failure: an errno, with
 * the step in f->what. */
typedef int (*reaper_child_fn)(void *arg, struct reaper_child_failure *f);
/* Like reaper_spawn, for a child that must do what posix_spawn cannot
 * before its exec (setrlimit): fork, child(arg) in the child. Returns once
 * the child has exec'd; its failure before that is this call's error (and
 * the child is collected). */
int reaper_fork(struct reaper *r, pid_t *pid, int *ret_pidfd, const char *path, reaper_child_fn child,
                void *arg, runm_error_t *err);
/* Blocks until a registered (spawned) child exits; *status is the waitpid
 * status. */
int reaper_wait(struct reaper *r, pid_t pid, int *status, runm_error_t *err);

/* Routes the exit of `pid`, a process init did not spawn, to fn(arg).
 * Returns 0 when the process is alive (or a zombie not yet reaped): fn will
 * run once it is reaped, and *ret_pidfd holds a pidfd for it (signals sent
 * through it can never hit a recycled pid). Returns 1 when it was already
 * reaped: *status and *exited_at_ns are filled and fn will not run. */
int reaper_adopt(struct reaper *r, pid_t pid, reaper_exit_fn fn, void *arg, int *ret_pidfd,
                 int *status, int64_t *exited_at_ns, runm_error_t *err);

/* Runs argv, captures up to cap bytes of stdout (stderr to the console), and
 * returns the wait status. Output beyond cap is read and dropped. */
int reaper_run_capture(struct reaper *r, char *const argv[], char *out, size_t cap, int *status,
                       runm_error_t *err);

/* The exit code containerd reports for a waitpid status: the exit status, or
 * 128 + signal for a signal death. */
uint32_t reaper_exit_code(int status);

#endif

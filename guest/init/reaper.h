/* The one place PID 1 reaps. Children the init spawned itself are registered
 * (under the reaper lock, so an exit can never be reaped before its waiter is
 * known); every other child (orphans reparented to PID 1) is reaped and
 * forgotten. */
#ifndef RUNM_REAPER_H
#define RUNM_REAPER_H

#include <spawn.h>
#include <sys/types.h>

#include "error.h"

struct reaper;

struct reaper *reaper_new(runm_error_t *err);
/* Reaps everything that has exited; called by main when SIGCHLD arrives. */
void reaper_reap(struct reaper *r);

/* posix_spawn with the child registered before anyone can reap it. */
int reaper_spawn(struct reaper *r, pid_t *pid, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[], runm_error_t *err);
/* Blocks until a registered child exits; *status is the waitpid status. */
int reaper_wait(struct reaper *r, pid_t pid, int *status, runm_error_t *err);

/* Runs argv, captures up to cap bytes of stdout (stderr to the console), and
 * returns the wait status. Output beyond cap is read and dropped. */
int reaper_run_capture(struct reaper *r, char *const argv[], char *out, size_t cap, int *status,
                       runm_error_t *err);

#endif

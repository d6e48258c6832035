/* Running one OCI hook on the host (hook_run.c). */
#ifndef SHIM_HOOK_RUN_H
#define SHIM_HOOK_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Each of stdout and stderr is kept up to this size; the rest is read and
 * dropped. */
#define HOOK_MAX_OUTPUT (1024 * 1024)

struct runm_rpc_call;

struct hook_cmd {
  const char *path;  /* absolute */
  char *const *argv; /* NULL-terminated */
  char *const *envp; /* NULL-terminated: the whole environment */
  const char *dir;   /* working directory */
  int64_t timeout_s; /* 0 = none */
  /* Told the hook's process group id once it started, and again once it
   * is reaped (hooks.c keeps a record for `shim delete` after a crash).
   * May be NULL. */
  void (*started)(void *arg, pid_t pgid);
  void (*ended)(void *arg, pid_t pgid);
  void *arg;
};

struct hook_output {
  int fd;
  char *buf; /* HOOK_MAX_OUTPUT bytes */
  size_t len;
  bool truncated;
};

struct hook_result {
  int status; /* wait status */
  bool timed_out; /* ran past the timeout: its process group was killed */
  bool cancelled; /* the call was cancelled: its process group was killed */
  struct hook_output out, err;
  double seconds;
};

/* Runs cmd with `state` on its stdin, in its own process group, and waits
 * for it (and up to a second for output its leftovers still write). With
 * `call`, a cancelled call kills the group. 0 with *res filled (free it
 * with hook_result_free even on error). */
int hook_run(const struct hook_cmd *cmd, const char *state, struct runm_rpc_call *call,
             struct hook_result *res, runm_error_t *err);
void hook_result_free(struct hook_result *r);

#endif

/* Running runc: argv with runm's global options, its stdio, the console
 * socket it hands a pty master through, and its error message turned into
 * the error value. */
#ifndef RUNM_RUNC_H
#define RUNM_RUNC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct reaper;
struct runc_rlimits;

#define RUNC_PATH "/bin/runc"
#define RUNC_MAX_ARGS 24

struct runc_io {
  /* fds given to runc as 0, 1, 2 (a container's stdio, inherited by its
   * process). -1: stdin from `input` (or /dev/null), stdout and stderr
   * captured. */
  int stdio[3];
  const char *input; /* fed to runc's stdin when stdio[0] is -1 */
  size_t input_len;
  char *out;         /* captured stdout, NUL-terminated; the rest is dropped */
  size_t out_cap;
  size_t out_len;
  /* >= 0: a listening console socket; runc (runc init) connects to it and
   * sends the pty master, which lands in console_master. */
  int console_listen;
  int console_master;
  /* Non-NULL with entries: runc starts with these resource limits (then
   * runc is forked, not posix_spawned). */
  const struct runc_rlimits *rlimits;
};

void runc_io_init(struct runc_io *io);

/* Runs `runc --root RUNC_ROOT --log L --log-format json ARGS...` and waits.
 * 0 when runc exits 0. Otherwise the error carries runc's own message (from
 * its log, else its stderr) and an errno guessed from it (ENOENT for "does
 * not exist" / "not running", EEXIST, EBUSY for state conflicts, else
 * `fallback`). */
int runc_run(struct reaper *r, const char *const args[], struct runc_io *io, int fallback,
             runm_error_t *err);

/* Extracts the message from what runc printed: the last error-level `msg`
 * of JSON log lines or of logrus text (`level=error msg="..."`), else the
 * last non-empty line. Exposed for tests. */
void runc_error_message(const char *text, size_t len, char *out, size_t cap);

#endif

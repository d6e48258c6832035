/* Runs runc from a sealed memfd, so that runc 1.1 skips its self-copy at
 * every `runc init` (runc_exe.c says why). */
#ifndef RUNM_RUNC_EXE_H
#define RUNM_RUNC_EXE_H

#include <stdint.h>

#include "error.h"
#include "log.h"

struct reaper;

/* Copies the regular file `path` into a memfd sealed with
 * F_SEAL_SEAL|SHRINK|GROW|WRITE; returns the memfd (O_CLOEXEC). */
int runc_exe_seal(const char *path, runm_error_t *err);
/* runc_exe_seal(RUNC_PATH) on a detached thread, then the reaper's alias
 * for RUNC_PATH (runs of runc wait for it); failures are logged. */
void runc_exe_start(struct runm_logger *log, struct reaper *reaper, int64_t *sealed_ns);

#endif

/* The resource limits runc runs with: the shim's own (CreateRequest
 * rlimits), so that what the spec does not set is what runc-v2's runc
 * would inherit from containerd's shim, not the guest kernel's defaults
 * (sized for the VM's RAM: RLIMIT_NPROC 950 at 256 MiB). */
#ifndef RUNM_RLIMITS_H
#define RUNM_RLIMITS_H

#include <stddef.h>
#include <sys/resource.h>

#include "error.h"
#include "runm/v1/guest.pb-c.h"

/* RLIMIT_* of Linux: 0..15 (RLIM_NLIMITS). */
#define RUNM_RLIMITS_MAX 16
/* The kernel's ceiling for RLIMIT_NOFILE's hard limit (fs.nr_open's
 * largest value on 64-bit: INT_MAX rounded down to a multiple of 64). */
#define RUNM_NR_OPEN_MAX 2147483584ULL

struct runc_rlimits {
  size_t n;
  struct {
    int resource;
    struct rlimit lim;
  } v[RUNM_RLIMITS_MAX];
};

/* Checks what the shim sent: at most one entry per known resource, soft
 * <= hard, RLIMIT_NOFILE within RUNM_NR_OPEN_MAX. A clear error names the
 * first bad entry; *out is left empty then. */
int rlimits_from_request(Runm__V1__Rlimit *const *in, size_t n, struct runc_rlimits *out,
                         runm_error_t *err);

/* Raises the guest's fs.nr_open when RLIMIT_NOFILE's hard limit needs it
 * (setrlimit fails above it). */
int rlimits_prepare_kernel(const struct runc_rlimits *rl, runm_error_t *err);

/* In a forked child: setrlimit of each; 0, or an errno with *what naming
 * the resource. Async-signal-safe. */
int rlimits_apply(const struct runc_rlimits *rl, const char **what);

/* "RLIMIT_NPROC", or "RLIMIT_?" for an unknown number. */
const char *rlimit_name(int resource);

#endif

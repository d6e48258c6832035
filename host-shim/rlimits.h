/* The shim's own resource limits, for the guest's runc: runc-v2's runc
 * inherits containerd-shim-runc-v2's, and the limits a spec does not set
 * must be the same under runm (guest/init/rlimits.h applies them). */
#ifndef SHIM_RLIMITS_H
#define SHIM_RLIMITS_H

#include <stddef.h>

#include "runm/v1/guest.pb-c.h"

#define SHIM_RLIMITS_MAX 16 /* RLIMIT_CPU .. RLIMIT_RTTIME */

struct shim_rlimits {
  Runm__V1__Rlimit v[SHIM_RLIMITS_MAX];
  Runm__V1__Rlimit *ptrs[SHIM_RLIMITS_MAX];
  size_t n;
};

/* getrlimit of every resource (one that fails is left out). */
void shim_rlimits_get(struct shim_rlimits *out);

#endif

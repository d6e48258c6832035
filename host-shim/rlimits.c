/* See rlimits.h. */
#include "rlimits.h"

#include <stdint.h>
#include <sys/resource.h>

void shim_rlimits_get(struct shim_rlimits *out)
{
  out->n = 0;
  for (int res = 0; res < SHIM_RLIMITS_MAX; res++) {
    struct rlimit rl;
    Runm__V1__Rlimit *m = &out->v[out->n];
    if (getrlimit(res, &rl) < 0) continue;
    runm__v1__rlimit__init(m);
    m->resource = (uint32_t)res;
    m->soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    m->hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
    out->ptrs[out->n++] = m;
  }
}

/* See rlimits.h. */
#include "rlimits.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdio.h"

static const char *const names[RUNM_RLIMITS_MAX] = {
    "RLIMIT_CPU",     "RLIMIT_FSIZE",  "RLIMIT_DATA",       "RLIMIT_STACK",
    "RLIMIT_CORE",    "RLIMIT_RSS",    "RLIMIT_NPROC",      "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK", "RLIMIT_AS",     "RLIMIT_LOCKS",      "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO",     "RLIMIT_RTTIME",
};

const char *rlimit_name(int resource)
{
  return resource >= 0 && resource < RUNM_RLIMITS_MAX ? names[resource] : "RLIMIT_?";
}

int rlimits_from_request(Runm__V1__Rlimit *const *in, size_t n, struct runc_rlimits *out,
                         runm_error_t *err)
{
  bool seen[RUNM_RLIMITS_MAX] = {false};

  out->n = 0;
  if (n > RUNM_RLIMITS_MAX) return runm_make_error(err, EINVAL, "%zu resource limits; at most %d", n, RUNM_RLIMITS_MAX);
  for (size_t i = 0; i < n; i++) {
    const Runm__V1__Rlimit *r = in[i];
    if (r == NULL || r->resource >= RUNM_RLIMITS_MAX)
      return runm_make_error(err, EINVAL, "resource limit %zu: unknown resource %" PRIu32, i,
                             r ? r->resource : 0);
    if (seen[r->resource])
      return runm_make_error(err, EINVAL, "%s given twice", names[r->resource]);
    if (r->soft > r->hard)
      return runm_make_error(err, EINVAL, "%s: soft limit %" PRIu64 " above the hard limit %" PRIu64,
                             names[r->resource], r->soft, r->hard);
    if (r->resource == RLIMIT_NOFILE && r->hard != UINT64_MAX && r->hard > RUNM_NR_OPEN_MAX)
      return runm_make_error(err, EINVAL, "RLIMIT_NOFILE: %" PRIu64 " is above the kernel's ceiling %llu",
                             r->hard, RUNM_NR_OPEN_MAX);
    if (r->resource == RLIMIT_NOFILE && r->hard == UINT64_MAX)
      return runm_make_error(err, EINVAL, "RLIMIT_NOFILE cannot be unlimited");
    seen[r->resource] = true;
  }
  for (size_t i = 0; i < n; i++) {
    out->v[i].resource = (int)in[i]->resource;
    out->v[i].lim.rlim_cur = (rlim_t)in[i]->soft;
    out->v[i].lim.rlim_max = (rlim_t)in[i]->hard;
  }
  out->n = n;
  return 0;
}

int rlimits_prepare_kernel(const struct runc_rlimits *rl, runm_error_t *err)
{
  for (size_t i = 0; i < rl->n; i++) {
    char buf[32];
    unsigned long long cur;
    ssize_t len;
    if (rl->v[i].resource != RLIMIT_NOFILE) continue;
    cleanup_close int fd = open("/proc/sys/fs/nr_open", O_RDWR | O_CLOEXEC);
    if (fd < 0) return runm_make_error(err, errno, "open /proc/sys/fs/nr_open");
    len = read(fd, buf, sizeof(buf) - 1);
    if (len <= 0) return runm_make_error(err, len < 0 ? errno : EIO, "read /proc/sys/fs/nr_open");
    buf[len] = '\0';
    cur = strtoull(buf, NULL, 10);
    if ((unsigned long long)rl->v[i].lim.rlim_max <= cur) return 0;
    len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)rl->v[i].lim.rlim_max);
    if (pwrite(fd, buf, (size_t)len, 0) != len)
      return runm_make_error(err, errno, "raise fs.nr_open to %s for RLIMIT_NOFILE", buf);
    return 0;
  }
  return 0;
}

int rlimits_apply(const struct runc_rlimits *rl, const char **what)
{
  for (size_t i = 0; i < rl->n; i++)
    if (setrlimit(rl->v[i].resource, &rl->v[i].lim) < 0) {
      *what = names[rl->v[i].resource];
      return errno;
    }
  return 0;
}

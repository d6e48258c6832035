/* Unit tests for the resource limits the shim gives the guest's runc:
 * host-shim/rlimits.c (getrlimit of the shim) and guest/init/rlimits.c
 * (the guest's checks, and setrlimit in a child). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../guest/init/rlimits.c"
#include "../../host-shim/rlimits.c"
#include "tap.h"

static Runm__V1__Rlimit mk(uint32_t res, uint64_t soft, uint64_t hard)
{
  Runm__V1__Rlimit m = RUNM__V1__RLIMIT__INIT;
  m.resource = res;
  m.soft = soft;
  m.hard = hard;
  return m;
}

static int check(Runm__V1__Rlimit *v, size_t n, struct runc_rlimits *out, char *msg, size_t cap)
{
  Runm__V1__Rlimit *p[20];
  runm_error_t err = NULL;
  int r;
  for (size_t i = 0; i < n; i++) p[i] = &v[i];
  r = rlimits_from_request(p, n, out, &err);
  msg[0] = '\0';
  if (err) {
    snprintf(msg, cap, "%s", err->msg);
    runm_error_release(&err);
  }
  return r;
}

static void test_shim_roundtrip(void)
{
  struct shim_rlimits s;
  struct runc_rlimits g;
  runm_error_t err = NULL;
  struct rlimit nproc;

  shim_rlimits_get(&s);
  is_int((int)s.n, 16, "the shim reads all 16 limits");
  is_int(rlimits_from_request(s.ptrs, s.n, &g, &err), 0, "the guest accepts the shim's own limits");
  runm_error_release(&err);
  is_int((int)g.n, 16, "all 16 kept");
  getrlimit(RLIMIT_NPROC, &nproc);
  ok(g.v[RLIMIT_NPROC].resource == RLIMIT_NPROC && g.v[RLIMIT_NPROC].lim.rlim_cur == nproc.rlim_cur &&
         g.v[RLIMIT_NPROC].lim.rlim_max == nproc.rlim_max,
     "RLIMIT_NPROC carried exactly (RLIM_INFINITY as 2^64-1 and back)");
}

static void test_rejects(void)
{
  struct runc_rlimits g;
  char msg[256];
  Runm__V1__Rlimit v[20];

  v[0] = mk(RLIMIT_NPROC, 100, 200);
  v[1] = mk(16, 1, 1);
  ok(check(v, 2, &g, msg, sizeof(msg)) < 0, "unknown resource 16 refused");
  ok(strstr(msg, "unknown resource 16") != NULL, "the error names it");
  is_int((int)g.n, 0, "nothing kept");
  v[1] = mk(RLIMIT_NPROC, 1, 1);
  ok(check(v, 2, &g, msg, sizeof(msg)) < 0, "a resource given twice refused");
  ok(strstr(msg, "RLIMIT_NPROC given twice") != NULL, "the error names it");
  v[0] = mk(RLIMIT_CORE, 10, 5);
  ok(check(v, 1, &g, msg, sizeof(msg)) < 0, "soft above hard refused");
  ok(strstr(msg, "RLIMIT_CORE: soft limit 10 above the hard limit 5") != NULL, "the error says so");
  v[0] = mk(RLIMIT_NOFILE, 1024, UINT64_MAX);
  ok(check(v, 1, &g, msg, sizeof(msg)) < 0, "unlimited RLIMIT_NOFILE refused");
  v[0] = mk(RLIMIT_NOFILE, 1024, RUNM_NR_OPEN_MAX + 1);
  ok(check(v, 1, &g, msg, sizeof(msg)) < 0, "RLIMIT_NOFILE above the kernel's ceiling refused");
  ok(strstr(msg, "above the kernel's ceiling") != NULL, "the error says so");
  for (int i = 0; i < 17; i++) v[i] = mk((uint32_t)(i % 16), 1, 1);
  ok(check(v, 17, &g, msg, sizeof(msg)) < 0, "17 entries refused");
  v[0] = mk(RLIMIT_NOFILE, 1024, RUNM_NR_OPEN_MAX);
  v[1] = mk(RLIMIT_CPU, UINT64_MAX, UINT64_MAX);
  is_int(check(v, 2, &g, msg, sizeof(msg)), 0, "NOFILE at the ceiling and unlimited CPU accepted");
  is_int(check(v, 0, &g, msg, sizeof(msg)), 0, "no limits accepted (runc inherits init's)");
  is_int((int)g.n, 0, "and none kept");
}

/* rlimits_apply in a child, as runc's fork does. */
static void test_apply(void)
{
  struct runc_rlimits g;
  char msg[256];
  Runm__V1__Rlimit v[2];
  int fds[2], status;
  pid_t pid;
  char got[64] = "";

  v[0] = mk(RLIMIT_CORE, 4096, 8192);
  v[1] = mk(RLIMIT_MSGQUEUE, 1000, 2000);
  is_int(check(v, 2, &g, msg, sizeof(msg)), 0, "two limits accepted");
  if (pipe(fds) < 0) return;
  pid = fork();
  if (pid == 0) {
    const char *what = NULL;
    struct rlimit c, q;
    int e = rlimits_apply(&g, &what);
    getrlimit(RLIMIT_CORE, &c);
    getrlimit(RLIMIT_MSGQUEUE, &q);
    dprintf(fds[1], "%d %lu %lu %lu %lu", e, (unsigned long)c.rlim_cur, (unsigned long)c.rlim_max,
            (unsigned long)q.rlim_cur, (unsigned long)q.rlim_max);
    _exit(0);
  }
  close(fds[1]);
  if (read(fds[0], got, sizeof(got) - 1) < 0) got[0] = '\0';
  close(fds[0]);
  waitpid(pid, &status, 0);
  is_str(got, "0 4096 8192 1000 2000", "the child runs with exactly those limits");
}

int main(void)
{
  test_shim_roundtrip();
  test_rejects();
  test_apply();
  return tap_done();
}

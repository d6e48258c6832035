/* A hook's timeout from the spec is any positive int64 (issue 11, Low: casts
 * that overflow): one so large that its milliseconds wrapped around to 384
 * killed the hook at once on the old code; it must mean "no practical
 * limit" instead, and a small one must still kill on time. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

#include "../../host-shim/hook_run.c"

static int run(int64_t timeout_s, const char *script, struct hook_result *res)
{
  char *argv[] = {"sh", "-c", (char *)script, NULL};
  char *env[] = {"PATH=/usr/bin:/bin", NULL};
  struct hook_cmd c = {.path = "/bin/sh", .argv = argv, .envp = env, .dir = "/",
                       .timeout_s = timeout_s};
  runm_error_t err = NULL;
  int r = hook_run(&c, "{}", NULL, res, &err);
  runm_error_release(&err);
  return r;
}

int main(void)
{
  struct hook_result res;
  /* 2^64 / 1000, rounded up: times 1000 it wraps to 384 in 64 bits. */
  const int64_t wraps = 18446744073709552LL;

  ok(run(wraps, "cat >/dev/null; sleep 1; echo done", &res) == 0, "a hook with a huge timeout runs");
  ok(!res.timed_out && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0 && res.out.len == 5 &&
         memcmp(res.out.buf, "done\n", 5) == 0,
     "a timeout whose milliseconds overflow does not kill it early");
  printf("# ran %.3f s, timed_out=%d\n", res.seconds, res.timed_out);
  hook_result_free(&res);

  ok(run(INT64_MAX, "cat >/dev/null; echo ok", &res) == 0 && !res.timed_out &&
         res.out.len == 3,
     "INT64_MAX seconds is no limit either");
  hook_result_free(&res);

  ok(run(1, "cat >/dev/null; sleep 30", &res) == 0 && res.timed_out && res.seconds < 10,
     "a 1 s timeout still kills the hook");
  printf("# killed after %.3f s\n", res.seconds);
  hook_result_free(&res);
  return tap_done();
}

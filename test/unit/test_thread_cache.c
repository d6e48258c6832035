/* lib/core/thread_cache: jobs run, finished threads are reused, idle
 * threads expire, destroy waits for running jobs. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "thread_cache.h"

struct rec {
  struct runm_tc_job job;
  pthread_t self;
  int ran;
  int sleep_ms;
};

static void record(void *arg)
{
  struct rec *r = arg;
  if (r->sleep_ms) usleep((useconds_t)r->sleep_ms * 1000);
  r->self = pthread_self();
  __atomic_store_n(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static void wait_ran(struct rec *r)
{
  for (int i = 0; i < 5000 && !__atomic_load_n(&r->ran, __ATOMIC_SEQ_CST); i++) usleep(1000);
}

/* Until the cache has `idle` idle threads (at most ~5 s). */
static int wait_idle(struct runm_thread_cache *tc, int idle)
{
  int th, id = -1;
  for (int i = 0; i < 5000; i++) {
    runm_thread_cache_counts(tc, &th, &id);
    if (id == idle) return id;
    usleep(1000);
  }
  return id;
}

int main(void)
{
  struct runm_thread_cache tc;
  struct rec a = {0}, b = {0}, many[8];
  int th, idle;

  runm_thread_cache_init(&tc, 2, 60000);
  a.job.fn = record;
  a.job.arg = &a;
  is_int(runm_thread_cache_run(&tc, &a.job), 0, "first job queued");
  wait_ran(&a);
  ok(a.ran, "first job ran");
  is_int(wait_idle(&tc, 1), 1, "its thread waits for the next job");
  b.job.fn = record;
  b.job.arg = &b;
  is_int(runm_thread_cache_run(&tc, &b.job), 0, "second job queued");
  wait_ran(&b);
  ok(b.ran && pthread_equal(a.self, b.self), "second job ran on the same thread");
  wait_idle(&tc, 1);
  runm_thread_cache_counts(&tc, &th, &idle);
  is_int(th, 1, "one thread in all");

  /* 8 jobs at once, each blocking: 8 threads; only max_idle=2 stay. */
  for (int i = 0; i < 8; i++) {
    many[i] = (struct rec){.sleep_ms = 50};
    many[i].job.fn = record;
    many[i].job.arg = &many[i];
    if (runm_thread_cache_run(&tc, &many[i].job) != 0) break;
  }
  int all = 1;
  for (int i = 0; i < 8; i++) {
    wait_ran(&many[i]);
    all &= many[i].ran;
  }
  ok(all, "8 concurrent jobs all ran");
  is_int(wait_idle(&tc, 2), 2, "at most max_idle threads stay idle");
  for (int i = 0; i < 200; i++) {
    runm_thread_cache_counts(&tc, &th, &idle);
    if (th == 2) break;
    usleep(10000);
  }
  is_int(th, 2, "the others exited");

  /* destroy waits for a job still running. */
  struct rec slow = {.sleep_ms = 200};
  slow.job.fn = record;
  slow.job.arg = &slow;
  runm_thread_cache_run(&tc, &slow.job);
  runm_thread_cache_destroy(&tc);
  ok(__atomic_load_n(&slow.ran, __ATOMIC_SEQ_CST), "destroy returned after the running job ended");

  /* Idle threads expire. */
  struct runm_thread_cache t2;
  struct rec c = {0};
  runm_thread_cache_init(&t2, 4, 100);
  c.job.fn = record;
  c.job.arg = &c;
  runm_thread_cache_run(&t2, &c.job);
  wait_ran(&c);
  for (int i = 0; i < 300; i++) {
    runm_thread_cache_counts(&t2, &th, &idle);
    if (th == 0) break;
    usleep(10000);
  }
  is_int(th, 0, "an idle thread exits after idle_ms");
  runm_thread_cache_destroy(&t2);
  return tap_done();
}

/* Idle-thread cache: see thread_cache.h. */
#include "thread_cache.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

void runm_thread_cache_init(struct runm_thread_cache *tc, int max_idle, int idle_ms)
{
  pthread_condattr_t ca;

  pthread_mutex_init(&tc->lock, NULL);
  /* An idle deadline on the monotonic clock: a stepped wall clock (the
   * guest's is set from the host after boot) must not wake or keep them. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&tc->work, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&tc->gone, NULL);
  tc->head = tc->tail = NULL;
  tc->n_queued = tc->n_idle = tc->n_threads = 0;
  tc->max_idle = max_idle;
  tc->idle_ms = idle_ms;
  tc->draining = false;
}

static struct runm_tc_job *pop(struct runm_thread_cache *tc)
{
  struct runm_tc_job *j = tc->head;
  if (j == NULL) return NULL;
  tc->head = j->next;
  if (tc->head == NULL) tc->tail = NULL;
  tc->n_queued--;
  return j;
}

static void *worker(void *arg)
{
  struct runm_thread_cache *tc = arg;

  pthread_mutex_lock(&tc->lock);
  for (;;) {
    struct runm_tc_job *j = pop(tc);
    if (j) {
      void (*fn)(void *) = j->fn;
      void *fa = j->arg;
      pthread_mutex_unlock(&tc->lock);
      fn(fa);
      pthread_mutex_lock(&tc->lock);
      continue;
    }
    if (tc->draining || tc->n_idle >= tc->max_idle) break;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += tc->idle_ms / 1000;
    dl.tv_nsec += (long)(tc->idle_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    tc->n_idle++;
    int r = 0;
    while (tc->head == NULL && !tc->draining && r != ETIMEDOUT)
      r = pthread_cond_timedwait(&tc->work, &tc->lock, &dl);
    tc->n_idle--;
    if (tc->head == NULL) break; /* timed out or draining */
  }
  tc->n_threads--;
  pthread_cond_broadcast(&tc->gone);
  pthread_mutex_unlock(&tc->lock);
  return NULL;
}

int runm_thread_cache_run(struct runm_thread_cache *tc, struct runm_tc_job *job)
{
  pthread_attr_t attr;
  pthread_t t;
  int r;

  job->next = NULL;
  pthread_mutex_lock(&tc->lock);
  if (tc->tail) tc->tail->next = job;
  else tc->head = job;
  tc->tail = job;
  tc->n_queued++;
  /* Each queued job is one idle thread's: wake one if there are more idle
   * threads than jobs already waiting for them. */
  if (tc->n_idle >= tc->n_queued) {
    pthread_cond_signal(&tc->work);
    pthread_mutex_unlock(&tc->lock);
    return 0;
  }
  tc->n_threads++;
  pthread_mutex_unlock(&tc->lock);

  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  r = pthread_create(&t, &attr, worker, tc);
  pthread_attr_destroy(&attr);
  if (r == 0) return 0;

  pthread_mutex_lock(&tc->lock);
  tc->n_threads--;
  pthread_cond_broadcast(&tc->gone);
  /* A thread that finished its job meanwhile may have taken this one. */
  for (struct runm_tc_job **p = &tc->head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
    if (*p != job) continue;
    *p = job->next;
    if (tc->tail == job) tc->tail = prev;
    tc->n_queued--;
    pthread_mutex_unlock(&tc->lock);
    return r;
  }
  pthread_mutex_unlock(&tc->lock);
  return 0;
}

void runm_thread_cache_destroy(struct runm_thread_cache *tc)
{
  pthread_mutex_lock(&tc->lock);
  tc->draining = true;
  pthread_cond_broadcast(&tc->work);
  while (tc->n_threads > 0) pthread_cond_wait(&tc->gone, &tc->lock);
  pthread_mutex_unlock(&tc->lock);
  pthread_cond_destroy(&tc->work);
  pthread_cond_destroy(&tc->gone);
  pthread_mutex_destroy(&tc->lock);
}

void runm_thread_cache_counts(struct runm_thread_cache *tc, int *threads, int *idle)
{
  pthread_mutex_lock(&tc->lock);
  *threads = tc->n_threads;
  *idle = tc->n_idle;
  pthread_mutex_unlock(&tc->lock);
}

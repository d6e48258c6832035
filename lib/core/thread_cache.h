/* A cache of idle worker threads: runs each job on a thread that finished an
 * earlier one when there is one, else on a new thread. The RPC server runs
 * every call on its own thread (a handler may block for as long as a task
 * runs); under TCG creating and reaping that thread was a large share of a
 * guest Ping, so finished threads wait a while for the next call. */
#ifndef RUNM_THREAD_CACHE_H
#define RUNM_THREAD_CACHE_H

#include <pthread.h>
#include <stdbool.h>

/* Embedded by the caller in what the job works on; untouched by the cache
 * once fn has started (fn may free it). */
struct runm_tc_job {
  void (*fn)(void *arg);
  void *arg;
  struct runm_tc_job *next;
};

struct runm_thread_cache {
  pthread_mutex_t lock;
  pthread_cond_t work; /* a job was queued, or the cache drains */
  pthread_cond_t gone; /* a thread exited */
  struct runm_tc_job *head, *tail;
  int n_queued, n_idle, n_threads;
  int max_idle; /* threads kept waiting at most; more exit at once */
  int idle_ms;  /* an idle thread exits after this long without a job */
  bool draining;
};

void runm_thread_cache_init(struct runm_thread_cache *tc, int max_idle, int idle_ms);

/* Queues job (fn and arg set by the caller) for an idle thread, or starts a
 * thread for it. Returns 0, or the pthread_create error when no thread was
 * idle and none could be started (the job is then not queued and will not
 * run). */
int runm_thread_cache_run(struct runm_thread_cache *tc, struct runm_tc_job *job);

/* Waits for every job to end and every thread to exit, then frees the
 * cache's own resources. No job may be added during or after it. */
void runm_thread_cache_destroy(struct runm_thread_cache *tc);

/* Threads alive and idle now (for tests). */
void runm_thread_cache_counts(struct runm_thread_cache *tc, int *threads, int *idle);

#endif

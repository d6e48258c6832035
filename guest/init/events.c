/* Event log and the Events server stream. Emitters append under the log's
 * lock and wake the streams; each stream copies one event at a time out of
 * the lock and sends it with a blocking send, so a slow subscriber holds up
 * nobody but itself. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "runm/v1/guest.pb-c.h"

enum event_kind { EVENT_EXIT, EVENT_OOM };

struct event {
  uint64_t seq;
  int64_t timestamp;
  enum event_kind kind;
  char id[65];
  char exec_id[65];
  uint32_t pid;
  uint32_t exit_status;
  int64_t exited_at;
};

struct events {
  pthread_mutex_t lock; /* guards ring, next_seq and every waiter's cancelled flag */
  pthread_cond_t changed;
  struct event ring[EVENTS_KEPT]; /* seq s lives at ring[(s - 1) % EVENTS_KEPT] */
  uint64_t next_seq;              /* seq the next event gets; starts at 1 */
};

struct events_waiter {
  struct events *ev;
  bool cancelled;
};

struct events *events_new(runm_error_t *err)
{
  struct events *ev = calloc(1, sizeof(*ev));
  if (ev == NULL) {
    runm_make_error(err, ENOMEM, "allocate event log");
    return NULL;
  }
  pthread_mutex_init(&ev->lock, NULL);
  pthread_cond_init(&ev->changed, NULL);
  ev->next_seq = 1;
  return ev;
}

static void append(struct events *ev, const struct event *e)
{
  pthread_mutex_lock(&ev->lock);
  struct event *slot = &ev->ring[(ev->next_seq - 1) % EVENTS_KEPT];
  *slot = *e;
  slot->seq = ev->next_seq++;
  slot->timestamp = runm_clock_ns(CLOCK_REALTIME);
  pthread_cond_broadcast(&ev->changed);
  pthread_mutex_unlock(&ev->lock);
}

void events_emit_exit(struct events *ev, const char *id, const char *exec_id, pid_t pid,
                      uint32_t exit_status, int64_t exited_at_ns)
{
  struct event e;
  memset(&e, 0, sizeof(e));
  e.kind = EVENT_EXIT;
  snprintf(e.id, sizeof(e.id), "%s", id);
  snprintf(e.exec_id, sizeof(e.exec_id), "%s", exec_id);
  e.pid = (uint32_t)pid;
  e.exit_status = exit_status;
  e.exited_at = exited_at_ns;
  append(ev, &e);
}

void events_emit_oom(struct events *ev, const char *id)
{
  struct event e;
  memset(&e, 0, sizeof(e));
  e.kind = EVENT_OOM;
  snprintf(e.id, sizeof(e.id), "%s", id);
  append(ev, &e);
}

static void on_cancel(void *arg)
{
  struct events_waiter *w = arg;
  pthread_mutex_lock(&w->ev->lock);
  w->cancelled = true;
  pthread_cond_broadcast(&w->ev->changed);
  pthread_mutex_unlock(&w->ev->lock);
}

static int send_event(struct runm_rpc_call *call, const struct event *e, runm_error_t *err)
{
  Runm__V1__Event msg = RUNM__V1__EVENT__INIT;
  Runm__V1__ExitEvent exit_msg = RUNM__V1__EXIT_EVENT__INIT;
  Runm__V1__OomEvent oom_msg = RUNM__V1__OOM_EVENT__INIT;
  char id[65], exec_id[65];

  memcpy(id, e->id, sizeof(id));
  memcpy(exec_id, e->exec_id, sizeof(exec_id));
  msg.seq = e->seq;
  msg.timestamp_ns = e->timestamp;
  if (e->kind == EVENT_EXIT) {
    exit_msg.id = id;
    exit_msg.exec_id = exec_id;
    exit_msg.pid = e->pid;
    exit_msg.exit_status = e->exit_status;
    exit_msg.exited_at_ns = e->exited_at;
    msg.kind_case = RUNM__V1__EVENT__KIND_EXIT;
    msg.exit = &exit_msg;
  } else {
    oom_msg.id = id;
    msg.kind_case = RUNM__V1__EVENT__KIND_OOM;
    msg.oom = &oom_msg;
  }
  return runm_rpc_call_send(call, &msg.base, err);
}

int events_serve(struct events *ev, struct runm_rpc_call *call, uint64_t since, runm_error_t *err)
{
  struct events_waiter w = {.ev = ev, .cancelled = false};
  uint64_t cursor = since; /* last seq delivered */
  int ret = 0;

  /* Set before taking ev->lock: the hook takes it too. */
  runm_rpc_call_on_cancel(call, on_cancel, &w);
  pthread_mutex_lock(&ev->lock);
  {
    uint64_t oldest = ev->next_seq > EVENTS_KEPT ? ev->next_seq - EVENTS_KEPT : 1;
    if (since == 0) cursor = oldest - 1;
  }
  for (;;) {
    struct event e;
    uint64_t oldest;
    while (!w.cancelled && ev->next_seq <= cursor + 1) pthread_cond_wait(&ev->changed, &ev->lock);
    if (w.cancelled) {
      ret = runm_make_error(err, ECANCELED, "events: client went away");
      break;
    }
    oldest = ev->next_seq > EVENTS_KEPT ? ev->next_seq - EVENTS_KEPT : 1;
    if (cursor + 1 < oldest) {
      ret = runm_make_error(err, ERANGE,
                            "events after seq %llu were discarded (the oldest kept is %llu)",
                            (unsigned long long)cursor, (unsigned long long)oldest);
      break;
    }
    e = ev->ring[cursor % EVENTS_KEPT];
    pthread_mutex_unlock(&ev->lock);
    ret = send_event(call, &e, err);
    pthread_mutex_lock(&ev->lock);
    if (ret < 0) break;
    cursor = e.seq;
  }
  pthread_mutex_unlock(&ev->lock);
  runm_rpc_call_on_cancel(call, NULL, NULL);
  return ret;
}

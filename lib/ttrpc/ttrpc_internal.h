/* Internal to the ttrpc server: the structures its two halves share
 * (ttrpc_server.c: calls, deadlines, lifecycle; ttrpc_conn.c: sockets,
 * connections, frames). Not for users: they see lib/ttrpc/ttrpc.h. */
#ifndef RUNM_TTRPC_INTERNAL_H
#define RUNM_TTRPC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ttrpc.h"

#define TTRPC_DEFAULT_MAX_CONNECTIONS 64
#define TTRPC_DEFAULT_MAX_CALLS 128
/* How long one response may wait for a peer that does not read. */
#define TTRPC_SEND_TIMEOUT_MS 30000
/* A longer client timeout is treated as this one (avoids timespec overflow). */
#define TTRPC_MAX_TIMEOUT_NANO ((int64_t)366 * 24 * 3600 * 1000000000LL)

struct runm_ttrpc_conn {
  struct runm_ttrpc_server *srv;
  int fd;
  pthread_mutex_t write_lock;   /* one frame at a time on fd; guards broken */
  bool broken;                  /* a write failed: the peer gets nothing more */
  uint32_t last_stream_id;      /* reader thread only */
  unsigned n_calls;             /* guarded by srv->lock */
  struct runm_ttrpc_conn *next; /* srv->conns, guarded by srv->lock */
};

struct runm_ttrpc_call {
  struct runm_ttrpc_conn *conn;
  uint32_t stream_id;
  Ttrpc__Request *req; /* owns service, method and metadata */
  const struct runm_ttrpc_method *method;
  ProtobufCMessage *msg;
  bool has_deadline;
  struct timespec deadline;
  bool deadline_fired;          /* guarded by srv->lock */
  struct runm_ttrpc_call *next; /* srv->calls, guarded by srv->lock */

  pthread_mutex_t hook_lock; /* guards hook, hook_arg, cancelled */
  void (*hook)(void *);
  void *hook_arg;
  bool cancelled;
};

struct runm_ttrpc_server {
  struct runm_ttrpc_server_config cfg;
  int listen_fd;
  char *unix_path;
  /* An eventfd written once at shutdown and never read: it stays readable,
   * so every poller (accept thread, every reader) wakes and stays woken. */
  int wake_fd;
  pthread_t accept_thread, timer_thread;
  bool accepting, timing, shut_down;

  /* Lock order: lock, then a call's hook_lock. */
  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t changed; /* a connection or call ended; CLOCK_MONOTONIC */
  pthread_cond_t timer;   /* deadlines changed or the timer must stop */
  bool stopping, timer_stop;
  struct runm_ttrpc_conn *conns;
  unsigned n_conns;
  struct runm_ttrpc_call *calls;
  unsigned n_calls;
};

/* ttrpc_server.c */
void runm_ttrpc_call_cancel(struct runm_ttrpc_call *c);
/* Answers one request frame: an error status at once, or a call thread. */
void runm_ttrpc_handle_request(struct runm_ttrpc_conn *cn, uint32_t id, const uint8_t *payload,
                               size_t len);
void runm_ttrpc_send_status(struct runm_ttrpc_conn *cn, uint32_t stream_id, int code,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ttrpc_conn.c */
void *runm_ttrpc_accept_thread(void *arg);

#endif

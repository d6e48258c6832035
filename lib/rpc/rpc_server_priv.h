/* What the gRPC server (rpc_server.c) and its calls' API (rpc_call.c)
 * share; private to lib/rpc. */
#ifndef RUNM_RPC_SERVER_PRIV_H
#define RUNM_RPC_SERVER_PRIV_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdbool.h>

#include "rpc.h"
#include "thread_cache.h"

struct runm_rpc_server {
  struct runm_rpc_server_config cfg;
  grpc_server *server;
  grpc_completion_queue *cq; /* new-call notifications and shutdown */
  pthread_t thread;
  bool started;
  char *unix_path;

  pthread_mutex_t lock; /* guards n_active, shutting_down, shutdown_seen */
  pthread_cond_t idle;
  int n_active;
  bool shutting_down;
  bool shutdown_seen;
  int max_calls;         /* resolved from cfg: <= 0 means no limit */
  int client_timeout_ms; /* resolved from cfg: <= 0 means no limit */
  struct runm_thread_cache workers; /* the calls' threads */
};

struct runm_rpc_call {
  struct runm_rpc_server *srv;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_completion_queue *cq;
  const struct runm_rpc_method *method;
  char *method_name;
  struct runm_tc_job job;

  pthread_mutex_t send_lock; /* serialises senders; guards sent_initial_md */
  bool sent_initial_md;
  int recv_tag, send_tag, finish_tag, close_tag;

  /* The close watcher: a thread waiting for RECV_CLOSE_ON_SERVER, which
   * completes when the call ends or the client cancels. Started only when a
   * handler asks about cancellation (on_cancel, cancelled): a thread per
   * call costs ~0.1 ms under TCG, most of a Ping. Otherwise finish takes
   * the close in its own batch (close_in_finish), after which no watcher
   * may start. watch_lock guards both. */
  pthread_mutex_t watch_lock;
  pthread_t watcher;
  bool watching;
  bool close_in_finish;
  int close_cancelled;
  pthread_mutex_t hook_lock; /* guards hook, hook_arg, cancelled */
  void (*hook)(void *);
  void *hook_arg;
  bool cancelled;

  bool timed_out;  /* the client stalled past client_timeout_ms: cancelled */
  bool finished;   /* status sent; guarded by send_lock */
  bool status_set; /* set by runm_rpc_call_set_status */
  int status_code;
  char *status_details;
};

/* Never-ending deadline for waits that end with the call or the server. */
gpr_timespec rpc_forever(void);
void rpc_call_free(struct runm_rpc_call *c);
/* Runs one batch and waits for it; false when the batch failed (client
 * gone). The _client form ends a wait only a stalling client makes long
 * after ms (cancelling the call); ms <= 0: no limit. */
bool rpc_call_run_batch(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag);
bool rpc_call_run_batch_client(struct runm_rpc_call *c, const grpc_op *ops, size_t n, void *tag, int ms);
/* Sends the status (the handler's set_status wins), with resp if any;
 * once per call. */
void rpc_call_finish(struct runm_rpc_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *resp);

#endif

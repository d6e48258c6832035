/* runm's gRPC layer: gRPC C core (Debian's libgrpc 1.51) carrying protobuf-c
 * messages. A server with a method table keyed by full method name (unary,
 * server-streaming and bidirectional), listening on a unix socket; a client
 * for a `unix:` target or for a socket the caller connected itself.
 *
 * Threading model: every accepted call runs on its own thread with its own
 * pluck completion queue, so a slow handler (runc takes ~1 s in the guest)
 * never delays another call, and a streaming handler may send from one thread
 * while it receives on another. */
#ifndef RUNM_RPC_H
#define RUNM_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Largest message either side accepts from its peer. The guest is untrusted:
 * the host caps what it reads. */
#define RUNM_RPC_MAX_MESSAGE (4 * 1024 * 1024)
/* What decoding one message may allocate, and in how many blocks (one per
 * submessage, string, bytes field and repeated array): a 4 MiB message of
 * empty submessages would otherwise cost ~64 bytes per 2 wire bytes. Beyond
 * either, the message is refused (EMSGSIZE / RESOURCE_EXHAUSTED). */
#define RUNM_RPC_MAX_DECODED (8 * 1024 * 1024)
#define RUNM_RPC_MAX_DECODED_BLOCKS (64 * 1024)
/* Bytes of a peer's status details kept in an error (after escaping). */
#define RUNM_RPC_MAX_DETAILS 2048

struct runm_rpc_server;
struct runm_rpc_call;
struct runm_rpc_client;

enum runm_rpc_kind {
  RUNM_RPC_UNARY,
  RUNM_RPC_SERVER_STREAM, /* one request in, any number of messages out */
  RUNM_RPC_BIDI,          /* handler drives recv/send itself */
};

/* A handler returns 0 with *resp set (unary), or a negative value with *err
 * set. The errno in err->status chooses the gRPC status code (see
 * runm_rpc_code_from_errno); the message is sent as the status details. */
typedef int (*runm_rpc_unary_fn)(void *opaque, struct runm_rpc_call *call,
                                 const ProtobufCMessage *req, ProtobufCMessage **resp,
                                 runm_error_t *err);
/* Streaming handler: `req` is the single request for SERVER_STREAM, NULL for
 * BIDI. Returning 0 ends the call with OK. */
typedef int (*runm_rpc_stream_fn)(void *opaque, struct runm_rpc_call *call,
                                  const ProtobufCMessage *req, runm_error_t *err);

struct runm_rpc_method {
  const char *name; /* "/runm.v1.Guest/Ping" */
  enum runm_rpc_kind kind;
  const ProtobufCMessageDescriptor *request;
  const ProtobufCMessageDescriptor *response;
  runm_rpc_unary_fn unary;
  runm_rpc_stream_fn stream;
};

/* Server: the method table must outlive the server. `on_call` (may be NULL)
 * runs once per accepted call before dispatch (init uses it to stamp the
 * first RPC). */
struct runm_rpc_server_config {
  const struct runm_rpc_method *methods;
  size_t n_methods;
  void *opaque;
  void (*on_call)(void *opaque, const char *method);
  /* When set, every method not in the table goes here as a BIDI call whose
   * messages are handled raw (the transparent proxy). */
  runm_rpc_stream_fn fallback;
  /* Limits against a hostile client (the guest on host.sock). 0 picks the
   * default, RUNM_RPC_UNLIMITED turns the limit off (trusted clients only:
   * the guest's own service, whose client is the shim; the debug proxy).
   * max_calls: calls running at once; a call beyond it is refused with
   * RESOURCE_EXHAUSTED before any thread starts for it. Each running call
   * holds at most two threads, so threads stay under 2 * max_calls + 1.
   * client_timeout_ms: the request of a unary or server-streaming call must
   * arrive within this, and the final response and status be taken within
   * RUNM_RPC_SEND_TIMEOUT_FACTOR times it; otherwise the call is cancelled
   * (DEADLINE_EXCEEDED) and its slot freed. */
  int max_calls;
  int client_timeout_ms;
};

#define RUNM_RPC_UNLIMITED (-1)
#define RUNM_RPC_DEFAULT_MAX_CALLS 16
#define RUNM_RPC_DEFAULT_CLIENT_TIMEOUT_MS 5000
#define RUNM_RPC_SEND_TIMEOUT_FACTOR 6

struct runm_rpc_server *runm_rpc_server_new(const struct runm_rpc_server_config *cfg,
                                            runm_error_t *err);
/* Listen on a unix socket path (created 0600; an existing path is an error). */
int runm_rpc_server_listen_unix(struct runm_rpc_server *srv, const char *path, runm_error_t *err);
/* Start serving on a background thread. */
int runm_rpc_server_start(struct runm_rpc_server *srv, runm_error_t *err);
/* Stop accepting, cancel calls in flight, wait for handlers, free. */
void runm_rpc_server_free(struct runm_rpc_server *srv);

/* Inside a streaming handler. send returns <0 when the client has gone. recv
 * returns 1 with *msg (free with protobuf_c_message_free_unpacked), 0 at the
 * client's half-close, <0 on error or cancel. One sender and one receiver may
 * run concurrently. */
int runm_rpc_call_send(struct runm_rpc_call *call, const ProtobufCMessage *msg, runm_error_t *err);
int runm_rpc_call_recv(struct runm_rpc_call *call, ProtobufCMessage **msg, runm_error_t *err);
const char *runm_rpc_call_method(const struct runm_rpc_call *call);
/* Raw messages, for proxies: bytes are passed on undecoded (still capped at
 * RUNM_RPC_MAX_MESSAGE by gRPC). recv_raw: 1 with *bb (caller destroys),
 * 0 at half-close, <0 on cancel. send_raw does not take ownership. */
struct grpc_byte_buffer;
int runm_rpc_call_recv_raw(struct runm_rpc_call *call, struct grpc_byte_buffer **bb,
                           runm_error_t *err);
int runm_rpc_call_send_raw(struct runm_rpc_call *call, struct grpc_byte_buffer *bb,
                           runm_error_t *err);
/* The status the call ends with, whatever the handler returns (a proxy
 * passes on the upstream code and details unchanged). */
void runm_rpc_call_set_status(struct runm_rpc_call *call, int code, const char *details);
/* Ends the call now (status from set_status if set, else code/details):
 * a receiver blocked in recv then returns. The handler's own return value
 * no longer changes the status. */
void runm_rpc_call_finish(struct runm_rpc_call *call, int code, const char *details);

/* The transparent proxy: a fallback handler (opaque = struct
 * runm_rpc_client *) that forwards any call, message by message and
 * undecoded, to the client's peer, and passes back its status. */
int runm_rpc_proxy_handler(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                           runm_error_t *err);
/* True once the client has cancelled the call or gone away. */
bool runm_rpc_call_cancelled(struct runm_rpc_call *call);
/* Runs fn(arg) once, from another thread, when the client cancels or goes
 * away (immediately if it already has); a handler blocked on a condition
 * variable uses it to wake up. Replaces any earlier hook. Pass fn = NULL to
 * remove the hook before arg goes away. */
void runm_rpc_call_on_cancel(struct runm_rpc_call *call, void (*fn)(void *arg), void *arg);

/* Client. `target` is a gRPC target such as "unix:/run/x.sock"; when fd >= 0
 * the client takes ownership of that connected socket instead. */
struct runm_rpc_client *runm_rpc_client_new(const char *target, int fd, runm_error_t *err);
void runm_rpc_client_free(struct runm_rpc_client *c);
/* Unary call. timeout_ms <= 0 means no deadline. wait_for_ready makes the call
 * wait for the channel to connect instead of failing fast (used while a VM
 * boots). On error, err->status is an errno derived from the gRPC status and
 * the message names the method and the status. */
int runm_rpc_client_unary(struct runm_rpc_client *c, const char *method,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, int64_t timeout_ms, bool wait_for_ready,
                          runm_error_t *err);
/* A call's non-OK status as an error, the way the rpc layer words it:
 * `METHOD: CODE: details`, the peer's details escaped and capped at
 * RUNM_RPC_MAX_DETAILS (pure: the fuzzers call it). */
int runm_rpc_status_error(runm_error_t *err, const char *method, int code, const char *details,
                          size_t len);
/* When err holds a call's non-OK status as runm_rpc_client_unary words it
 * (`METHOD: CODE: details`), the peer's details within err->msg (escaped
 * and capped already); NULL for any other error (no answer, cancelled). */
const char *runm_rpc_error_details(const runm_error_t err, const char *method);
/* Cancel every call in flight and fail later ones (thread-safe: a watcher
 * thread calls it when the VM dies). */
void runm_rpc_client_cancel_all(struct runm_rpc_client *c, const char *why);

/* Client streams (server-streaming and bidirectional calls). For a
 * server-streaming call pass `request`: it is sent and the send side closed.
 * For a bidi call pass NULL and use send/close_send. recv returns 1 with
 * *msg, 0 when the server ended the stream with OK, <0 with err set to the
 * call's status otherwise. One sender and one receiver may run
 * concurrently. */
struct runm_rpc_stream;
struct runm_rpc_stream *runm_rpc_stream_open(struct runm_rpc_client *c, const char *method,
                                             const ProtobufCMessage *request,
                                             const ProtobufCMessageDescriptor *resp_desc,
                                             int64_t timeout_ms, runm_error_t *err);
int runm_rpc_stream_send(struct runm_rpc_stream *s, const ProtobufCMessage *msg, runm_error_t *err);
int runm_rpc_stream_close_send(struct runm_rpc_stream *s, runm_error_t *err);
int runm_rpc_stream_recv(struct runm_rpc_stream *s, ProtobufCMessage **msg, runm_error_t *err);
int runm_rpc_stream_send_raw(struct runm_rpc_stream *s, struct grpc_byte_buffer *bb,
                             runm_error_t *err);
/* 1 with *bb, 0 when the stream has ended (any status: see stream_status). */
int runm_rpc_stream_recv_raw(struct runm_rpc_stream *s, struct grpc_byte_buffer **bb,
                             runm_error_t *err);
/* After the stream ended: its gRPC status code; *details is malloc'ed. */
int runm_rpc_stream_status(struct runm_rpc_stream *s, char **details);
/* Cancels the call; pending and later recv/send fail. Thread-safe. */
void runm_rpc_stream_cancel(struct runm_rpc_stream *s);
void runm_rpc_stream_free(struct runm_rpc_stream *s);

/* Status mapping, both directions. */
int runm_rpc_code_from_errno(int err);
int runm_rpc_errno_from_code(int code);
const char *runm_rpc_code_name(int code);

#endif

/* runm's ttrpc: containerd's lightweight RPC protocol (what a shim speaks
 * with containerd), in C on protobuf-c messages. Unary calls only: the Task
 * and Events services have no streaming methods.
 *
 * Wire (docs/ttrpc.md): a 10-byte frame header (big-endian u32 payload
 * length, big-endian u32 stream id, u8 type, u8 flags) then the payload,
 * at most 4 MiB. A request frame carries a ttrpc.Request, a response frame
 * a ttrpc.Response on the same stream id. Client stream ids are odd and
 * increase.
 *
 * Threading: the server runs one reader thread per connection and one
 * thread per request, so a Wait that blocks for minutes never delays a
 * State on the same connection; responses are written whole under a
 * per-connection lock. The client has one reader thread that hands each
 * response to the caller waiting on its stream id. */
#ifndef RUNM_TTRPC_H
#define RUNM_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "containerd/ttrpc/request.pb-c.h"
#include "error.h"

#define RUNM_TTRPC_HEADER_SIZE 10
/* The protocol's own cap; a bigger frame ends the connection. */
#define RUNM_TTRPC_MAX_PAYLOAD (4u * 1024 * 1024)
/* A request with more metadata entries than this is refused. */
#define RUNM_TTRPC_MAX_METADATA 64

/* Metadata key containerd puts the namespace under (pkg/namespaces/ttrpc.go). */
#define RUNM_TTRPC_NAMESPACE_KEY "containerd-namespace-ttrpc"

enum runm_ttrpc_type {
  RUNM_TTRPC_REQUEST = 1,
  RUNM_TTRPC_RESPONSE = 2,
  RUNM_TTRPC_DATA = 3,
};

struct runm_ttrpc_header {
  uint32_t length; /* payload bytes, header excluded */
  uint32_t stream_id;
  uint8_t type;
  uint8_t flags;
};

struct runm_ttrpc_md {
  const char *key;
  const char *value;
};

/* ---- frames and envelopes (ttrpc_frame.c): no threads, no global state ---- */

void runm_ttrpc_header_pack(const struct runm_ttrpc_header *h, uint8_t out[RUNM_TTRPC_HEADER_SIZE]);
/* Fills *h; a length over RUNM_TTRPC_MAX_PAYLOAD is EMSGSIZE (*h is still
 * filled, so the caller can answer on that stream id). */
int runm_ttrpc_header_unpack(const uint8_t in[RUNM_TTRPC_HEADER_SIZE], struct runm_ttrpc_header *h,
                             runm_error_t *err);
/* One frame from the front of buf: 1 with *h, *payload (pointing into buf)
 * and *consumed; 0 when buf holds less than one whole frame; <0 when the
 * header is invalid. */
int runm_ttrpc_frame_parse(const uint8_t *buf, size_t len, struct runm_ttrpc_header *h,
                           const uint8_t **payload, size_t *consumed, runm_error_t *err);
/* Reads one frame from a stream socket, waiting in poll() on fd and on
 * wake_fd (-1: none). Returns 1 with *h and *payload (malloc'ed; NULL when
 * the length is 0); 0 at EOF, or when wake_fd is readable, before the first
 * byte of a frame; <0 otherwise: EPROTO for EOF inside a frame, EMSGSIZE for
 * an oversized frame (*h filled, payload not read), ECANCELED when woken
 * inside a frame, or the errno of a failed read. */
int runm_ttrpc_read_frame(int fd, int wake_fd, struct runm_ttrpc_header *h, uint8_t **payload,
                          runm_error_t *err);
/* Writes header and payload (MSG_NOSIGNAL), giving up with ETIMEDOUT when
 * the peer has not taken it all within timeout_ms (<0: wait forever).
 * Writers must be serialised by the caller. */
int runm_ttrpc_write_frame(int fd, const struct runm_ttrpc_header *h, const uint8_t *payload,
                           int timeout_ms, runm_error_t *err);

/* The ttrpc.Request envelope around msg (NULL: empty payload). timeout_nano
 * 0 = no deadline. *out is malloc'ed; EMSGSIZE when it would not fit a frame. */
int runm_ttrpc_request_pack(const char *service, const char *method, const ProtobufCMessage *msg,
                            int64_t timeout_nano, const struct runm_ttrpc_md *md, size_t n_md,
                            uint8_t **out, size_t *out_len, runm_error_t *err);
/* Decodes and checks a Request (service and method present, metadata
 * within RUNM_TTRPC_MAX_METADATA). Free with ttrpc__request__free_unpacked. */
int runm_ttrpc_request_unpack(const uint8_t *buf, size_t len, Ttrpc__Request **out,
                              runm_error_t *err);
/* A ttrpc.Response: code is a google.rpc code (0 = OK, then msg is the
 * payload; NULL = empty). */
int runm_ttrpc_response_pack(int code, const char *message, const ProtobufCMessage *msg,
                             uint8_t **out, size_t *out_len, runm_error_t *err);
int runm_ttrpc_response_unpack(const uint8_t *buf, size_t len, Ttrpc__Response **out,
                               runm_error_t *err);
/* Decodes a method's message; EINVAL when the bytes are not one. */
int runm_ttrpc_message_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                              ProtobufCMessage **out, runm_error_t *err);

/* ---- server (ttrpc_server.c) ---- */

struct runm_ttrpc_server;
struct runm_ttrpc_call;

/* A handler returns 0 with *resp set (NULL is an empty message, e.g. for
 * google.protobuf.Empty), or a negative value with *err set: the errno in
 * err->status picks the status code (runm_rpc_code_from_errno: ENOENT ->
 * NotFound, ENOSYS -> Unimplemented, ...) and the message is the status
 * message. *resp is freed with protobuf_c_message_free_unpacked, so build
 * it from malloc'ed parts. `req` is freed after the handler returns. */
typedef int (*runm_ttrpc_handler_fn)(void *opaque, struct runm_ttrpc_call *call,
                                     const ProtobufCMessage *req, ProtobufCMessage **resp,
                                     runm_error_t *err);

struct runm_ttrpc_method {
  const char *service; /* "containerd.task.v2.Task" */
  const char *method;  /* "Create" */
  const ProtobufCMessageDescriptor *request;
  runm_ttrpc_handler_fn handler;
};

struct runm_ttrpc_server_config {
  const struct runm_ttrpc_method *methods; /* must outlive the server */
  size_t n_methods;
  void *opaque;
  unsigned max_connections; /* 0: 64. Later connections are closed at once. */
  unsigned max_calls;       /* per connection, 0: 128. Beyond: ResourceExhausted. */
  /* Refuse peers (SO_PEERCRED) that are neither our euid nor root, as
   * containerd's own shims do. */
  bool require_same_user;
};

struct runm_ttrpc_server *runm_ttrpc_server_new(const struct runm_ttrpc_server_config *cfg,
                                                runm_error_t *err);
/* Creates a unix socket at path, mode 0600; an existing path is EEXIST.
 * The path is unlinked when the server is freed. */
int runm_ttrpc_server_listen_unix(struct runm_ttrpc_server *srv, const char *path,
                                  runm_error_t *err);
/* Serves a listening socket made by someone else (the shim's `start`
 * hands one to the long-lived shim). Takes ownership of fd. */
int runm_ttrpc_server_listen_fd(struct runm_ttrpc_server *srv, int fd, runm_error_t *err);
/* Serves one already-connected stream socket (a socketpair, a test).
 * Takes ownership of fd. Deadlines fire once the server is started. */
int runm_ttrpc_server_add_conn(struct runm_ttrpc_server *srv, int fd, runm_error_t *err);
/* Starts accepting (on its own thread) and the deadline timer. */
int runm_ttrpc_server_start(struct runm_ttrpc_server *srv, runm_error_t *err);
/* Graceful stop: stop accepting and reading requests, let calls in flight
 * finish and answer for up to grace_ms (<0: no limit), then cancel the rest
 * (their on_cancel hooks run) and wait for them; close every connection.
 * Never from a handler: a Shutdown handler asks main to do it. */
void runm_ttrpc_server_shutdown(struct runm_ttrpc_server *srv, int64_t grace_ms);
/* Shuts down (grace 0) if that has not happened, then frees. */
void runm_ttrpc_server_free(struct runm_ttrpc_server *srv);

/* Inside a handler. */
const char *runm_ttrpc_call_service(const struct runm_ttrpc_call *call);
const char *runm_ttrpc_call_method(const struct runm_ttrpc_call *call);
/* The first value sent under key, or NULL. */
const char *runm_ttrpc_call_metadata(const struct runm_ttrpc_call *call, const char *key);
/* RUNM_TTRPC_NAMESPACE_KEY's value, or NULL. */
const char *runm_ttrpc_call_namespace(const struct runm_ttrpc_call *call);
/* True with *deadline (CLOCK_MONOTONIC) when the client set a timeout. */
bool runm_ttrpc_call_deadline(const struct runm_ttrpc_call *call, struct timespec *deadline);
/* Milliseconds left before the deadline (0 once passed), -1 without one:
 * what a handler passes on to the guest call it makes. */
int64_t runm_ttrpc_call_timeout_ms(const struct runm_ttrpc_call *call);
/* The same for the call the calling thread's handler serves; -1 outside a
 * handler or without a deadline. */
int64_t runm_ttrpc_current_timeout_ms(void);
/* A call is cancelled when its deadline passes, its connection closes, or
 * the server's shutdown grace period ends. The response of a cancelled
 * call is still sent if the connection is up. */
bool runm_ttrpc_call_cancelled(struct runm_ttrpc_call *call);
/* Runs fn(arg) once, from another thread, when the call is cancelled
 * (at once if it already is). It runs under the server's locks: it should
 * only wake the handler (set a flag and signal under the handler's own
 * mutex, or write an eventfd). Since the hook may take that mutex, set and
 * remove the hook, and call runm_ttrpc_call_cancelled, outside it.
 * Replaces any earlier hook; fn = NULL removes it before arg goes away. */
void runm_ttrpc_call_on_cancel(struct runm_ttrpc_call *call, void (*fn)(void *arg), void *arg);

/* ---- client (ttrpc_client.c) ---- */

struct runm_ttrpc_client;

/* Connects to a unix socket path (e.g. $TTRPC_ADDRESS). */
struct runm_ttrpc_client *runm_ttrpc_client_connect(const char *path, runm_error_t *err);
/* Uses a connected stream socket; takes ownership of fd. */
struct runm_ttrpc_client *runm_ttrpc_client_new_fd(int fd, runm_error_t *err);
/* Closes the connection and frees. No other thread may be inside a call. */
void runm_ttrpc_client_free(struct runm_ttrpc_client *c);
/* Unary call, safe from many threads at once. timeout_ms <= 0: no deadline
 * (none is sent either). On a non-OK status, err->status is
 * runm_rpc_errno_from_code(code) (Unimplemented -> ENOSYS, NotFound ->
 * ENOENT, ...) and the message names the method, the code and the server's
 * message; a call that times out is ETIMEDOUT, a dead connection ECONNRESET.
 * *resp: free with protobuf_c_message_free_unpacked. */
int runm_ttrpc_client_call(struct runm_ttrpc_client *c, const char *service, const char *method,
                           const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, const struct runm_ttrpc_md *md, size_t n_md,
                           int64_t timeout_ms, runm_error_t *err);

#endif

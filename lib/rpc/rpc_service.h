/* Method tables and calls named from the generated service descriptors:
 * a method's path and its request/response types come from protoc-c's
 * output, so a misspelt name or a mismatched type is an error at start-up
 * (server) or at the call (client), never a silent UNIMPLEMENTED. */
#ifndef RUNM_RPC_SERVICE_H
#define RUNM_RPC_SERVICE_H

#include "rpc.h"

/* A handler for one method of a service, by its bare name ("Ping"). */
struct runm_rpc_handler {
  const char *method;
  enum runm_rpc_kind kind;
  runm_rpc_unary_fn unary;
  runm_rpc_stream_fn stream;
};

/* Builds the server's method table for svc from handlers (one per method,
 * every method of svc handled, none unknown). The table is one heap block:
 * free() it after the server is freed. */
int runm_rpc_methods_build(const ProtobufCServiceDescriptor *svc, const struct runm_rpc_handler *h,
                           size_t n, struct runm_rpc_method **out, runm_error_t *err);

/* A unary call of svc's method `method`: req must be of its input type;
 * *resp is of its output type. */
int runm_rpc_call(struct runm_rpc_client *cl, const ProtobufCServiceDescriptor *svc, const char *method,
                  const ProtobufCMessage *req, ProtobufCMessage **resp, int64_t timeout_ms,
                  runm_error_t *err);

#endif

/* Unit tests for lib/rpc/pb.c and rpc_service.c: method tables and calls
 * named from the generated service descriptors, timestamps, messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"
#include "runm/v1/host.pb-c.h"
#include "tap.h"

static int unary(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp, runm_error_t *err)
{
  return 0;
}

static void test_table(void)
{
  struct runm_rpc_handler h[] = {{"RunHook", RUNM_RPC_BIDI, NULL, NULL}};
  struct runm_rpc_method *m = NULL;
  cleanup_error runm_error_t err = NULL;
  const ProtobufCServiceDescriptor *svc = &runm__v1__host__descriptor;

  is_int(runm_rpc_methods_build(svc, h, 1, &m, &err), 0, "host service: one handler per method builds");
  ok(m != NULL, "table returned");
  if (m) {
    is_str(m[0].name, "/runm.v1.Host/RunHook", "path from the descriptor");
    ok(m[0].request == svc->methods[0].input && m[0].response == svc->methods[0].output,
       "message types from the descriptor");
  }
  free(m);

  struct runm_rpc_handler bad[] = {{"RunHooks", RUNM_RPC_BIDI, NULL, NULL}};
  m = NULL;
  ok(runm_rpc_methods_build(svc, bad, 1, &m, &err) < 0 && m == NULL, "a misspelt method is refused");
  ok(err && strstr(err->msg, "RunHooks"), "the error names it");
  runm_error_release(&err);

  struct runm_rpc_handler kind[] = {{"RunHook", RUNM_RPC_UNARY, NULL, NULL}};
  ok(runm_rpc_methods_build(svc, kind, 1, &m, &err) < 0, "a unary handler without a function is refused");
  runm_error_release(&err);

  struct runm_rpc_handler few[] = {{"Ping", RUNM_RPC_UNARY, unary, NULL}};
  ok(runm_rpc_methods_build(&runm__v1__guest__descriptor, few, 1, &m, &err) < 0,
     "a service with unhandled methods is refused");
  ok(err && strstr(err->msg, "runm.v1.Guest"), "the error names the service");
  runm_error_release(&err);

}

static void test_call_checks(void)
{
  cleanup_error runm_error_t err = NULL;
  ProtobufCMessage *resp = (ProtobufCMessage *)1;
  Runm__V1__PingRequest ping = RUNM__V1__PING_REQUEST__INIT;
  Runm__V1__KillRequest kill = RUNM__V1__KILL_REQUEST__INIT;

  /* Checked before any client is touched: a NULL client is never used. */
  ok(runm_rpc_call(NULL, &runm__v1__guest__descriptor, "Pong", &ping.base, &resp, 1, &err) < 0,
     "an unknown method fails before the call");
  ok(resp == NULL, "no response on failure");
  runm_error_release(&err);
  ok(runm_rpc_call(NULL, &runm__v1__guest__descriptor, "Ping", &kill.base, &resp, 1, &err) < 0,
     "a request of the wrong type fails before the call");
  ok(err && strstr(err->msg, "runm.v1.KillRequest") && strstr(err->msg, "runm.v1.PingRequest"),
     "the error names both types");
}

static void test_time_and_messages(void)
{
  int64_t ns = 1700000000123456789LL;
  Google__Protobuf__Timestamp *t = runm_pb_timestamp_new(ns);
  is_int(t->seconds, 1700000000LL, "timestamp seconds");
  is_int(t->nanos, 123456789, "timestamp nanos");
  is_int(runm_pb_timestamp_ns(t), ns, "round trip");
  is_int(runm_pb_timestamp_ns(NULL), 0, "no timestamp is 0");
  free(t);
  ok(runm_realtime_ns() > ns, "realtime is after 2023");

  {
    cleanup_pb Runm__V1__PidsResponse *r = runm_pb_new_as(Runm__V1__PidsResponse, runm__v1__pids_response__descriptor);
    ok(r->base.descriptor == &runm__v1__pids_response__descriptor, "runm_pb_new initialises");
    is_int(r->n_processes, 0, "and zeroes");
  }
  {
    char buf[8];
    ok(runm_pb_method_path(&runm__v1__guest__descriptor, 0, buf, sizeof(buf)) == NULL,
       "a path that does not fit is refused");
    ok(runm_pb_method_path(&runm__v1__guest__descriptor, 1000, buf, sizeof(buf)) == NULL,
       "an index out of range is refused");
  }
}

int main(void)
{
  test_table();
  test_call_checks();
  test_time_and_messages();
  return tap_done();
}

/* The ttrpc server hands a handler's code containerd's deadline (issue 11,
 * Low: every guest call used a fixed 120 s whatever containerd asked), and
 * its error text carries an errno's words once, in whatever case the
 * handler's message already ends with them (issue 16). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "tap.h"
#include "ttrpc.h"

#define TASK "containerd.task.v2.Task"

/* State answers with the deadline its handler thread sees, in ms (pid),
 * or 999999 without one; Pids fails like the guest's missing file. */
static int state(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                 ProtobufCMessage **resp, runm_error_t *err)
{
  Containerd__Task__V2__StateResponse *r = malloc(sizeof(*r));
  int64_t ms = runm_ttrpc_current_timeout_ms();
  containerd__task__v2__state_response__init(r);
  r->pid = ms < 0 ? 999999 : (uint32_t)ms;
  *resp = &r->base;
  return 0;
}

static int pids(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                ProtobufCMessage **resp, runm_error_t *err)
{
  return runm_make_error(err, ENOENT, "invalid rootfs: stat /x: no such file or directory");
}

static const struct runm_ttrpc_method methods[] = {
    {TASK, "State", &containerd__task__v2__state_request__descriptor, state},
    {TASK, "Pids", &containerd__task__v2__pids_request__descriptor, pids},
};

static int64_t seen(struct runm_ttrpc_client *c, int64_t timeout_ms)
{
  Containerd__Task__V2__StateRequest rq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  runm_error_t err = NULL;
  int64_t v = -2;
  rq.id = "c1";
  if (runm_ttrpc_client_call(c, TASK, "State", &rq.base,
                             &containerd__task__v2__state_response__descriptor, &resp, NULL, 0,
                             timeout_ms, &err) == 0)
    v = ((Containerd__Task__V2__StateResponse *)resp)->pid;
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  runm_error_release(&err);
  return v;
}

int main(void)
{
  char dir[] = "/tmp/runm-test-ttd.XXXXXX";
  cleanup_free char *sock = NULL;
  struct runm_ttrpc_server_config cfg = {.methods = methods, .n_methods = 2};
  runm_error_t err = NULL;
  struct runm_ttrpc_server *srv;
  struct runm_ttrpc_client *c;
  int64_t v;

  if (mkdtemp(dir) == NULL || asprintf(&sock, "%s/t.sock", dir) < 0) abort();
  srv = runm_ttrpc_server_new(&cfg, &err);
  ok(srv && runm_ttrpc_server_listen_unix(srv, sock, &err) == 0 &&
         runm_ttrpc_server_start(srv, &err) == 0,
     "ttrpc server up");
  c = runm_ttrpc_client_connect(sock, &err);
  ok(c != NULL, "client connected");

  is_int(runm_ttrpc_current_timeout_ms(), -1, "outside a handler: no deadline");
  v = seen(c, 7000);
  printf("# a 7 s call: the handler sees %lld ms\n", (long long)v);
  ok(v > 5000 && v <= 7000, "a handler sees the deadline of containerd's request");
  v = seen(c, 0);
  is_int(v, 999999, "a request without a timeout has no deadline");

  {
    Containerd__Task__V2__PidsRequest rq = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    rq.id = "c1";
    ok(runm_ttrpc_client_call(c, TASK, "Pids", &rq.base,
                              &containerd__task__v2__pids_response__descriptor, &resp, NULL, 0,
                              5000, &err) < 0 && err && err->status == ENOENT,
       "ENOENT goes out as NotFound");
    ok(err && strcasestr(err->msg, "no such file or directory") &&
           !strstr(err->msg, "No such file or directory"),
       "the errno's words come once, whatever their case");
    if (err) printf("# %s\n", err->msg);
    runm_error_release(&err);
  }
  runm_ttrpc_client_free(c);
  runm_ttrpc_server_free(srv);
  unlink(sock);
  rmdir(dir);
  return tap_done();
}

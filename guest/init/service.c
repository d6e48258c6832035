/* The runm.v1.Guest service: method table and handlers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "init.h"
#include "reaper.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"

int64_t init_boottime_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int do_ping(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Runm__V1__PingRequest *r = (const Runm__V1__PingRequest *)req;
  Runm__V1__PingResponse *out = calloc(1, sizeof(*out));

  if (out == NULL) return runm_make_error(err, ENOMEM, "ping");
  runm__v1__ping_response__init(out);
  if (r->data.len) {
    out->data.data = malloc(r->data.len);
    if (out->data.data == NULL) {
      free(out);
      return runm_make_error(err, ENOMEM, "ping");
    }
    memcpy(out->data.data, r->data.data, r->data.len);
    out->data.len = r->data.len;
  }
  out->realtime_ns = realtime_ns();
  out->boottime_ns = init_boottime_ns();
  *resp = &out->base;
  return 0;
}

static char *runc_version(struct reaper *r)
{
  char buf[512];
  char *argv[] = {"/bin/runc", "--version", NULL};
  int status;
  cleanup_error runm_error_t err = NULL;

  if (reaper_run_capture(r, argv, buf, sizeof(buf), &status, &err) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    return strdup("unknown");
  buf[strcspn(buf, "\n")] = '\0';
  return strdup(buf);
}

static int do_info(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  Runm__V1__InfoResponse *out = calloc(1, sizeof(*out));
  Runm__V1__BootTimeline *tl = calloc(1, sizeof(*tl));
  struct utsname u;
  struct sysinfo si;

  if (out == NULL || tl == NULL) {
    free(out);
    free(tl);
    return runm_make_error(err, ENOMEM, "info");
  }
  runm__v1__info_response__init(out);
  runm__v1__boot_timeline__init(tl);
  uname(&u);
  out->kernel_release = strdup(u.release);
  out->kernel_version = strdup(u.version);
  out->runc_version = runc_version(ctx->reaper);
  out->init_version = strdup(INIT_VERSION);
  out->transport = strdup(ctx->cfg.transport);
  out->vm_id = strdup(ctx->cfg.vm_id);
  out->uptime_ns = init_boottime_ns();
  out->ncpu = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
  if (sysinfo(&si) == 0) out->mem_total_bytes = (uint64_t)si.totalram * si.mem_unit;
  tl->mounter_start_ns = ctx->timeline.mounter_start_ns;
  tl->init_start_ns = ctx->timeline.init_start_ns;
  tl->serving_ns = ctx->timeline.serving_ns;
  tl->first_rpc_ns = __atomic_load_n(&ctx->timeline.first_rpc_ns, __ATOMIC_SEQ_CST);
  out->timeline = tl;
  *resp = &out->base;
  if (!out->kernel_release || !out->kernel_version || !out->runc_version || !out->init_version ||
      !out->transport || !out->vm_id) {
    protobuf_c_message_free_unpacked(*resp, NULL);
    *resp = NULL;
    return runm_make_error(err, ENOMEM, "info");
  }
  return 0;
}

static const struct runm_rpc_method methods[] = {
    {"/runm.v1.Guest/Ping", RUNM_RPC_UNARY, &runm__v1__ping_request__descriptor,
     &runm__v1__ping_response__descriptor, do_ping, NULL},
    {"/runm.v1.Guest/Info", RUNM_RPC_UNARY, &runm__v1__info_request__descriptor,
     &runm__v1__info_response__descriptor, do_info, NULL},
};

static void on_call(void *opaque, const char *method)
{
  struct init_ctx *ctx = opaque;
  int64_t zero = 0, now = init_boottime_ns();
  __atomic_compare_exchange_n(&ctx->timeline.first_rpc_ns, &zero, now, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  runm_log(&ctx->log, RUNM_LOG_DEBUG, "call %s", method);
}

int init_service_start(struct init_ctx *ctx, runm_error_t *err)
{
  struct runm_rpc_server_config cfg = {
      .methods = methods,
      .n_methods = sizeof(methods) / sizeof(methods[0]),
      .opaque = ctx,
      .on_call = on_call,
  };
  /* The server lives as long as PID 1. */
  struct runm_rpc_server *srv = runm_rpc_server_new(&cfg, err);

  if (srv == NULL) return -1;
  if (runm_rpc_server_listen_unix(srv, INIT_RPC_SOCKET, err) < 0 ||
      runm_rpc_server_start(srv, err) < 0) {
    runm_rpc_server_free(srv);
    return -1;
  }
  return 0;
}

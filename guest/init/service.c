/* The runm.v1.Guest service: the method table, Ping, Info, and the two
 * streams (Events, Stdio); the container handlers live in task.c and
 * control.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "container.h"
#include "events.h"
#include "handlers.h"
#include "init.h"
#include "reaper.h"
#include "stdio_relay.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"

int64_t init_boottime_ns(void)
{
  return runm_clock_ns(CLOCK_BOOTTIME);
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
  out->realtime_ns = runm_clock_ns(CLOCK_REALTIME);
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

static uint32_t count_fds(void)
{
  cleanup_dir DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  uint32_t n = 0;

  if (d == NULL) return 0;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  return n > 0 ? n - 1 : 0; /* not the one opendir holds */
}

static uint32_t count_threads(void)
{
  char buf[4096], *t;
  cleanup_close int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0) return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  if (n <= 0) return 0;
  buf[n] = '\0';
  t = strstr(buf, "\nThreads:");
  return t ? (uint32_t)strtoul(t + 9, NULL, 10) : 0;
}

/* Processes in state Z anywhere in the guest. */
static uint32_t count_zombies(void)
{
  cleanup_dir DIR *d = opendir("/proc");
  struct dirent *de;
  uint32_t n = 0;

  if (d == NULL) return 0;
  while ((de = readdir(d))) {
    char path[64], buf[512], *rp;
    cleanup_close int fd = -1;
    ssize_t len;
    if (!isdigit((unsigned char)de->d_name[0])) continue;
    snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    len = read(fd, buf, sizeof(buf) - 1);
    if (len <= 0) continue;
    buf[len] = '\0';
    /* "pid (comm) S ...": comm may hold spaces and parentheses. */
    rp = strrchr(buf, ')');
    if (rp && rp[1] == ' ' && rp[2] == 'Z') n++;
  }
  return n;
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
  out->open_fds = count_fds();
  out->threads = count_threads();
  out->zombies = count_zombies();
  out->containers = registry_count(ctx->registry);
  pthread_mutex_lock(&ctx->net.lock);
  out->network = strdup(ctx->net.status);
  pthread_mutex_unlock(&ctx->net.lock);
  out->network_setup_ns = ctx->net.setup_ns;
  if (sysinfo(&si) == 0) out->mem_total_bytes = (uint64_t)si.totalram * si.mem_unit;
  tl->mounter_start_ns = ctx->timeline.mounter_start_ns;
  tl->init_start_ns = ctx->timeline.init_start_ns;
  tl->serving_ns = ctx->timeline.serving_ns;
  tl->first_rpc_ns = __atomic_load_n(&ctx->timeline.first_rpc_ns, __ATOMIC_SEQ_CST);
  tl->runc_sealed_ns = __atomic_load_n(&ctx->timeline.runc_sealed_ns, __ATOMIC_SEQ_CST);
  out->timeline = tl;
  *resp = &out->base;
  if (!out->kernel_release || !out->kernel_version || !out->runc_version || !out->init_version ||
      !out->transport || !out->vm_id || !out->network) {
    protobuf_c_message_free_unpacked(*resp, NULL);
    *resp = NULL;
    return runm_make_error(err, ENOMEM, "info");
  }
  return 0;
}

static int do_events(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                     runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  return events_serve(ctx->events, call, ((const Runm__V1__EventsRequest *)req)->since, err);
}

static int do_stdio(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                    runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  return stdio_serve(ctx->registry, call, err);
}

/* Every runm.v1.Guest method; paths and message types come from the
 * generated service descriptor (rpc_service.h). */
#define UNARY(name, fn) {name, RUNM_RPC_UNARY, fn, NULL}
static const struct runm_rpc_handler handlers[] = {
    UNARY("Ping", do_ping),
    UNARY("Info", do_info),
    UNARY("Prepare", svc_prepare),
    UNARY("ConfigureNetwork", svc_configure_network),
    UNARY("Create", svc_create),
    UNARY("Start", svc_start),
    UNARY("Exec", svc_exec),
    UNARY("Kill", svc_kill),
    UNARY("Delete", svc_delete),
    UNARY("State", svc_state),
    UNARY("Pids", svc_pids),
    UNARY("Pause", svc_pause),
    UNARY("Resume", svc_resume),
    UNARY("Update", svc_update),
    UNARY("Stats", svc_stats),
    UNARY("Wait", svc_wait),
    UNARY("ResizePty", svc_resize_pty),
    UNARY("CloseStdin", svc_close_stdin),
    {"Events", RUNM_RPC_SERVER_STREAM, NULL, do_events},
    {"Stdio", RUNM_RPC_BIDI, NULL, do_stdio},
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
      .n_methods = sizeof(handlers) / sizeof(handlers[0]),
      .opaque = ctx,
      .on_call = on_call,
      /* The client is the host's shim, which the guest trusts: keep every
       * call it makes (streams stay open for a process's life). */
      .max_calls = RUNM_RPC_UNLIMITED,
      .client_timeout_ms = RUNM_RPC_UNLIMITED,
  };
  struct runm_rpc_method *methods;
  struct runm_rpc_server *srv;

  /* These, like the server, live as long as PID 1. */
  ctx->events = events_new(err);
  if (ctx->events == NULL) return -1;
  ctx->registry = registry_new(ctx->reaper, ctx->events, &ctx->log, err);
  if (ctx->registry == NULL) return -1;
  if (oom_watch_start(ctx->registry, err) < 0) return -1;
  /* The table, like the server, lives as long as PID 1. */
  if (runm_rpc_methods_build(&runm__v1__guest__descriptor, handlers, cfg.n_methods, &methods, err) < 0)
    return -1;
  cfg.methods = methods;
  srv = runm_rpc_server_new(&cfg, err);
  if (srv == NULL) return -1;
  if (runm_rpc_server_listen_unix(srv, INIT_RPC_SOCKET, err) < 0 ||
      runm_rpc_server_start(srv, err) < 0) {
    runm_rpc_server_free(srv);
    return -1;
  }
  return 0;
}

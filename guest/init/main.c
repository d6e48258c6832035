/* runm-linux-init: PID 1 of the runm VM. Sets the system up, serves the
 * guest service, and reaps forever. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "hostlink.h"
#include "init.h"
#include "reaper.h"
#include "runc_exe.h"

static void console_sink(void *opaque, enum runm_log_level level, const char *line)
{
  /* One write per line so concurrent threads do not interleave. */
  char buf[2400];
  int n = snprintf(buf, sizeof(buf), "%s\n", line);
  if (n > 0) {
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    (void)w;
  }
}

/* Before serving, a failure leaves nothing useful running: say so on the
 * console and end the VM so the host sees it at once. */
static int fatal(struct init_ctx *ctx, runm_error_t *err, const char *what)
{
  runm_log_error(&ctx->log, *err, what);
  sync();
  reboot(RB_AUTOBOOT);
  return 1;
}

int main(int argc, char **argv)
{
  struct init_ctx ctx;
  cleanup_error runm_error_t err = NULL;
  char cmdline[RUNM_CMDLINE_MAX];
  const char *mst = getenv("RUNM_MOUNTER_START_NS");
  sigset_t mask;
  int sfd;

  memset(&ctx, 0, sizeof(ctx));
  ctx.timeline.init_start_ns = init_boottime_ns();
  ctx.timeline.mounter_start_ns = mst ? strtoll(mst, NULL, 10) : 0;
  ctx.log.component = "runm-linux-init";
  ctx.log.max_level = RUNM_LOG_INFO;
  ctx.log.sink = console_sink;

  /* Every thread inherits this mask: SIGCHLD and SIGIO are only ever taken
   * synchronously (signalfd, sigtimedwait). */
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGIO);
  sigaddset(&mask, SIGPIPE);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
    runm_make_error(&err, errno, "sigprocmask");
    return fatal(&ctx, &err, "init");
  }
  sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) {
    runm_make_error(&err, errno, "signalfd");
    return fatal(&ctx, &err, "init");
  }

  if (runm_cmdline_read(cmdline, sizeof(cmdline), &err) < 0) return fatal(&ctx, &err, "cmdline");
  if (init_config_parse(&ctx.cfg, cmdline, &err) < 0) return fatal(&ctx, &err, "cmdline");
  if (ctx.cfg.debug) ctx.log.max_level = RUNM_LOG_DEBUG;
  ctx.log.id = ctx.cfg.vm_id[0] ? ctx.cfg.vm_id : NULL;
  if (getpid() != 1) runm_log(&ctx.log, RUNM_LOG_WARN, "not PID 1 (pid %d)", (int)getpid());

  if (init_setup_system(&ctx.cfg, &ctx.log, &err) < 0) return fatal(&ctx, &err, "setup");
  init_net_setup(cmdline, &ctx.net, &ctx.log);
  if (init_mount_shares(cmdline, &ctx.log, &err) < 0) return fatal(&ctx, &err, "shares");
  ctx.reaper = reaper_new(&err);
  if (ctx.reaper == NULL) return fatal(&ctx, &err, "reaper");
  if (init_service_start(&ctx, &err) < 0) return fatal(&ctx, &err, "guest service");
  /* Before the relay: no Create can arrive before ctx.hostlink is set. A
   * VM without it still runs containers; their hooks say why they cannot. */
  if (hostlink_start(&ctx, cmdline, &ctx.hostlink, &err) < 0) {
    runm_log_error(&ctx.log, err, "guest-to-host channel (OCI hooks will fail)");
    runm_error_release(&err);
  }
  if (init_relay_start(&ctx, &err) < 0) return fatal(&ctx, &err, "host channel");
  ctx.timeline.serving_ns = init_boottime_ns();
  runc_exe_start(&ctx.log, ctx.reaper, &ctx.timeline.runc_sealed_ns);
  runm_log(&ctx.log, RUNM_LOG_INFO, "serving on %s (%s), %.3f s after boot",
           strcmp(ctx.cfg.transport, "vsock") == 0 ? "vsock" : ctx.cfg.port_name,
           ctx.cfg.transport, ctx.timeline.serving_ns / 1e9);

  /* From here on PID 1 never exits: it reaps, and warns on the unexpected. */
  for (;;) {
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof(si));
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof(si)) {
      runm_log(&ctx.log, RUNM_LOG_WARN, "signalfd read: %m");
      continue;
    }
    if (si.ssi_signo == SIGCHLD)
      reaper_reap(ctx.reaper);
    else
      runm_log(&ctx.log, RUNM_LOG_DEBUG, "ignoring signal %u", si.ssi_signo);
  }
  (void)argc;
  (void)argv;
  return 0;
}

/* Running one OCI hook on the host for the shim (hooks.c): posix_spawn in
 * its own process group, the state on stdin, stdout and stderr captured
 * (capped), the timeout enforced by killing the group, and the same when
 * the caller goes away. */
#include "hook_run.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"

/* After a hook exits, output still in flight is read for this long (a
 * child it left behind may hold the pipes open forever). */
#define EXIT_DRAIN_MS 1000

static void capture_read(struct hook_output *c)
{
  char scratch[16384];
  for (;;) {
    size_t room = HOOK_MAX_OUTPUT - c->len;
    char *dst = room ? c->buf + c->len : scratch;
    ssize_t n = read(c->fd, dst, room ? (room < sizeof(scratch) ? room : sizeof(scratch)) : sizeof(scratch));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      close(c->fd);
      c->fd = -1;
      return;
    }
    if (room) c->len += (size_t)n;
    else c->truncated = true;
  }
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll(2)'s timeout for `left` milliseconds (int: a long wait comes back
 * and is computed again). */
static int poll_ms(int64_t left)
{
  return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static void wake(void *arg)
{
  uint64_t one = 1;
  if (write(*(int *)arg, &one, sizeof(one)) < 0) {
    /* an eventfd below its maximum cannot refuse */
  }
}

static int make_pipe(int fds[2], bool nonblock_read, bool nonblock_write, runm_error_t *err)
{
  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  if ((nonblock_read && fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) ||
      (nonblock_write && fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0)) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return runm_make_error(err, e, "pipe");
  }
  return 0;
}

int hook_run(const struct hook_cmd *hk, const char *state, struct runm_rpc_call *call,
             struct hook_result *res, runm_error_t *err)
{
  int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
  cleanup_close int cancelfd = -1, pidfd = -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, all;
  size_t state_len = strlen(state), state_off = 0;
  /* A spec's timeout may be any int64: past ~73 million years it is as
   * good as none, and the milliseconds must not overflow. */
  int64_t tmo_s = hk->timeout_s > INT64_MAX / 4000 ? INT64_MAX / 4000 : hk->timeout_s;
  int64_t start = mono_ms(), deadline = tmo_s > 0 ? start + tmo_s * 1000 : -1;
  int64_t drain_until = -1;
  bool exited = false;
  pid_t pid;
  int ret;

  memset(res, 0, sizeof(*res));
  res->out.fd = res->err.fd = -1;
  res->out.buf = malloc(HOOK_MAX_OUTPUT);
  res->err.buf = malloc(HOOK_MAX_OUTPUT);
  if (res->out.buf == NULL || res->err.buf == NULL) return runm_make_error(err, ENOMEM, "hook output");
  cancelfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancelfd < 0) return runm_make_error(err, errno, "eventfd");
  if (make_pipe(in, false, true, err) < 0) return -1;
  if (make_pipe(out, true, false, err) < 0 || make_pipe(errp, true, false, err) < 0) {
    close(in[0]);
    close(in[1]);
    if (out[0] >= 0) {
      close(out[0]);
      close(out[1]);
    }
    return -1;
  }

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  /* Nothing of the shim's (ttrpc, gRPC, VM sockets) leaks into the hook. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  /* runc runs hooks from the bundle directory. */
  posix_spawn_file_actions_addchdir_np(&fa, hk->dir);
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  /* Its own process group, so that a timeout kills everything it started. */
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  ret = posix_spawn(&pid, hk->path, &fa, &attr, hk->argv, hk->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  close(errp[1]);
  res->out.fd = out[0];
  res->err.fd = errp[0];
  if (ret != 0) {
    close(in[1]);
    return runm_make_error(err, ret, "start `%s`", hk->path);
  }
  if (hk->started) hk->started(hk->arg, pid);
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (call) runm_rpc_call_on_cancel(call, wake, &cancelfd);

  while (!exited || res->out.fd >= 0 || res->err.fd >= 0) {
    struct pollfd p[5];
    int np = 0, ip = -1, op = -1, ep = -1, pp = -1, cp, timeout = -1;
    int64_t now = mono_ms();

    if (!exited && deadline >= 0 && now >= deadline && !res->timed_out) {
      res->timed_out = true;
      kill(-pid, SIGKILL);
    }
    if (exited && now >= drain_until) break;
    cp = np;
    p[np++] = (struct pollfd){.fd = cancelfd, .events = POLLIN};
    if (!exited && pidfd >= 0) {
      pp = np;
      p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    }
    if (res->out.fd >= 0) {
      op = np;
      p[np++] = (struct pollfd){.fd = res->out.fd, .events = POLLIN};
    }
    if (res->err.fd >= 0) {
      ep = np;
      p[np++] = (struct pollfd){.fd = res->err.fd, .events = POLLIN};
    }
    if (in[1] >= 0) {
      ip = np;
      p[np++] = (struct pollfd){.fd = in[1], .events = POLLOUT};
    }
    if (exited) timeout = poll_ms(drain_until - now);
    else if (deadline >= 0 && !res->timed_out) timeout = poll_ms(deadline - now);
    if (pidfd < 0 && !exited && (timeout < 0 || timeout > 50)) timeout = 50; /* no pidfd: poll */
    if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) break;
    if (p[cp].revents && !res->cancelled) {
      res->cancelled = true;
      if (!exited) kill(-pid, SIGKILL);
      drain_until = mono_ms(); /* nobody to give the output to */
    }
    if (op >= 0 && p[op].revents) capture_read(&res->out);
    if (ep >= 0 && p[ep].revents) capture_read(&res->err);
    if (ip >= 0 && p[ip].revents) {
      ssize_t n = write(in[1], state + state_off, state_len - state_off);
      if (n > 0) state_off += (size_t)n;
      /* A hook that does not read its stdin (EPIPE) is fine. */
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || state_off == state_len) {
        close(in[1]);
        in[1] = -1;
      }
    }
    if (!exited && (pp < 0 || p[pp].revents)) {
      pid_t w = waitpid(pid, &res->status, WNOHANG);
      if (w == pid) {
        exited = true;
        if (!res->cancelled) drain_until = mono_ms() + EXIT_DRAIN_MS;
        if (in[1] >= 0) {
          close(in[1]);
          in[1] = -1;
        }
      }
    }
  }
  if (call) runm_rpc_call_on_cancel(call, NULL, NULL);
  if (in[1] >= 0) close(in[1]);
  if (!exited) {
    /* Only a failed poll gets here: do not leave the hook running. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR) {
    }
  }
  if (res->timed_out || res->cancelled) kill(-pid, SIGKILL); /* stragglers in its group */
  if (hk->ended) hk->ended(hk->arg, pid);
  res->seconds = (double)(mono_ms() - start) / 1000.0;
  return 0;
}

void hook_result_free(struct hook_result *r)
{
  if (r->out.fd >= 0) close(r->out.fd);
  if (r->err.fd >= 0) close(r->err.fd);
  free(r->out.buf);
  free(r->err.buf);
}

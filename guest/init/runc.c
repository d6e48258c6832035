/* Running runc (see runc.h). Every invocation gets its own JSON log file:
 * runc's stderr is often the container's (pipes mode), so the log is where
 * its error message reliably lands. */
#include "runc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "jsonscan.h"
#include "reaper.h"
#include "rlimits.h"
#include "tty.h"

#define STDERR_CAP (16 * 1024)
#define LOG_TAIL (64 * 1024)

void runc_io_init(struct runc_io *io)
{
  memset(io, 0, sizeof(*io));
  io->stdio[0] = io->stdio[1] = io->stdio[2] = -1;
  io->console_listen = -1;
  io->console_master = -1;
}

/* Parses the Go-quoted string starting at s (just past the opening quote). */
static void go_unquote(const char *s, const char *end, char *out, size_t cap)
{
  size_t o = 0;
  for (; s < end && *s != '"'; s++) {
    char c = *s;
    if (c == '\\' && s + 1 < end) {
      s++;
      c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
    }
    if (o + 1 < cap) out[o++] = c;
  }
  out[o] = '\0';
}

void runc_error_message(const char *text, size_t len, char *out, size_t cap)
{
  const char *p = text, *end = text + len;
  char last_line[1024] = "";
  bool found = false;

  if (cap == 0) return;
  out[0] = '\0';
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *s = p;
    while (s < le && isspace((unsigned char)*s)) s++;
    if (s < le && *s == '{') {
      struct jscan_span line = {s, (size_t)(le - s)}, v;
      char level[16];
      if (jscan_object_get(line, "level", &v) && jscan_string(v, level, sizeof(level)) &&
          (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0) &&
          jscan_object_get(line, "msg", &v) && jscan_string(v, out, cap))
        found = true;
    } else if (s < le) {
      size_t n = (size_t)(le - s);
      const char *m;
      char *lvl = memmem(s, n, "level=error", 11);
      if (lvl == NULL) lvl = memmem(s, n, "level=fatal", 11);
      if (lvl && (m = memmem(s, n, "msg=\"", 5)) != NULL) {
        go_unquote(m + 5, le, out, cap);
        found = true;
      } else if (lvl == NULL && memmem(s, n, "level=", 6) == NULL) {
        while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
        snprintf(last_line, sizeof(last_line), "%.*s", (int)n, s);
      }
    }
    p = nl ? nl + 1 : end;
  }
  if (!found) snprintf(out, cap, "%s", last_line);
}

static int errno_for(const char *msg, int fallback)
{
  static const struct {
    const char *needle;
    int e;
  } map[] = {
      {"does not exist", ENOENT},        {"not running", ENOENT},
      {"already finished", ENOENT},      {"no such process", ENOENT},
      {"already exists", EEXIST},        {"container with id exists", EEXIST},
      {"not paused", EBUSY},             {"already running", EBUSY},
      {"that has stopped", EBUSY},       {"not stopped", EBUSY},
      {"is paused", EBUSY},
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (strcasestr(msg, map[i].needle)) return map[i].e;
  return fallback;
}

static void take(int fd, char *buf, size_t cap, size_t *len, bool *eof)
{
  char scratch[4096];
  for (;;) {
    ssize_t n;
    char *dst = scratch;
    size_t want = sizeof(scratch);
    if (buf && *len + 1 < cap) {
      dst = buf + *len;
      want = cap - 1 - *len;
    }
    n = read(fd, dst, want);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      *eof = true;
      break;
    }
    if (n < 0) break;
    if (dst != scratch) *len += (size_t)n;
  }
  if (buf && cap) buf[*len] = '\0';
}

static int make_pipe(int *rd, int *wr, bool nonblock_rd, bool nonblock_wr, runm_error_t *err)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  *rd = fds[0];
  *wr = fds[1];
  if ((nonblock_rd && fcntl(*rd, F_SETFL, O_NONBLOCK) < 0) ||
      (nonblock_wr && fcntl(*wr, F_SETFL, O_NONBLOCK) < 0))
    return runm_make_error(err, errno, "pipe O_NONBLOCK");
  return 0;
}

static void read_log_tail(int fd, char *buf, size_t cap, size_t *len)
{
  struct stat st;
  off_t off = 0;
  *len = 0;
  if (fstat(fd, &st) == 0 && st.st_size > (off_t)cap - 1) off = st.st_size - (off_t)(cap - 1);
  while (*len + 1 < cap) {
    ssize_t n = pread(fd, buf + *len, cap - 1 - *len, off + (off_t)*len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    *len += (size_t)n;
  }
  buf[*len] = '\0';
}

/* Accepts runc's console connection and reads the master off it. */
static void console_step(struct runc_io *io, int *conn, short lrev, short crev, runm_error_t *err)
{
  if (*conn < 0 && (lrev & POLLIN)) {
    *conn = accept4(io->console_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (*conn < 0) return;
  }
  if (*conn >= 0 && (crev & (POLLIN | POLLHUP | POLLERR))) {
    cleanup_error runm_error_t e = NULL;
    int m = tty_receive_master(*conn, &e);
    if (m >= 0) {
      io->console_master = m;
    } else if (e && e->status != EAGAIN) {
      if (err && *err == NULL) {
        *err = e;
        e = NULL;
      }
    }
    if (m >= 0 || (err && *err)) {
      close(*conn);
      *conn = -1;
    }
  }
}

struct runc_child {
  const char *exe;
  const int *src;
  char *const *argv;
  const struct runc_rlimits *rl;
};

static void say_step(struct reaper_child_failure *f, const char *a, const char *b)
{
  size_t o = 0;
  for (; *a && o + 1 < sizeof(f->what); a++) f->what[o++] = *a;
  for (; b && *b && o + 1 < sizeof(f->what); b++) f->what[o++] = *b;
  f->what[o] = '\0';
}

/* In the forked child: what runc_run's posix_spawn attributes do (stdio,
 * default signal handlers, nothing blocked), then the limits, then runc.
 * Async-signal-safe calls only. */
static int runc_child(void *arg, struct reaper_child_failure *f)
{
  struct runc_child *c = arg;
  struct sigaction dfl;
  sigset_t none;
  const char *what = NULL;
  int e;

  for (int i = 0; i < 3; i++) {
    /* dup2 onto itself would keep O_CLOEXEC: clear it instead. */
    if ((c->src[i] == i ? fcntl(i, F_SETFD, 0) : dup2(c->src[i], i)) < 0) {
      say_step(f, "set up runc's stdio", NULL);
      return errno;
    }
  }
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL); /* EINVAL for KILL, STOP */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  e = rlimits_apply(c->rl, &what);
  if (e != 0) {
    say_step(f, "setrlimit ", what);
    return e;
  }
  execve(c->exe, c->argv, environ);
  say_step(f, "exec " RUNC_PATH, NULL);
  return errno;
}

int runc_run(struct reaper *r, const char *const args[], struct runc_io *io, int fallback,
             runm_error_t *err)
{
  char log_path[] = LOG_DIR "/runc-XXXXXX";
  cleanup_close int log_fd = -1;
  cleanup_close int in_r = -1, in_w = -1, out_r = -1, out_w = -1, err_r = -1, err_w = -1;
  cleanup_close int null_fd = -1, pidfd = -1, conn = -1;
  cleanup_free char *errbuf = NULL;
  cleanup_error runm_error_t console_err = NULL;
  const char *argv[RUNC_MAX_ARGS + 8];
  char exe[64];
  size_t argc = 0, errlen = 0, input_off = 0;
  bool out_eof = false, err_eof = false, exited = false;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, all;
  int src[3], status, ret;
  pid_t pid;

  /* The sealed memfd copy of runc once runc_exe.c made it (argv[0] stays
   * RUNC_PATH). */
  reaper_exe_path(r, RUNC_PATH, exe, sizeof(exe));
  log_fd = mkostemp(log_path, O_CLOEXEC);
  if (log_fd < 0) return runm_make_error(err, errno, "create runc log in %s", LOG_DIR);
  argv[argc++] = RUNC_PATH;
  argv[argc++] = "--root";
  argv[argc++] = RUNC_ROOT;
  argv[argc++] = "--log";
  argv[argc++] = log_path;
  argv[argc++] = "--log-format";
  argv[argc++] = "json";
  for (size_t i = 0; args[i]; i++) {
    if (i >= RUNC_MAX_ARGS) {
      unlink(log_path);
      return runm_make_error(err, E2BIG, "too many runc arguments");
    }
    argv[argc++] = args[i];
  }
  argv[argc] = NULL;

  errbuf = malloc(STDERR_CAP);
  if (errbuf == NULL) {
    unlink(log_path);
    return runm_make_error(err, ENOMEM, "runc");
  }
  errbuf[0] = '\0';
  ret = 0;
  if (io->stdio[0] >= 0) {
    src[0] = io->stdio[0];
  } else if (io->input) {
    ret = make_pipe(&in_r, &in_w, false, true, err);
    src[0] = in_r;
  } else {
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) ret = runm_make_error(err, errno, "open /dev/null");
    src[0] = null_fd;
  }
  if (ret == 0 && io->stdio[1] < 0) ret = make_pipe(&out_r, &out_w, true, false, err);
  if (ret == 0 && io->stdio[2] < 0) ret = make_pipe(&err_r, &err_w, true, false, err);
  if (ret < 0) {
    unlink(log_path);
    return ret;
  }
  src[1] = io->stdio[1] >= 0 ? io->stdio[1] : out_w;
  src[2] = io->stdio[2] >= 0 ? io->stdio[2] : err_w;
  if (io->stdio[1] >= 0) out_eof = true;
  if (io->stdio[2] >= 0) err_eof = true;

  if (io->rlimits && io->rlimits->n > 0) {
    struct runc_child c = {exe, src, (char *const *)argv, io->rlimits};
    ret = reaper_fork(r, &pid, &pidfd, exe, runc_child, &c, err);
    goto spawned;
  }
  posix_spawn_file_actions_init(&fa);
  for (int i = 0; i < 3; i++) posix_spawn_file_actions_adddup2(&fa, src[i], i);
  /* init blocks SIGCHLD, SIGPIPE, SIGTERM... in every thread; runc and the
   * container process it becomes must start with nothing blocked. */
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ret = reaper_spawn(r, &pid, &pidfd, exe, &fa, &attr, (char *const *)argv, NULL, err);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
spawned:
  /* runc has its copies now. */
  runm_closep(&in_r);
  in_r = -1;
  runm_closep(&out_w);
  out_w = -1;
  runm_closep(&err_w);
  err_w = -1;
  runm_closep(&null_fd);
  null_fd = -1;
  if (ret < 0) {
    unlink(log_path);
    return ret;
  }
  if (in_w >= 0 && io->input_len == 0) {
    close(in_w);
    in_w = -1;
  }

  while (!exited) {
    struct pollfd p[6];
    int n = 0, ip = -1, op = -1, ep = -1, lp = -1, cp = -1;
    p[n].fd = pidfd;
    p[n++].events = POLLIN;
    if (!out_eof) {
      op = n;
      p[n].fd = out_r;
      p[n++].events = POLLIN;
    }
    if (!err_eof) {
      ep = n;
      p[n].fd = err_r;
      p[n++].events = POLLIN;
    }
    if (in_w >= 0) {
      ip = n;
      p[n].fd = in_w;
      p[n++].events = POLLOUT;
    }
    if (io->console_listen >= 0 && io->console_master < 0 && console_err == NULL) {
      if (conn < 0) {
        lp = n;
        p[n].fd = io->console_listen;
      } else {
        cp = n;
        p[n].fd = conn;
      }
      p[n++].events = POLLIN;
    }
    for (int i = 0; i < n; i++) p[i].revents = 0;
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break; /* cannot happen with valid fds; fall through to the wait */
    }
    if (p[0].revents) exited = true;
    if (op >= 0 && p[op].revents) take(out_r, io->out, io->out_cap, &io->out_len, &out_eof);
    if (ep >= 0 && p[ep].revents) take(err_r, errbuf, STDERR_CAP, &errlen, &err_eof);
    if (ip >= 0 && p[ip].revents) {
      ssize_t w = write(in_w, io->input + input_off, io->input_len - input_off);
      if (w > 0) input_off += (size_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || input_off == io->input_len) {
        close(in_w);
        in_w = -1;
      }
    }
    if (lp >= 0 || cp >= 0)
      console_step(io, &conn, lp >= 0 ? p[lp].revents : 0, cp >= 0 ? p[cp].revents : 0,
                   &console_err);
  }
  /* runc has exited: what it wrote is in the pipes; whoever else holds them
   * (nobody should) is not waited for. */
  if (!out_eof) take(out_r, io->out, io->out_cap, &io->out_len, &out_eof);
  if (!err_eof) take(err_r, errbuf, STDERR_CAP, &errlen, &err_eof);
  if (io->console_listen >= 0 && io->console_master < 0 && console_err == NULL)
    console_step(io, &conn, POLLIN, POLLIN, &console_err);
  if (io->console_listen >= 0 && io->console_master < 0 && conn >= 0 && console_err == NULL)
    console_step(io, &conn, 0, POLLIN, &console_err);

  ret = reaper_wait(r, pid, &status, err);
  if (ret < 0) {
    unlink(log_path);
    return ret;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    unlink(log_path);
    return 0;
  }
  {
    char msg[2048];
    cleanup_free char *logbuf = malloc(LOG_TAIL);
    size_t loglen = 0;
    if (logbuf) read_log_tail(log_fd, logbuf, LOG_TAIL, &loglen);
    unlink(log_path);
    msg[0] = '\0';
    if (logbuf) runc_error_message(logbuf, loglen, msg, sizeof(msg));
    if (msg[0] == '\0') runc_error_message(errbuf, errlen, msg, sizeof(msg));
    if (msg[0] == '\0') {
      if (WIFSIGNALED(status))
        snprintf(msg, sizeof(msg), "runc %s was killed by signal %d", args[0], WTERMSIG(status));
      else
        snprintf(msg, sizeof(msg), "runc %s failed with exit status %d", args[0],
                 WEXITSTATUS(status));
    }
    return runm_make_error(err, errno_for(msg, fallback), "%s", msg);
  }
}

/* stdio relay between containerd's FIFOs and the guest's Stdio stream.
 * A full FIFO holds the relay back (its reader's pace is the flow control,
 * all the way back to the container's pipe in the guest), but never past
 * the moment the shim lets go of the output: writes are non-blocking and
 * wait in poll together with the drop eventfd (io_relay_drop_output,
 * teardown), after which output is discarded. So a FIFO nobody reads holds
 * at most its pipe buffer plus one guest message (RUNM_RPC_MAX_MESSAGE),
 * and never holds up an exit or a teardown. */
#include "stdio_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdio.h"
#include "fifo_drain.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"

struct io_relay {
  struct io_config cfg;
  char *ns, *id, *exec_id, *in_path, *out_path, *err_path;
  struct runm_rpc_stream *st;
  pthread_t out_thread, in_thread;
  bool in_started;
  int stopfd;  /* eventfd: tells the stdin thread to stop */
  int dropfd;  /* eventfd: output is no longer wanted; writers give up */
  int closefd; /* eventfd: CloseIO; the stdin thread drains what is written, then closes */
  pthread_mutex_t lock;      /* guards stdin_closed */
  pthread_mutex_t send_lock; /* one sender at a time on the stream (gRPC allows one) */
  bool stdin_closed;
};

/* containerd hands FIFO paths, or URIs: file:///path appends to a file. */
static int open_output(const char *uri, runm_error_t *err)
{
  int fd;
  if (uri == NULL || *uri == '\0') return -1;
  if (strncmp(uri, "file://", 7) == 0) {
    fd = open(uri + 7, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return runm_make_error(err, errno, "open output `%s`", uri);
    return fd;
  }
  if (strstr(uri, "://")) return runm_make_error(err, ENOTSUP, "unsupported stdio URI `%s`", uri);
  /* O_RDWR never blocks on a FIFO whose reader has not opened yet, and the
   * reader sees EOF only when we close. */
  fd = open(uri, O_RDWR | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open FIFO `%s`", uri);
  return fd;
}

static int hexval(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decoding in place; '+' is a space in a query. */
static void url_decode(char *s, bool query)
{
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
      *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
      r += 2;
    } else if (query && *r == '+') {
      *w++ = ' ';
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* containerd's logging-binary protocol: the binary gets the container's
 * stdout and stderr as fds 3 and 4, and closes fd 5 once it is ready;
 * CONTAINER_ID and CONTAINER_NAMESPACE in its environment; each query key
 * (and its value) as arguments. */
static int spawn_logger(struct io_relay *io, const char *uri, int *out, int *errfd, pid_t *pid,
                        runm_error_t *err)
{
  cleanup_free char *copy = strdup(uri + strlen("binary://"));
  char *query, *argv[34], env_id[300], env_ns[300];
  char *envp[] = {env_id, env_ns, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
  int o[2] = {-1, -1}, e[2] = {-1, -1}, w[2] = {-1, -1}, argc = 0, r;
  posix_spawn_file_actions_t fa;
  char c;

  if (copy == NULL) return runm_make_error(err, ENOMEM, "logger");
  query = strchr(copy, '?');
  if (query) *query++ = '\0';
  url_decode(copy, false);
  if (copy[0] != '/') return runm_make_error(err, EINVAL, "logging binary in `%s` is not an absolute path", uri);
  argv[argc++] = copy;
  for (char *kv = query ? strtok(query, "&") : NULL; kv && argc < 32; kv = strtok(NULL, "&")) {
    char *eq = strchr(kv, '=');
    if (eq) *eq = '\0';
    url_decode(kv, true);
    argv[argc++] = kv;
    if (eq && eq[1]) {
      url_decode(eq + 1, true);
      argv[argc++] = eq + 1;
    }
  }
  argv[argc] = NULL;
  snprintf(env_id, sizeof(env_id), "CONTAINER_ID=%s", io->id);
  snprintf(env_ns, sizeof(env_ns), "CONTAINER_NAMESPACE=%s", io->ns);
  if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0 || pipe2(w, O_CLOEXEC) < 0) {
    r = runm_make_error(err, errno, "pipe");
    goto out;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[0], 3);
  posix_spawn_file_actions_adddup2(&fa, e[0], 4);
  posix_spawn_file_actions_adddup2(&fa, w[1], 5);
  r = posix_spawn(pid, copy, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) {
    r = runm_make_error(err, r, "start logging binary `%s`", copy);
    goto out;
  }
  close(w[1]);
  w[1] = -1;
  /* Ready when it closes (or writes to) its end of the wait pipe. */
  while (read(w[0], &c, 1) < 0 && errno == EINTR) {
  }
  *out = o[1];
  *errfd = e[1];
  o[1] = e[1] = -1;
  r = 0;
out:
  for (int i = 0; i < 2; i++) {
    if (o[i] >= 0) close(o[i]);
    if (e[i] >= 0) close(e[i]);
    if (w[i] >= 0) close(w[i]);
  }
  return r;
}

static void send_close_stdin(struct io_relay *io)
{
  Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
  cleanup_error runm_error_t err = NULL;
  pthread_mutex_lock(&io->lock);
  bool already = io->stdin_closed;
  io->stdin_closed = true;
  pthread_mutex_unlock(&io->lock);
  if (already) return;
  in.close_stdin = true;
  pthread_mutex_lock(&io->send_lock);
  runm_rpc_stream_send(io->st, &in.base, &err);
  pthread_mutex_unlock(&io->send_lock);
}

static void *in_thread(void *arg)
{
  struct io_relay *io = arg;
  /* Non-blocking open: a FIFO reader must not wait for containerd's writer;
   * poll reports nothing until a writer has come (and EOF once it has
   * gone), and the stop eventfd ends the wait when the relay is freed. */
  cleanup_close int fd = open(io->in_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  uint8_t buf[32768];

  if (fd < 0) {
    runm_log(io->cfg.log, RUNM_LOG_WARN, "open stdin `%s`: %m", io->in_path);
    send_close_stdin(io);
    return NULL;
  }
  bool draining = false;
  for (;;) {
    Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
    cleanup_error runm_error_t err = NULL;
    struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
                          {.fd = io->stopfd, .events = POLLIN},
                          {.fd = io->closefd, .events = POLLIN}};
    ssize_t n;
    if (!draining) {
      if (poll(p, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[1].revents) return NULL;
      /* CloseIO: what the client wrote before it still goes in. */
      if (p[2].revents) draining = true;
    }
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (draining) break;
      continue;
    }
    if (n <= 0) break;
    in.stdin.data = buf;
    in.stdin.len = (size_t)n;
    pthread_mutex_lock(&io->send_lock);
    int r = runm_rpc_stream_send(io->st, &in.base, &err);
    pthread_mutex_unlock(&io->send_lock);
    if (r < 0) return NULL;
  }
  send_close_stdin(io);
  return NULL;
}

/* Writes all of buf to a non-blocking fd, waiting for room only until the
 * output is dropped. -1: the output is gone (error or dropped). */
static int write_out(struct io_relay *io, int fd, const uint8_t *buf, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w > 0) {
      buf += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = io->dropfd, .events = POLLIN}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) return -1;
      if (p[1].revents) return -1;
      continue;
    }
    return -1;
  }
  return 0;
}

/* Output fds are ours (containerd opens its own ends): non-blocking is
 * what lets write_out give up. */
static void set_nonblock(int fd)
{
  int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
  if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    /* stays blocking: only a drop cannot interrupt it then */
  }
}

static void *out_thread(void *arg)
{
  struct io_relay *io = arg;
  cleanup_error runm_error_t err = NULL;
  cleanup_close int out = -1;
  cleanup_close int errfd = -1;
  bool exited = false;
  uint32_t status = 0;
  pid_t logger = -1;

  if (strncmp(io->out_path, "binary://", 9) == 0) {
    if (spawn_logger(io, io->out_path, &out, &errfd, &logger, &err) < 0) {
      runm_log_error(io->cfg.log, err, "stdout");
      runm_error_release(&err);
    }
  } else {
    out = open_output(io->out_path, &err);
  }
  if (logger > 0) {
    /* both streams already go to the logger */
  } else if (out < 0 && err) {
    runm_log_error(io->cfg.log, err, "stdout");
    runm_error_release(&err);
  }
  if (logger > 0)
    ;
  else if (io->err_path && io->out_path && strcmp(io->err_path, io->out_path) == 0 && out >= 0)
    errfd = dup(out);
  else
    errfd = open_output(io->err_path, &err);
  if (errfd < 0 && err) {
    runm_log_error(io->cfg.log, err, "stderr");
    runm_error_release(&err);
  }
  set_nonblock(out);
  set_nonblock(errfd);
  for (;;) {
    ProtobufCMessage *m = NULL;
    int r = runm_rpc_stream_recv(io->st, &m, &err);
    if (r <= 0) {
      if (r < 0) runm_log_error(io->cfg.log, err, "stdio stream");
      break;
    }
    Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
    /* A reader that went away must not stop the relay: drain regardless. */
    if (o->stdout.len && out >= 0 && write_out(io, out, o->stdout.data, o->stdout.len) < 0) {
      close(out);
      out = -1;
    }
    if (o->stderr.len && errfd >= 0 && write_out(io, errfd, o->stderr.data, o->stderr.len) < 0) {
      close(errfd);
      errfd = -1;
    }
    if (o->exited) {
      exited = true;
      status = o->exit_status;
      protobuf_c_message_free_unpacked(m, NULL);
      break;
    }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  /* Closing our ends gives containerd's readers EOF before TaskExit, once
   * they have read it all (fifo_drain.h says why). */
  {
    int fds[2] = {runm_steal_fd(&out), runm_steal_fd(&errfd)};
    static const char *const names[2] = {"stdout", "stderr"};
    fifo_drain_close(fds, names, 2, FIFO_DRAIN_STALL_MS, io->dropfd, io->cfg.log);
  }
  if (logger > 0) {
    int st;
    /* The logger drains and exits on EOF; reap it so it is not left over. */
    while (waitpid(logger, &st, 0) < 0 && errno == EINTR) {
    }
  }
  io->cfg.on_exit(io->cfg.opaque, exited, status);
  return NULL;
}

static char *dup_or_empty(const char *s)
{
  return strdup(s ? s : "");
}

/* Frees what io_relay_start made, once its threads are gone (or never ran). */
static void release(struct io_relay *io)
{
  if (io->stopfd >= 0) close(io->stopfd);
  if (io->closefd >= 0) close(io->closefd);
  if (io->dropfd >= 0) close(io->dropfd);
  if (io->st) runm_rpc_stream_free(io->st);
  free(io->ns);
  free(io->id);
  free(io->exec_id);
  free(io->in_path);
  free(io->out_path);
  free(io->err_path);
  pthread_mutex_destroy(&io->lock);
  pthread_mutex_destroy(&io->send_lock);
  free(io);
}

struct io_relay *io_relay_start(struct runm_rpc_client *cl, const struct io_config *cfg,
                                runm_error_t *err)
{
  struct io_relay *io = calloc(1, sizeof(*io));
  Runm__V1__StdioIn first = RUNM__V1__STDIO_IN__INIT;

  if (io == NULL) {
    runm_make_error(err, ENOMEM, "io relay");
    return NULL;
  }
  pthread_mutex_init(&io->lock, NULL);
  pthread_mutex_init(&io->send_lock, NULL);
  io->stopfd = eventfd(0, EFD_CLOEXEC);
  io->closefd = eventfd(0, EFD_CLOEXEC);
  io->dropfd = eventfd(0, EFD_CLOEXEC);
  io->cfg = *cfg;
  io->ns = dup_or_empty(cfg->ns);
  io->id = dup_or_empty(cfg->id);
  io->exec_id = dup_or_empty(cfg->exec_id);
  io->in_path = dup_or_empty(cfg->stdin_path);
  io->out_path = dup_or_empty(cfg->stdout_path);
  io->err_path = dup_or_empty(cfg->stderr_path);
  io->cfg.id = io->id;
  io->cfg.exec_id = io->exec_id;
  if (io->stopfd < 0 || io->closefd < 0 || io->dropfd < 0) {
    runm_make_error(err, errno, "io relay eventfd");
    goto fail;
  }
  io->st = runm_rpc_stream_open(cl, "/runm.v1.Guest/Stdio", NULL, &runm__v1__stdio_out__descriptor,
                                0, err);
  if (io->st == NULL) goto fail;
  first.id = io->id;
  first.exec_id = io->exec_id;
  if (runm_rpc_stream_send(io->st, &first.base, err) < 0) goto fail;
  if (pthread_create(&io->out_thread, NULL, out_thread, io) != 0) {
    runm_make_error(err, EAGAIN, "io thread");
    goto fail;
  }
  if (io->in_path[0]) {
    if (pthread_create(&io->in_thread, NULL, in_thread, io) == 0) {
      io->in_started = true;
    }
  }
  return io;
fail:
  release(io);
  return NULL;
}

void io_relay_close_stdin(struct io_relay *io)
{
  uint64_t one = 1;
  if (io->in_started && write(io->closefd, &one, sizeof(one)) == sizeof(one)) return;
  send_close_stdin(io);
}

void io_relay_drop_output(struct io_relay *io)
{
  uint64_t one = 1;
  if (io && write(io->dropfd, &one, sizeof(one)) < 0) { /* cannot fail on an eventfd far from overflow */
  }
}

void io_relay_free(struct io_relay *io)
{
  if (io == NULL) return;
  /* A writer stuck on a FIFO nobody reads lets go first; then the stream. */
  io_relay_drop_output(io);
  runm_rpc_stream_cancel(io->st);
  pthread_join(io->out_thread, NULL);
  if (io->in_started) {
    uint64_t one = 1;
    if (write(io->stopfd, &one, sizeof(one)) < 0) { /* cannot fail on a fresh eventfd */
    }
    pthread_join(io->in_thread, NULL);
  }
  release(io);
}

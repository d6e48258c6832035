/* stdio relay between containerd's FIFOs and the guest's Stdio stream.
 * Writes to the FIFOs are blocking: that is the flow control, all the way
 * back to the container's pipe in the guest. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"

struct io_relay {
  struct io_config cfg;
  char *id, *exec_id, *in_path, *out_path, *err_path;
  struct runm_rpc_stream *st;
  pthread_t out_thread, in_thread;
  bool in_started;
  int stopfd; /* eventfd: tells the stdin thread to stop */
  pthread_mutex_t lock; /* guards stdin_closed */
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

static int write_all(int fd, const uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
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
  runm_rpc_stream_send(io->st, &in.base, &err);
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
  for (;;) {
    Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
    cleanup_error runm_error_t err = NULL;
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = io->stopfd, .events = POLLIN}};
    ssize_t n;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) return NULL;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    in.stdin.data = buf;
    in.stdin.len = (size_t)n;
    if (runm_rpc_stream_send(io->st, &in.base, &err) < 0) return NULL;
  }
  send_close_stdin(io);
  return NULL;
}

static void *out_thread(void *arg)
{
  struct io_relay *io = arg;
  cleanup_error runm_error_t err = NULL;
  cleanup_close int out = open_output(io->out_path, &err);
  cleanup_close int errfd = -1;
  bool exited = false;
  uint32_t status = 0;

  if (out < 0 && err) {
    runm_log_error(io->cfg.log, err, "stdout");
    runm_error_release(&err);
  }
  if (io->err_path && io->out_path && strcmp(io->err_path, io->out_path) == 0 && out >= 0)
    errfd = dup(out);
  else
    errfd = open_output(io->err_path, &err);
  if (errfd < 0 && err) {
    runm_log_error(io->cfg.log, err, "stderr");
    runm_error_release(&err);
  }
  for (;;) {
    ProtobufCMessage *m = NULL;
    int r = runm_rpc_stream_recv(io->st, &m, &err);
    if (r <= 0) {
      if (r < 0) runm_log_error(io->cfg.log, err, "stdio stream");
      break;
    }
    Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
    /* A reader that went away must not stop the relay: drain regardless. */
    if (o->stdout.len && out >= 0 && write_all(out, o->stdout.data, o->stdout.len) < 0) {
      close(out);
      out = -1;
    }
    if (o->stderr.len && errfd >= 0 && write_all(errfd, o->stderr.data, o->stderr.len) < 0) {
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
  /* Closing our ends gives containerd's readers EOF before TaskExit. */
  if (out >= 0) close(runm_steal_fd(&out));
  if (errfd >= 0) close(runm_steal_fd(&errfd));
  io->cfg.on_exit(io->cfg.opaque, exited, status);
  return NULL;
}

static char *dup_or_empty(const char *s)
{
  return strdup(s ? s : "");
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
  io->stopfd = eventfd(0, EFD_CLOEXEC);
  io->cfg = *cfg;
  io->id = dup_or_empty(cfg->id);
  io->exec_id = dup_or_empty(cfg->exec_id);
  io->in_path = dup_or_empty(cfg->stdin_path);
  io->out_path = dup_or_empty(cfg->stdout_path);
  io->err_path = dup_or_empty(cfg->stderr_path);
  io->cfg.id = io->id;
  io->cfg.exec_id = io->exec_id;
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
  if (io->st) runm_rpc_stream_free(io->st);
  io->st = NULL;
  if (io->stopfd >= 0) close(io->stopfd);
  free(io->id);
  free(io->exec_id);
  free(io->in_path);
  free(io->out_path);
  free(io->err_path);
  pthread_mutex_destroy(&io->lock);
  free(io);
  return NULL;
}

void io_relay_close_stdin(struct io_relay *io)
{
  send_close_stdin(io);
}

void io_relay_free(struct io_relay *io)
{
  if (io == NULL) return;
  runm_rpc_stream_cancel(io->st);
  pthread_join(io->out_thread, NULL);
  if (io->in_started) {
    uint64_t one = 1;
    if (write(io->stopfd, &one, sizeof(one)) < 0) { /* cannot fail on a fresh eventfd */
    }
    pthread_join(io->in_thread, NULL);
  }
  if (io->stopfd >= 0) close(io->stopfd);
  runm_rpc_stream_free(io->st);
  free(io->id);
  free(io->exec_id);
  free(io->in_path);
  free(io->out_path);
  free(io->err_path);
  pthread_mutex_destroy(&io->lock);
  free(io);
}

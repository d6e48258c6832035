/* Pipes of a pipes-mode process, and the Stdio stream relay.
 *
 * The relay has two halves. An output thread reads the process's stdout
 * and stderr (or its pty master) and sends each chunk with a blocking send:
 * it reads again only after the previous send completed, so a slow client
 * leaves the bytes in the pipe, the process blocks on a full pipe, and init
 * never buffers more than one chunk. The call's own thread receives stdin
 * chunks and writes them to the process. The last message, exited=true, goes
 * out once stdout and stderr are at EOF and the process has exited. A client
 * that goes away detaches the stream: the process and its pipes stay, and a
 * new Stdio call can attach. */
#include "stdio_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "runm/v1/guest.pb-c.h"

/* Largest chunk per StdioOut message. */
#define STDIO_CHUNK (64 * 1024)

struct stdio_stream {
  struct registry *reg;
  struct process *p; /* referenced for the stream's life */
  struct runm_rpc_call *call;
  int wake;  /* eventfd, written once on stop: wakes the output thread's poll */
  bool stop; /* guarded by reg->lock: the client went away or the call ends */
  int out_ret;
  runm_error_t out_err;
};

static int pipe_pair(int *rd, int *wr, runm_error_t *err)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  *rd = fds[0];
  *wr = fds[1];
  return 0;
}

int stdio_make_pipes(struct process *p, runm_error_t *err)
{
  if (p->stdin) {
    if (pipe_pair(&p->child_in, &p->in_w, err) < 0) return -1;
    if (fcntl(p->in_w, F_SETFL, O_NONBLOCK) < 0) return runm_make_error(err, errno, "O_NONBLOCK");
  } else {
    p->child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->child_in < 0) return runm_make_error(err, errno, "open /dev/null");
  }
  if (pipe_pair(&p->out_r, &p->child_out, err) < 0 || pipe_pair(&p->err_r, &p->child_err, err) < 0)
    return -1;
  if (fcntl(p->out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(p->err_r, F_SETFL, O_NONBLOCK) < 0)
    return runm_make_error(err, errno, "O_NONBLOCK");
  return 0;
}

void stdio_close_child_ends(struct process *p)
{
  int *fds[] = {&p->child_in, &p->child_out, &p->child_err};
  for (size_t i = 0; i < 3; i++)
    if (*fds[i] >= 0) {
      close(*fds[i]);
      *fds[i] = -1;
    }
}

static void kick(int fd)
{
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0) {
    /* EAGAIN: the counter is saturated, the reader is woken anyway */
  }
}

static void stream_stop(struct stdio_stream *s)
{
  pthread_mutex_lock(&s->reg->lock);
  s->stop = true;
  pthread_cond_broadcast(&s->reg->changed);
  pthread_mutex_unlock(&s->reg->lock);
  kick(s->wake);
  kick(s->p->stdin_wake);
}

static void on_cancel(void *arg)
{
  stream_stop(arg);
}

static bool stopped(struct stdio_stream *s)
{
  bool r;
  pthread_mutex_lock(&s->reg->lock);
  r = s->stop;
  pthread_mutex_unlock(&s->reg->lock);
  return r;
}

static int send_chunk(struct stdio_stream *s, bool is_err, uint8_t *buf, size_t n, runm_error_t *err)
{
  Runm__V1__StdioOut m = RUNM__V1__STDIO_OUT__INIT;
  if (is_err) {
    m.stderr.data = buf;
    m.stderr.len = n;
  } else {
    m.stdout.data = buf;
    m.stdout.len = n;
  }
  return runm_rpc_call_send(s->call, &m.base, err);
}

/* Reads and sends until stdout and stderr are at EOF; <0 when the stream
 * stopped or the client went away. */
static int relay_output(struct stdio_stream *s, int out_fd, int err_fd, runm_error_t *err)
{
  cleanup_free uint8_t *buf = malloc(STDIO_CHUNK);
  int fds[2] = {out_fd, err_fd};
  bool eof[2] = {out_fd < 0, err_fd < 0};
  int first = 0;

  if (buf == NULL) return runm_make_error(err, ENOMEM, "stdio buffer");
  while (!eof[0] || !eof[1]) {
    struct pollfd pf[3];
    int idx[2] = {-1, -1}, n = 0;
    pf[n].fd = s->wake;
    pf[n++].events = POLLIN;
    for (int i = 0; i < 2; i++)
      if (!eof[i]) {
        idx[i] = n;
        pf[n].fd = fds[i];
        pf[n++].events = POLLIN;
      }
    for (int i = 0; i < n; i++) pf[i].revents = 0;
    if (poll(pf, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      return runm_make_error(err, errno, "stdio poll");
    }
    if (pf[0].revents) return runm_make_error(err, ECANCELED, "stdio stream detached");
    /* Alternate which stream goes first so neither starves the other. */
    for (int k = 0; k < 2; k++) {
      int i = (first + k) % 2;
      ssize_t r;
      if (idx[i] < 0 || pf[idx[i]].revents == 0) continue;
      r = read(fds[i], buf, STDIO_CHUNK);
      if (r > 0) {
        if (send_chunk(s, i == 1, buf, (size_t)r, err) < 0) return -1;
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        /* EOF; a pty master says EIO once the slave side is closed. */
        eof[i] = true;
      }
    }
    first ^= 1;
  }
  return 0;
}

static void *output_thread(void *arg)
{
  struct stdio_stream *s = arg;
  struct process *p = s->p;
  struct registry *reg = s->reg;
  Runm__V1__StdioOut last = RUNM__V1__STDIO_OUT__INIT;
  int out_fd, err_fd;

  pthread_mutex_lock(&reg->lock);
  /* A terminal exec has no master until Start. */
  while (!s->stop && p->terminal && p->master < 0 && p->state != PROC_STOPPED && !p->removed)
    pthread_cond_wait(&reg->changed, &reg->lock);
  out_fd = p->terminal ? p->master : p->out_r;
  err_fd = p->terminal ? -1 : p->err_r;
  pthread_mutex_unlock(&reg->lock);

  s->out_ret = relay_output(s, out_fd, err_fd, &s->out_err);
  if (s->out_ret < 0) goto out;

  pthread_mutex_lock(&reg->lock);
  while (!s->stop && p->state != PROC_STOPPED && !p->removed)
    pthread_cond_wait(&reg->changed, &reg->lock);
  if (p->state == PROC_STOPPED) {
    last.exited = true;
    last.exit_status = p->exit_status;
  } else if (s->stop) {
    s->out_ret = runm_make_error(&s->out_err, ECANCELED, "stdio stream detached");
  } else {
    s->out_ret = runm_make_error(&s->out_err, ENOENT, "process was deleted before it exited");
  }
  pthread_mutex_unlock(&reg->lock);
  if (s->out_ret == 0) s->out_ret = runm_rpc_call_send(s->call, &last.base, &s->out_err);
  /* The exit message is the last: end the call now rather than wait for the
   * client to half-close (the stdin side's recv returns). */
  if (s->out_ret == 0) runm_rpc_call_finish(s->call, 0, "");
out:
  /* A failed send means the client is gone: stop the stdin side too. */
  if (s->out_ret < 0) stream_stop(s);
  return NULL;
}

/* Writes a stdin chunk, waiting while the pipe is full, unless the stream
 * stops or stdin is closed meanwhile (then the rest is dropped). */
static void write_stdin(struct stdio_stream *s, const uint8_t *data, size_t len)
{
  struct process *p = s->p;

  pthread_mutex_lock(&p->stdin_lock);
  while (len > 0) {
    bool give_up;
    int fd;
    ssize_t n;
    pthread_mutex_lock(&s->reg->lock);
    give_up = s->stop || p->stdin_close_requested;
    pthread_mutex_unlock(&s->reg->lock);
    /* in_w and master do not change while stdin_lock is held. */
    fd = p->terminal ? p->master : p->in_w;
    if (give_up || fd < 0 || !p->stdin || p->stdin_closed) break;
    n = write(fd, data, len);
    if (n > 0) {
      data += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd pf[2] = {{.fd = fd, .events = POLLOUT}, {.fd = p->stdin_wake, .events = POLLIN}};
      if (poll(pf, 2, -1) < 0 && errno != EINTR) break;
      if (pf[1].revents) {
        uint64_t v;
        if (read(p->stdin_wake, &v, sizeof(v)) < 0) {
          /* drained by someone else: the flags are re-checked anyway */
        }
      }
    } else if (!(n < 0 && errno == EINTR)) {
      break; /* EPIPE: nobody reads stdin any more */
    }
  }
  pthread_mutex_unlock(&p->stdin_lock);
}

static void handle_in(struct stdio_stream *s, const Runm__V1__StdioIn *m)
{
  if (m->stdin.len) write_stdin(s, m->stdin.data, m->stdin.len);
  if (m->close_stdin) process_close_stdin(s->p);
}

int stdio_serve(struct registry *reg, struct runm_rpc_call *call, runm_error_t *err)
{
  struct stdio_stream s = {.reg = reg, .call = call, .wake = -1};
  Runm__V1__StdioIn *first = NULL;
  ProtobufCMessage *msg = NULL;
  pthread_t out_thread;
  int ret;

  ret = runm_rpc_call_recv(call, &msg, err);
  if (ret == 0) return runm_make_error(err, EINVAL, "Stdio: the stream ended before naming a process");
  if (ret < 0) return ret;
  first = (Runm__V1__StdioIn *)msg;
  if (validate_id("container id", first->id, false, err) < 0 ||
      validate_id("exec id", first->exec_id, true, err) < 0) {
    protobuf_c_message_free_unpacked(msg, NULL);
    return -1;
  }
  s.p = registry_get_process(reg, first->id, first->exec_id, err);
  if (s.p == NULL) {
    protobuf_c_message_free_unpacked(msg, NULL);
    return -1;
  }
  s.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s.wake < 0) {
    ret = runm_make_error(err, errno, "eventfd");
    goto out_put;
  }
  pthread_mutex_lock(&reg->lock);
  if (s.p->attached) {
    pthread_mutex_unlock(&reg->lock);
    ret = runm_make_error(err, EBUSY, "process `%s%s%s` already has a Stdio stream", first->id,
                          first->exec_id[0] ? "/" : "", first->exec_id);
    goto out_put;
  }
  s.p->attached = &s;
  pthread_mutex_unlock(&reg->lock);

  /* The hook takes reg->lock: installed and removed without it held. */
  runm_rpc_call_on_cancel(call, on_cancel, &s);
  ret = pthread_create(&out_thread, NULL, output_thread, &s);
  if (ret != 0) {
    runm_rpc_call_on_cancel(call, NULL, NULL);
    ret = runm_make_error(err, ret, "start the stdio output thread");
    goto out_detach;
  }
  handle_in(&s, first);
  protobuf_c_message_free_unpacked(msg, NULL);
  msg = NULL;
  for (;;) {
    ProtobufCMessage *in = NULL;
    cleanup_error runm_error_t rerr = NULL;
    int r = runm_rpc_call_recv(call, &in, &rerr);
    if (r == 0) break; /* half-close: the output side goes on */
    if (r < 0) {
      stream_stop(&s);
      break;
    }
    if (!stopped(&s)) handle_in(&s, (const Runm__V1__StdioIn *)in);
    protobuf_c_message_free_unpacked(in, NULL);
  }
  pthread_join(out_thread, NULL);
  runm_rpc_call_on_cancel(call, NULL, NULL);
  ret = s.out_ret;
  if (ret < 0) {
    runm_error_release(err);
    *err = s.out_err;
    s.out_err = NULL;
  }

out_detach:
  pthread_mutex_lock(&reg->lock);
  s.p->attached = NULL;
  pthread_cond_broadcast(&reg->changed);
  pthread_mutex_unlock(&reg->lock);
out_put:
  if (msg) protobuf_c_message_free_unpacked(msg, NULL);
  if (s.wake >= 0) close(s.wake);
  runm_error_release(&s.out_err);
  process_put(s.p);
  return ret;
}

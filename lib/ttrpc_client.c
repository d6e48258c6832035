/* ttrpc client: unary calls from many threads over one connection. One
 * reader thread matches each response to the caller waiting on its stream
 * id; a caller that times out stops waiting and its late response is
 * dropped. */
#include <errno.h>
#include <grpc/status.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "google/rpc/status.pb-c.h"
#include "rpc.h"
#include "ttrpc.h"
#include "unix_socket.h"

struct pending {
  uint32_t id;
  bool done;
  Ttrpc__Response *resp; /* NULL with done: the response did not decode */
  struct pending *next;
};

struct runm_ttrpc_client {
  int fd;
  int wake_fd; /* written by free to stop the reader */
  pthread_t reader;

  /* One frame at a time on fd. Stream ids are taken under it too, so that
   * they reach the wire in increasing order as the server demands. */
  pthread_mutex_t write_lock;

  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t cond;  /* CLOCK_MONOTONIC; a response came or the connection died */
  uint32_t next_id;
  struct pending *pending;
  bool dead;
  char *why; /* why the connection died */
};

static struct timespec deadline_in(int64_t ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

static void unlink_pending(struct runm_ttrpc_client *c, struct pending *p)
{
  for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      return;
    }
  }
}

static void mark_dead(struct runm_ttrpc_client *c, const char *why)
{
  pthread_mutex_lock(&c->lock);
  if (!c->dead) {
    c->dead = true;
    c->why = strdup(why ? why : "connection closed");
  }
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

static void *reader_thread(void *arg)
{
  struct runm_ttrpc_client *c = arg;
  cleanup_free char *why = NULL;

  for (;;) {
    cleanup_error runm_error_t err = NULL;
    cleanup_free uint8_t *payload = NULL;
    struct runm_ttrpc_header h = {0};
    Ttrpc__Response *resp = NULL;
    struct pending *p;
    int ret = runm_ttrpc_read_frame(c->fd, c->wake_fd, &h, &payload, &err);

    if (ret <= 0) {
      /* An oversized or truncated frame leaves the stream out of step:
       * nothing after it can be trusted, so the connection ends. */
      why = ret < 0 ? runm_error_string(err) : strdup("connection closed by the server");
      break;
    }
    /* Servers send nothing else to a unary client; ignore the rest. */
    if (h.type != RUNM_TTRPC_RESPONSE) continue;
    if (runm_ttrpc_response_unpack(payload, h.length, &resp, &err) < 0) resp = NULL;

    pthread_mutex_lock(&c->lock);
    for (p = c->pending; p; p = p->next)
      if (p->id == h.stream_id && !p->done) break;
    if (p) {
      p->resp = resp;
      p->done = true;
      resp = NULL;
      pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    /* Nobody waits for it (the caller timed out): drop it. */
    if (resp) ttrpc__response__free_unpacked(resp, NULL);
  }
  mark_dead(c, why);
  return NULL;
}

struct runm_ttrpc_client *runm_ttrpc_client_new_fd(int fd, runm_error_t *err)
{
  cleanup_close int owned = fd;
  struct runm_ttrpc_client *c = calloc(1, sizeof(*c));
  pthread_condattr_t ca;
  int ret;

  if (c == NULL) {
    runm_make_error(err, ENOMEM, "allocate ttrpc client");
    return NULL;
  }
  c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->wake_fd < 0) {
    runm_make_error(err, errno, "eventfd");
    free(c);
    return NULL;
  }
  c->fd = runm_steal_fd(&owned);
  c->next_id = 1;
  pthread_mutex_init(&c->write_lock, NULL);
  pthread_mutex_init(&c->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cond, &ca);
  pthread_condattr_destroy(&ca);
  ret = pthread_create(&c->reader, NULL, reader_thread, c);
  if (ret != 0) {
    runm_make_error(err, ret, "start the ttrpc client reader");
    close(c->fd);
    close(c->wake_fd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->write_lock);
    free(c);
    return NULL;
  }
  return c;
}

struct runm_ttrpc_client *runm_ttrpc_client_connect(const char *path, runm_error_t *err)
{
  int fd;

  /* containerd writes addresses both ways ("unix:///run/x" and "/run/x"). */
  if (strncmp(path, "unix://", 7) == 0) path += 7;
  fd = runm_unix_connect(path, SOCK_STREAM, err);
  if (fd < 0) {
    runm_error_wrap(err, "ttrpc");
    return NULL;
  }
  return runm_ttrpc_client_new_fd(fd, err);
}

void runm_ttrpc_client_free(struct runm_ttrpc_client *c)
{
  uint64_t one = 1;

  if (c == NULL) return;
  /* Either wakes the reader; the shutdown also covers a failed write. */
  if (write(c->wake_fd, &one, sizeof(one)) < 0) shutdown(c->fd, SHUT_RDWR);
  pthread_join(c->reader, NULL);
  close(c->fd);
  close(c->wake_fd);
  free(c->why);
  pthread_cond_destroy(&c->cond);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->write_lock);
  free(c);
}

/* Takes a stream id and sends the request under write_lock. */
static int send_request(struct runm_ttrpc_client *c, struct pending *p, const uint8_t *buf,
                        size_t len, int write_timeout_ms, const char *what, runm_error_t *err)
{
  struct runm_ttrpc_header h = {.length = (uint32_t)len, .type = RUNM_TTRPC_REQUEST};
  int ret;

  pthread_mutex_lock(&c->write_lock);
  pthread_mutex_lock(&c->lock);
  if (c->dead) {
    ret = runm_make_error(err, ECONNRESET, "%s: ttrpc connection lost (%s)", what, c->why);
  } else if (c->next_id > UINT32_MAX - 2) {
    /* 2^31 calls: the connection has no ids left. */
    ret = runm_make_error(err, EOVERFLOW, "%s: ttrpc stream ids exhausted", what);
  } else {
    p->id = c->next_id;
    c->next_id += 2;
    p->next = c->pending;
    c->pending = p;
    ret = 0;
  }
  pthread_mutex_unlock(&c->lock);
  if (ret == 0) {
    h.stream_id = p->id;
    ret = runm_ttrpc_write_frame(c->fd, &h, buf, write_timeout_ms, err);
    if (ret < 0) {
      /* Part of a frame may be out: the stream is out of step for good.
       * The reader sees the shutdown and fails every other call. */
      shutdown(c->fd, SHUT_RDWR);
      pthread_mutex_lock(&c->lock);
      unlink_pending(c, p);
      pthread_mutex_unlock(&c->lock);
      runm_error_wrap(err, "%s", what);
    }
  }
  pthread_mutex_unlock(&c->write_lock);
  return ret;
}

int runm_ttrpc_client_call(struct runm_ttrpc_client *c, const char *service, const char *method,
                           const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, const struct runm_ttrpc_md *md, size_t n_md,
                           int64_t timeout_ms, runm_error_t *err)
{
  cleanup_free uint8_t *buf = NULL;
  cleanup_free char *what = NULL;
  struct pending p = {0};
  struct timespec deadline = {0, 0};
  bool timed = timeout_ms > 0;
  Ttrpc__Response *r;
  size_t len;
  int ret, write_ms;

  *resp = NULL;
  if (asprintf(&what, "%s.%s", service, method) < 0) what = NULL;
  if (what == NULL) return runm_make_error(err, ENOMEM, "ttrpc call");
  if (timed) {
    if (timeout_ms > INT64_MAX / 1000000) timeout_ms = INT64_MAX / 1000000;
    deadline = deadline_in(timeout_ms);
  }
  if (runm_ttrpc_request_pack(service, method, req, timed ? timeout_ms * 1000000 : 0, md, n_md,
                              &buf, &len, err) < 0)
    return runm_error_wrap(err, "%s", what);
  /* The write gets the whole budget: it starts right away. */
  write_ms = !timed ? -1 : timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms;
  ret = send_request(c, &p, buf, len, write_ms, what, err);
  if (ret < 0) return ret;

  pthread_mutex_lock(&c->lock);
  while (!p.done && !c->dead) {
    if (!timed) {
      pthread_cond_wait(&c->cond, &c->lock);
    } else if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT) {
      break;
    }
  }
  unlink_pending(c, &p);
  if (!p.done) {
    if (c->dead)
      ret = runm_make_error(err, ECONNRESET, "%s: ttrpc connection lost (%s)", what, c->why);
    else
      ret = runm_make_error(err, ETIMEDOUT, "%s: no response within %lld ms", what,
                            (long long)timeout_ms);
  }
  pthread_mutex_unlock(&c->lock);
  if (ret < 0) return ret;

  r = p.resp;
  if (r == NULL) return runm_make_error(err, EPROTO, "%s: malformed ttrpc response", what);
  if (r->status && r->status->code != GRPC_STATUS_OK) {
    int code = r->status->code;
    ret = runm_make_error(err, runm_rpc_errno_from_code(code), "%s: %s: %s", what,
                          runm_rpc_code_name(code), r->status->message ? r->status->message : "");
  } else {
    ret = runm_ttrpc_message_unpack(resp_desc, r->payload.data, r->payload.len, resp, err);
    if (ret < 0) runm_error_wrap(err, "%s", what);
  }
  ttrpc__response__free_unpacked(r, NULL);
  return ret;
}

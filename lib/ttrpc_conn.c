/* ttrpc server, the socket side: listening, accepting, one reader thread
 * per connection, and the protocol checks on every frame a peer sends. */
#include <errno.h>
#include <fcntl.h>
#include <grpc/status.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "ttrpc.h"
#include "ttrpc_internal.h"
#include "unix_socket.h"

/* One frame from the reader. Frames that break the protocol but leave the
 * stream in sync get an error status on their stream id, as containerd's
 * server does; the connection stays up. */
static void handle_frame(struct runm_ttrpc_conn *cn, const struct runm_ttrpc_header *h,
                         const uint8_t *payload)
{
  switch (h->type) {
  case RUNM_TTRPC_REQUEST:
    if (h->stream_id % 2 != 1) {
      runm_ttrpc_send_status(cn, h->stream_id, GRPC_STATUS_INVALID_ARGUMENT,
                  "stream id %u: client streams must be odd", h->stream_id);
      return;
    }
    if (h->stream_id <= cn->last_stream_id) {
      runm_ttrpc_send_status(cn, h->stream_id, GRPC_STATUS_INVALID_ARGUMENT,
                  "stream id %u: ids cannot be reused and must increase", h->stream_id);
      return;
    }
    cn->last_stream_id = h->stream_id;
    runm_ttrpc_handle_request(cn, h->stream_id, payload, h->length);
    return;
  case RUNM_TTRPC_DATA:
    runm_ttrpc_send_status(cn, h->stream_id, GRPC_STATUS_INVALID_ARGUMENT,
                "stream id %u: no streaming method is served here", h->stream_id);
    return;
  case RUNM_TTRPC_RESPONSE:
  default:
    /* Unknown types are ignored, as ttrpc asks for forward compatibility. */
    return;
  }
}

/* ---- connections ---- */

static void *conn_thread(void *arg)
{
  struct runm_ttrpc_conn *cn = arg;
  struct runm_ttrpc_server *srv = cn->srv;
  bool client_gone;

  for (;;) {
    cleanup_error runm_error_t err = NULL;
    cleanup_free uint8_t *payload = NULL;
    struct runm_ttrpc_header h = {0};
    int ret = runm_ttrpc_read_frame(cn->fd, srv->wake_fd, &h, &payload, &err);
    if (ret == 0) break;
    if (ret < 0) {
      /* The rest of an oversized frame is not worth reading: say why and
       * close, so the peer does not wait for the answer. */
      if (err->status == EMSGSIZE)
        runm_ttrpc_send_status(cn, h.stream_id, GRPC_STATUS_RESOURCE_EXHAUSTED,
                    "message length %u exceeds the maximum of %u", h.length,
                    RUNM_TTRPC_MAX_PAYLOAD);
      break;
    }
    handle_frame(cn, &h, payload);
  }

  pthread_mutex_lock(&srv->lock);
  /* At shutdown calls may still answer; a peer that went away will not
   * read an answer, so its calls are cancelled. */
  client_gone = !srv->stopping;
  if (client_gone) {
    for (struct runm_ttrpc_call *c = srv->calls; c; c = c->next)
      if (c->conn == cn) runm_ttrpc_call_cancel(c);
  }
  while (cn->n_calls > 0) pthread_cond_wait(&srv->changed, &srv->lock);
  for (struct runm_ttrpc_conn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
    if (*pp == cn) {
      *pp = cn->next;
      break;
    }
  }
  srv->n_conns--;
  close(cn->fd);
  pthread_mutex_destroy(&cn->write_lock);
  free(cn);
  pthread_cond_broadcast(&srv->changed);
  pthread_mutex_unlock(&srv->lock);
  return NULL;
}

int runm_ttrpc_server_add_conn(struct runm_ttrpc_server *srv, int fd, runm_error_t *err)
{
  cleanup_close int owned = fd;
  unsigned max =
      srv->cfg.max_connections ? srv->cfg.max_connections : TTRPC_DEFAULT_MAX_CONNECTIONS;
  pthread_attr_t attr;
  struct runm_ttrpc_conn *cn;
  pthread_t t;
  int ret;

  if (srv->cfg.require_same_user) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
      return runm_make_error(err, errno, "SO_PEERCRED");
    if (cred.uid != 0 && cred.uid != geteuid())
      return runm_make_error(err, EPERM, "ttrpc peer uid %u is neither root nor %u", cred.uid,
                             geteuid());
  }
  cn = calloc(1, sizeof(*cn));
  if (cn == NULL) return runm_make_error(err, ENOMEM, "ttrpc connection");
  cn->srv = srv;
  pthread_mutex_init(&cn->write_lock, NULL);

  pthread_mutex_lock(&srv->lock);
  if (srv->stopping || srv->n_conns >= max) {
    bool stopping = srv->stopping;
    pthread_mutex_unlock(&srv->lock);
    pthread_mutex_destroy(&cn->write_lock);
    free(cn);
    if (stopping) return runm_make_error(err, ESHUTDOWN, "ttrpc server is shutting down");
    return runm_make_error(err, EMFILE, "more than %u ttrpc connections", max);
  }
  cn->fd = runm_steal_fd(&owned);
  cn->next = srv->conns;
  srv->conns = cn;
  srv->n_conns++;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ret = pthread_create(&t, &attr, conn_thread, cn);
  pthread_attr_destroy(&attr);
  if (ret != 0) {
    srv->conns = cn->next;
    srv->n_conns--;
    pthread_mutex_unlock(&srv->lock);
    close(cn->fd);
    pthread_mutex_destroy(&cn->write_lock);
    free(cn);
    return runm_make_error(err, ret, "start a ttrpc connection thread");
  }
  pthread_mutex_unlock(&srv->lock);
  return 0;
}

/* ---- accepting ---- */

void *runm_ttrpc_accept_thread(void *arg)
{
  struct runm_ttrpc_server *srv = arg;
  struct pollfd pfd[2] = {
      {.fd = srv->listen_fd, .events = POLLIN},
      {.fd = srv->wake_fd, .events = POLLIN},
  };

  for (;;) {
    cleanup_error runm_error_t err = NULL;
    int fd;

    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[1].revents) break;
    if (pfd[0].revents & (POLLERR | POLLNVAL)) break;
    if (!(pfd[0].revents & POLLIN)) continue;
    fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of fds or memory the listening socket stays readable: rather
         * than spin, look again a little later (or stop at shutdown). */
        struct pollfd w = {.fd = srv->wake_fd, .events = POLLIN};
        if (poll(&w, 1, 100) > 0) break;
        continue;
      }
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EPROTO ||
          errno == EPERM)
        continue;
      break;
    }
    /* A refused connection (limit, credentials) is simply closed. */
    runm_ttrpc_server_add_conn(srv, fd, &err);
  }
  return NULL;
}

int runm_ttrpc_server_listen_fd(struct runm_ttrpc_server *srv, int fd, runm_error_t *err)
{
  cleanup_close int owned = fd;
  int listening = 0;
  socklen_t len = sizeof(listening);

  if (srv->listen_fd >= 0) return runm_make_error(err, EBUSY, "ttrpc server already listens");
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
    return runm_make_error(err, errno, "fd %d is not a socket", fd);
  if (!listening) return runm_make_error(err, EINVAL, "fd %d is not a listening socket", fd);
  /* An inherited fd may lack close-on-exec; runc and QEMU must not get it. */
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return runm_make_error(err, errno, "FD_CLOEXEC");
  srv->listen_fd = runm_steal_fd(&owned);
  return 0;
}

int runm_ttrpc_server_listen_unix(struct runm_ttrpc_server *srv, const char *path,
                                  runm_error_t *err)
{
  cleanup_close int fd = -1;
  struct stat st;

  if (srv->listen_fd >= 0) return runm_make_error(err, EBUSY, "ttrpc server already listens");
  /* Never take over a path: a stale socket may belong to a live shim. */
  if (lstat(path, &st) == 0) return runm_make_error(err, EEXIST, "`%s` already exists", path);
  fd = runm_unix_listen(path, SOCK_STREAM, SOMAXCONN, err);
  if (fd < 0) return fd;
  srv->unix_path = strdup(path);
  if (srv->unix_path == NULL) {
    unlink(path);
    return runm_make_error(err, ENOMEM, "listen on `%s`", path);
  }
  srv->listen_fd = runm_steal_fd(&fd);
  return 0;
}


/* The guest-to-host link (hostlink.h): init's runm.v1.Host client and the
 * guest-local sockets runm-fork-exec-proxy talks to.
 *
 * Why the proxy speaks a small framed protocol to init instead of gRPC to
 * the host: a virtio-serial port is one byte stream, so it can carry exactly
 * one HTTP/2 connection for the life of the host's end; a client per hook
 * would start a second connection inside the first. So init keeps the one
 * long-lived client and every proxy borrows it. The proxy stays a small
 * static binary with one library (protobuf-c; Debian has no static gRPC),
 * so it runs wherever runc puts it (the guest, or a container's mount
 * namespace before pivot_root) without the guest's libraries. The frame
 * is a 4-byte big-endian length and a packed runm.v1.RunHookRequest; init
 * answers with one framed runm.v1.HookReply. */
#include "hostlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "cmdline_keys.h"
#include "init.h"
#include "rpc.h"
#include "runm/v1/host.pb-c.h"
#include "unix_socket.h"

/* A request is at most 1 MiB of state plus the hook's argv; the host caps
 * the same things again. */
#define MAX_FRAME (3 * 1024 * 1024)
/* Connections a guest process can make init hold at once. */
#define MAX_CONNS 64
/* A proxy sends its request at once; a peer that does not is dropped. */
#define REQUEST_TIMEOUT_S 10

static const char *const hook_kinds[] = {"prestart",       "createRuntime", "createContainer",
                                         "startContainer", "poststart",     "poststop"};

/* One generation of the host channel's client (serial: one per host
 * connection). Freed when the link and every call have let go. */
struct host_client {
  struct runm_rpc_client *rpc;
  int refs; /* guarded by hostlink.lock */
};

struct hostlink {
  struct runm_logger *log;
  bool vsock;
  unsigned vsock_port;
  pthread_mutex_t lock; /* guards client, n_conns */
  struct host_client *client;
  unsigned n_conns;
  int lfd; /* HOSTLINK_SOCKET */
};

struct conn {
  struct hostlink *hl;
  int fd;
};

static bool kind_known(const char *k)
{
  for (size_t i = 0; i < sizeof(hook_kinds) / sizeof(hook_kinds[0]); i++)
    if (strcmp(k, hook_kinds[i]) == 0) return true;
  return false;
}

/* ---- the host client -------------------------------------------------- */

static void client_put(struct hostlink *hl, struct host_client *hc)
{
  bool last;
  pthread_mutex_lock(&hl->lock);
  last = --hc->refs == 0;
  pthread_mutex_unlock(&hl->lock);
  if (last) {
    runm_rpc_client_free(hc->rpc);
    free(hc);
  }
}

static int vsock_connect(unsigned port, runm_error_t *err)
{
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return runm_make_error(err, errno, "vsock socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int e = errno;
    close(fd);
    return runm_make_error(err, e, "connect to the host's vsock port %u", port);
  }
  return fd;
}

/* The current client, referenced. With vsock it is made on first use (and
 * again after a failure); with serial it exists while the host is
 * connected. */
static struct host_client *client_get(struct hostlink *hl, runm_error_t *err)
{
  struct host_client *hc;

  pthread_mutex_lock(&hl->lock);
  if (hl->client == NULL && hl->vsock) {
    int fd = vsock_connect(hl->vsock_port, err);
    hc = fd >= 0 ? calloc(1, sizeof(*hc)) : NULL;
    if (fd >= 0 && hc == NULL) {
      close(fd);
      runm_make_error(err, ENOMEM, "host client");
    }
    if (hc) {
      hc->rpc = runm_rpc_client_new("runm-host", fd, err);
      if (hc->rpc == NULL) {
        free(hc);
        hc = NULL;
      } else {
        hc->refs = 1; /* the link's */
        hl->client = hc;
      }
    }
  }
  hc = hl->client;
  if (hc) hc->refs++;
  else if (*err == NULL)
    runm_make_error(err, ENOTCONN, "the host channel is not connected");
  pthread_mutex_unlock(&hl->lock);
  return hc;
}

/* vsock: a client whose connection failed is replaced on the next call. */
static void client_drop(struct hostlink *hl, struct host_client *hc)
{
  bool mine;
  pthread_mutex_lock(&hl->lock);
  mine = hl->vsock && hl->client == hc;
  if (mine) hl->client = NULL;
  pthread_mutex_unlock(&hl->lock);
  if (mine) client_put(hl, hc);
}

/* Serial: a new host connection gets a new client over a socketpair whose
 * other end the relay pumps to the port (gRPC cannot use the port's
 * character device itself). */
static int serial_open_local(void *arg, runm_error_t *err)
{
  struct hostlink *hl = arg;
  struct host_client *hc;
  int sp[2];

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return runm_make_error(err, errno, "socketpair");
  if (fcntl(sp[1], F_SETFL, O_NONBLOCK) < 0) {
    int e = errno;
    close(sp[0]);
    close(sp[1]);
    return runm_make_error(err, e, "host channel O_NONBLOCK");
  }
  hc = calloc(1, sizeof(*hc));
  if (hc == NULL) {
    close(sp[0]);
    close(sp[1]);
    return runm_make_error(err, ENOMEM, "host client");
  }
  hc->rpc = runm_rpc_client_new("runm-host", sp[0], err); /* owns sp[0] */
  if (hc->rpc == NULL) {
    free(hc);
    close(sp[1]);
    return -1;
  }
  hc->refs = 1;
  pthread_mutex_lock(&hl->lock);
  hl->client = hc;
  pthread_mutex_unlock(&hl->lock);
  runm_log(hl->log, RUNM_LOG_DEBUG, "host channel connected");
  return sp[1];
}

static void serial_closed(void *arg)
{
  struct hostlink *hl = arg;
  struct host_client *hc;

  pthread_mutex_lock(&hl->lock);
  hc = hl->client;
  hl->client = NULL;
  pthread_mutex_unlock(&hl->lock);
  if (hc == NULL) return;
  runm_rpc_client_cancel_all(hc->rpc, "the host channel closed");
  client_put(hl, hc);
  runm_log(hl->log, RUNM_LOG_DEBUG, "host channel closed");
}

/* ---- one proxy request ------------------------------------------------ */

static int read_full(int fd, void *buf, size_t len)
{
  size_t off = 0;
  while (off < len) {
    ssize_t n = read(fd, (char *)buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

/* MSG_NOSIGNAL: init blocks SIGPIPE into its signalfd. */
static int send_all(int fd, const void *buf, size_t len)
{
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

static void send_reply(int fd, int code, const char *message, Runm__V1__RunHookResponse *resp)
{
  Runm__V1__HookReply reply = RUNM__V1__HOOK_REPLY__INIT;
  cleanup_free uint8_t *buf = NULL;
  size_t len;

  reply.code = code;
  reply.message = (char *)(message ? message : "");
  reply.response = resp;
  len = runm__v1__hook_reply__get_packed_size(&reply);
  buf = malloc(len + 4);
  if (buf == NULL) return;
  *(uint32_t *)buf = htonl((uint32_t)len);
  runm__v1__hook_reply__pack(&reply, buf + 4);
  send_all(fd, buf, len + 4);
}

/* Cancels the host call when the proxy goes away (runc killed it at its own
 * timeout, or runc itself died): the host then kills the hook. */
struct cancel_watch {
  int fd, stopfd;
  struct runm_rpc_stream *s;
};

static void *cancel_thread(void *arg)
{
  struct cancel_watch *w = arg;
  struct pollfd p[2] = {{.fd = w->fd, .events = POLLRDHUP}, {.fd = w->stopfd, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    if (p[1].revents) return NULL;
    if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      runm_rpc_stream_cancel(w->s);
      return NULL;
    }
  }
}

/* The host call. Returns the gRPC status code; *resp on OK. */
static int call_host(struct hostlink *hl, int fd, const Runm__V1__RunHookRequest *req,
                     Runm__V1__RunHookResponse **resp, char **message)
{
  cleanup_error runm_error_t err = NULL;
  struct host_client *hc = client_get(hl, &err);
  struct runm_rpc_stream *s;
  struct cancel_watch w = {.fd = fd, .stopfd = -1};
  ProtobufCMessage *msg = NULL, *extra = NULL;
  pthread_t t;
  bool watching = false;
  int code, r;

  *resp = NULL;
  if (hc == NULL) {
    *message = runm_error_string(err);
    return 14; /* UNAVAILABLE */
  }
  s = runm_rpc_stream_open(hc->rpc, "/runm.v1.Host/RunHook", &req->base,
                           &runm__v1__run_hook_response__descriptor, 0, &err);
  if (s == NULL) {
    *message = runm_error_string(err);
    client_drop(hl, hc);
    client_put(hl, hc);
    return 14;
  }
  w.s = s;
  w.stopfd = eventfd(0, EFD_CLOEXEC);
  if (w.stopfd >= 0 && pthread_create(&t, NULL, cancel_thread, &w) == 0) watching = true;
  r = runm_rpc_stream_recv(s, &msg, &err);
  if (r == 1) {
    cleanup_error runm_error_t e2 = NULL;
    /* The status follows the one message. */
    r = runm_rpc_stream_recv(s, &extra, &e2);
    if (extra) {
      protobuf_c_message_free_unpacked(extra, NULL);
      r = -1;
    }
  }
  if (watching) {
    uint64_t one = 1;
    if (write(w.stopfd, &one, sizeof(one)) < 0) {
      /* cannot fail on a fresh eventfd */
    }
    pthread_join(t, NULL);
  }
  if (w.stopfd >= 0) close(w.stopfd);
  if (msg && r == 0) {
    code = 0;
    *resp = (Runm__V1__RunHookResponse *)msg;
    *message = NULL;
  } else {
    code = runm_rpc_stream_status(s, message);
    if (code == 0) {
      code = 13; /* INTERNAL */
      free(*message);
      *message = strdup("the host answered without a response");
    }
    if (msg) protobuf_c_message_free_unpacked(msg, NULL);
    if (code == 14) client_drop(hl, hc);
  }
  runm_rpc_stream_free(s);
  client_put(hl, hc);
  return code;
}

static void serve_request(struct hostlink *hl, int fd)
{
  struct timeval tv = {.tv_sec = REQUEST_TIMEOUT_S};
  Runm__V1__RunHookRequest *req = NULL;
  Runm__V1__RunHookResponse *resp = NULL;
  cleanup_free uint8_t *buf = NULL;
  cleanup_free char *message = NULL;
  uint32_t len;
  int code;

  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (read_full(fd, &len, sizeof(len)) < 0) return;
  len = ntohl(len);
  if (len == 0 || len > MAX_FRAME) {
    send_reply(fd, 3, "hook request too large or empty", NULL); /* INVALID_ARGUMENT */
    return;
  }
  buf = malloc(len);
  if (buf == NULL || read_full(fd, buf, len) < 0) return;
  req = runm__v1__run_hook_request__unpack(NULL, len, buf);
  if (req == NULL) {
    send_reply(fd, 3, "malformed hook request", NULL);
    return;
  }
  if (!kind_known(req->kind)) {
    send_reply(fd, 3, "unknown hook kind", NULL);
    goto out;
  }
  code = call_host(hl, fd, req, &resp, &message);
  if (code != 0)
    runm_log(hl->log, RUNM_LOG_DEBUG, "%s hook #%u: host said %d: %s", req->kind, req->index, code,
             message ? message : "");
  send_reply(fd, code, message, resp);
out:
  if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
  runm__v1__run_hook_request__free_unpacked(req, NULL);
}

static void *conn_thread(void *arg)
{
  struct conn *cn = arg;
  struct hostlink *hl = cn->hl;

  serve_request(hl, cn->fd);
  close(cn->fd);
  free(cn);
  pthread_mutex_lock(&hl->lock);
  hl->n_conns--;
  pthread_mutex_unlock(&hl->lock);
  return NULL;
}

static void *accept_thread(void *arg)
{
  struct hostlink *hl = arg;

  for (;;) {
    struct conn *cn;
    pthread_t t;
    bool full;
    int fd = accept4(hl->lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0) {
      /* EMFILE and the like: do not spin. */
      if (errno != EINTR && errno != ECONNABORTED) usleep(100000);
      continue;
    }
    pthread_mutex_lock(&hl->lock);
    full = hl->n_conns >= MAX_CONNS;
    if (!full) hl->n_conns++;
    pthread_mutex_unlock(&hl->lock);
    cn = full ? NULL : calloc(1, sizeof(*cn));
    if (cn == NULL) {
      if (!full) {
        pthread_mutex_lock(&hl->lock);
        hl->n_conns--;
        pthread_mutex_unlock(&hl->lock);
      }
      close(fd);
      continue;
    }
    cn->hl = hl;
    cn->fd = fd;
    if (pthread_create(&t, NULL, conn_thread, cn) != 0) {
      close(fd);
      free(cn);
      pthread_mutex_lock(&hl->lock);
      hl->n_conns--;
      pthread_mutex_unlock(&hl->lock);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

/* HOSTLINK_SOCKET, 0600 in the 0700 /run/runm: root in the guest's runtime
 * namespace (runc and the hooks it runs) reaches it. */
static int listen_local(struct hostlink *hl, runm_error_t *err)
{
  cleanup_close int fd = runm_unix_listen(HOSTLINK_SOCKET, SOCK_STREAM, 16, err);
  pthread_t t;

  if (fd < 0) return fd;
  /* The accept thread's, for the life of init. */
  hl->lfd = runm_steal_fd(&fd);
  if (pthread_create(&t, NULL, accept_thread, hl) != 0) {
    close(hl->lfd);
    hl->lfd = -1;
    unlink(HOSTLINK_SOCKET);
    return runm_make_error(err, EAGAIN, "start the accept thread for `%s`", HOSTLINK_SOCKET);
  }
  pthread_detach(t);
  return 0;
}

int hostlink_start(struct init_ctx *ctx, const char *cmdline, struct hostlink **out,
                   runm_error_t *err)
{
  char port[64] = "", vport[16] = "";
  struct hostlink *hl;

  *out = NULL;
  if (runm_cmdline_get(cmdline, RUNM_KEY_HOST_PORT, port, sizeof(port)) < 0 ||
      runm_cmdline_get(cmdline, RUNM_KEY_HOST_VSOCK_PORT, vport, sizeof(vport)) < 0)
    return runm_make_error(err, EINVAL, RUNM_KEY_HOST_PORT " or " RUNM_KEY_HOST_VSOCK_PORT " is too long");
  if (port[0] == '\0') return 0; /* no host channel for this VM */
  hl = calloc(1, sizeof(*hl));
  if (hl == NULL) return runm_make_error(err, ENOMEM, "host link");
  hl->log = &ctx->log;
  hl->lfd = -1;
  pthread_mutex_init(&hl->lock, NULL);
  hl->vsock = strcmp(ctx->cfg.transport, "vsock") == 0;
  if (hl->vsock) {
    char *end;
    unsigned long v = strtoul(vport, &end, 10);
    if (vport[0] == '\0' || *end != '\0' || v == 0 || v > 0xffffffffUL) {
      free(hl);
      return runm_make_error(err, EINVAL, RUNM_KEY_HOST_VSOCK_PORT " `%s` is not a port number", vport);
    }
    hl->vsock_port = (unsigned)v;
  } else if (init_relay_serial_start(ctx, port, serial_open_local, serial_closed, hl, err) < 0) {
    free(hl);
    return runm_error_wrap(err, "host channel");
  }
  /* From here on the relay thread may hold hl: it is never freed (init
   * reports the error and carries on without hooks). */
  if (listen_local(hl, err) < 0) return runm_error_wrap(err, "hook proxy socket");
  *out = hl;
  return 0;
}

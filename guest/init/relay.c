/* The host channel: relays each host connection (a virtio-serial port, or an
 * accepted vsock connection) to the local gRPC socket, byte for byte. gRPC
 * itself always listens on a unix socket (Debian's gRPC 1.51 has no vsock
 * target and cannot serve an fd it did not accept). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "init.h"
#include "unix_socket.h"
#include "byte_pump.h"

static int connect_local(runm_error_t *err)
{
  return runm_unix_connect(INIT_RPC_SOCKET, SOCK_STREAM | SOCK_NONBLOCK, err);
}

/* Finds /dev/vportNpM for the named port (no udev in the guest). */
static int find_port(const char *name, char *path, size_t len, runm_error_t *err)
{
  cleanup_dir DIR *d = opendir("/sys/class/virtio-ports");
  struct dirent *de;

  if (d == NULL) return runm_make_error(err, errno, "open /sys/class/virtio-ports");
  while ((de = readdir(d))) {
    char p[512], buf[128];
    cleanup_close int fd = -1;
    ssize_t n;
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", de->d_name);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) continue;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (strcmp(buf, name) == 0) {
      snprintf(path, len, "/dev/%s", de->d_name);
      return 0;
    }
  }
  return runm_make_error(err, ENOENT, "no virtio-serial port named `%s`", name);
}

/* Blocks until the host end of the port is connected. An unconnected port
 * reads EOF at once and polls readable, so the wait is on SIGIO, which the
 * driver sends to the port's owner when the host opens it. */
static int wait_host(int fd, const sigset_t *sigio)
{
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (!(p.revents & POLLHUP)) return 0;
    /* SIGIO is blocked in every thread; the timeout only bounds a lost signal. */
    struct timespec ts = {.tv_sec = 1};
    sigtimedwait(sigio, NULL, &ts);
  }
}

struct serial_relay {
  struct init_ctx *ctx;
  char path[300];
  /* The local end for each host connection, and what to do when it ends
   * (the guest service: connect to its socket; the host link: a new
   * client). */
  int (*open_local)(void *arg, runm_error_t *err);
  void (*closed)(void *arg);
  void *arg;
};

static void *serial_thread(void *arg)
{
  struct serial_relay *sr = arg;
  struct runm_logger *log = &sr->ctx->log;
  sigset_t sigio;

  sigemptyset(&sigio);
  sigaddset(&sigio, SIGIO);
  for (;;) {
    cleanup_error runm_error_t err = NULL;
    cleanup_close int port = open(sr->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    cleanup_close int local = -1;
    struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};

    if (port < 0) {
      runm_log(log, RUNM_LOG_ERROR, "open %s: %m", sr->path);
      struct timespec ts = {.tv_sec = 1};
      nanosleep(&ts, NULL);
      continue;
    }
    if (fcntl(port, F_SETOWN_EX, &owner) < 0 || fcntl(port, F_SETSIG, SIGIO) < 0 ||
        fcntl(port, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0)
      runm_log(log, RUNM_LOG_WARN, "SIGIO on %s: %m", sr->path);
    if (wait_host(port, &sigio) < 0) continue;
    local = sr->open_local(sr->arg, &err);
    if (local < 0) {
      runm_log_error(log, err, "relay");
      continue;
    }
    runm_log(log, RUNM_LOG_DEBUG, "host connected on %s", sr->path);
    runm_pump_bytes(port, local, -1);
    if (sr->closed) sr->closed(sr->arg);
    runm_log(log, RUNM_LOG_DEBUG, "host disconnected from %s", sr->path);
  }
  return NULL;
}

struct vsock_conn {
  struct init_ctx *ctx;
  int fd;
};

static void *vsock_conn_thread(void *arg)
{
  struct vsock_conn *vc = arg;
  cleanup_error runm_error_t err = NULL;
  cleanup_close int host = vc->fd;
  cleanup_close int local = connect_local(&err);

  if (local < 0)
    runm_log_error(&vc->ctx->log, err, "vsock relay");
  else
    runm_pump_bytes(host, local, -1);
  free(vc);
  return NULL;
}

static void *vsock_thread(void *arg)
{
  struct init_ctx *ctx = arg;
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                             .svm_port = ctx->cfg.vsock_port};
  cleanup_close int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 16) < 0) {
    runm_log(&ctx->log, RUNM_LOG_ERROR, "vsock listen on port %u: %m", ctx->cfg.vsock_port);
    return NULL;
  }
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    pthread_t t;
    struct vsock_conn *vc;
    if (fd < 0) continue;
    vc = malloc(sizeof(*vc));
    if (vc == NULL) {
      close(fd);
      continue;
    }
    vc->ctx = ctx;
    vc->fd = fd;
    if (pthread_create(&t, NULL, vsock_conn_thread, vc) != 0) {
      close(fd);
      free(vc);
      continue;
    }
    pthread_detach(t);
  }
  return NULL;
}

int init_relay_serial_start(struct init_ctx *ctx, const char *port_name,
                            int (*open_local)(void *arg, runm_error_t *err),
                            void (*closed)(void *arg), void *arg, runm_error_t *err)
{
  struct serial_relay *sr = calloc(1, sizeof(*sr));
  pthread_t t;
  int ret;

  if (sr == NULL) return runm_make_error(err, ENOMEM, "relay");
  sr->ctx = ctx;
  sr->open_local = open_local;
  sr->closed = closed;
  sr->arg = arg;
  if (find_port(port_name, sr->path, sizeof(sr->path), err) < 0) {
    free(sr);
    return -1;
  }
  ret = pthread_create(&t, NULL, serial_thread, sr);
  if (ret != 0) {
    free(sr);
    return runm_make_error(err, ret, "start relay thread");
  }
  pthread_detach(t);
  return 0;
}

static int open_guest_service(void *arg, runm_error_t *err)
{
  return connect_local(err);
}

int init_relay_start(struct init_ctx *ctx, runm_error_t *err)
{
  pthread_t t;
  int ret;

  if (strcmp(ctx->cfg.transport, "vsock") != 0)
    return init_relay_serial_start(ctx, ctx->cfg.port_name, open_guest_service, NULL, NULL, err);
  ret = pthread_create(&t, NULL, vsock_thread, ctx);
  if (ret != 0) return runm_make_error(err, ret, "start relay thread");
  pthread_detach(t);
  return 0;
}

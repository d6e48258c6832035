/* The host end of the vsock guest-to-host channel (host_vsock.h): accept,
 * check the peer's CID, relay bytes to the unix socket. */
#include "host_vsock.h"

#include <errno.h>
#include <linux/vm_sockets.h>
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
#include "unix_socket.h"
#include "byte_pump.h"


struct host_vsock {
  int lfd, stopfd; /* stopfd: an eventfd every thread polls; written once by stop */
  unsigned peer_cid;
  char unix_path[108];
  const struct runm_logger *log;
  pthread_t thread;
  pthread_mutex_t lock; /* guards n_relays */
  pthread_cond_t idle;
  int n_relays;
};

struct relay {
  struct host_vsock *hv;
  int a, b;
};

static void *relay_thread(void *arg)
{
  struct relay *r = arg;
  struct host_vsock *hv = r->hv;
  runm_pump_bytes(r->a, r->b, hv->stopfd);
  close(r->a);
  close(r->b);
  free(r);
  pthread_mutex_lock(&hv->lock);
  if (--hv->n_relays == 0) pthread_cond_broadcast(&hv->idle);
  pthread_mutex_unlock(&hv->lock);
  return NULL;
}

static int connect_unix(const char *path)
{
  return runm_unix_connect(path, SOCK_STREAM, NULL);
}

static void *accept_thread(void *arg)
{
  struct host_vsock *hv = arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = hv->lfd, .events = POLLIN}, {.fd = hv->stopfd, .events = POLLIN}};
    struct sockaddr_vm peer;
    socklen_t plen = sizeof(peer);
    struct relay *r;
    pthread_t t;
    int fd, u;

    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    if (p[1].revents) return NULL;
    fd = accept4(hv->lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    if (fd < 0) continue;
    /* Only this task's VM speaks to this task's shim. */
    if (peer.svm_cid != hv->peer_cid) {
      runm_log(hv->log, RUNM_LOG_WARN, "host channel: refused a vsock connection from CID %u",
               peer.svm_cid);
      close(fd);
      continue;
    }
    u = connect_unix(hv->unix_path);
    r = u >= 0 ? malloc(sizeof(*r)) : NULL;
    if (r == NULL) {
      if (u >= 0) close(u);
      close(fd);
      continue;
    }
    *r = (struct relay){.hv = hv, .a = fd, .b = u};
    pthread_mutex_lock(&hv->lock);
    hv->n_relays++;
    pthread_mutex_unlock(&hv->lock);
    if (pthread_create(&t, NULL, relay_thread, r) != 0) {
      close(fd);
      close(u);
      free(r);
      pthread_mutex_lock(&hv->lock);
      hv->n_relays--;
      pthread_mutex_unlock(&hv->lock);
      continue;
    }
    pthread_detach(t);
  }
}

struct host_vsock *host_vsock_start(unsigned port, unsigned peer_cid, const char *unix_path,
                                    const struct runm_logger *log, runm_error_t *err)
{
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
  struct host_vsock *hv = calloc(1, sizeof(*hv));

  if (hv == NULL) {
    runm_make_error(err, ENOMEM, "host vsock");
    return NULL;
  }
  hv->lfd = hv->stopfd = -1;
  hv->peer_cid = peer_cid;
  hv->log = log;
  pthread_mutex_init(&hv->lock, NULL);
  pthread_cond_init(&hv->idle, NULL);
  if (strlen(unix_path) >= sizeof(hv->unix_path)) {
    runm_make_error(err, ENAMETOOLONG, "socket path `%s` is too long", unix_path);
    goto fail;
  }
  snprintf(hv->unix_path, sizeof(hv->unix_path), "%s", unix_path);
  hv->lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (hv->lfd < 0 || bind(hv->lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
      listen(hv->lfd, 16) < 0) {
    runm_make_error(err, errno, "listen on host vsock port %u", port);
    goto fail;
  }
  hv->stopfd = eventfd(0, EFD_CLOEXEC);
  if (hv->stopfd < 0) {
    runm_make_error(err, errno, "eventfd");
    goto fail;
  }
  if (pthread_create(&hv->thread, NULL, accept_thread, hv) != 0) {
    runm_make_error(err, EAGAIN, "start the host vsock thread");
    goto fail;
  }
  return hv;
fail:
  if (hv->lfd >= 0) close(hv->lfd);
  if (hv->stopfd >= 0) close(hv->stopfd);
  pthread_mutex_destroy(&hv->lock);
  pthread_cond_destroy(&hv->idle);
  free(hv);
  return NULL;
}

void host_vsock_stop(struct host_vsock *hv)
{
  uint64_t one = 1;
  if (hv == NULL) return;
  if (write(hv->stopfd, &one, sizeof(one)) < 0) {
    /* an eventfd below its maximum cannot refuse */
  }
  pthread_join(hv->thread, NULL);
  pthread_mutex_lock(&hv->lock);
  while (hv->n_relays > 0) pthread_cond_wait(&hv->idle, &hv->lock);
  pthread_mutex_unlock(&hv->lock);
  close(hv->lfd);
  close(hv->stopfd);
  pthread_mutex_destroy(&hv->lock);
  pthread_cond_destroy(&hv->idle);
  free(hv);
}

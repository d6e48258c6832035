/* What the guest may send to user-mode networking (slirp). slirp connects
 * for the guest from the QEMU process, on the host: 10.0.2.2 is the host's
 * 127.0.0.1, a frame addressed straight to 127.0.0.1 or 0.0.0.0 reaches the
 * host's loopback too, and 169.254.169.254 is a cloud metadata service.
 * QEMU 7.2 does not expose libslirp's disable_host_loopback, and a hostile
 * guest kernel writes any frame it likes, so the check sits between the
 * NIC and slirp: QEMU's filter-redirector hands every guest-to-slirp frame
 * to this thread (one socketpair) and takes back the ones it allows
 * (another); the framing is filter-redirector's, a 4-byte big-endian length
 * and the frame. The decision is runm_netfilter_allow (pure, unit-tested). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vm.h"

#define FRAME_MAX 65600 /* a 64 KiB frame with headers; QEMU sends <= 1514 */

static bool ip_in(uint32_t a, uint32_t net, int bits)
{
  uint32_t mask = bits ? ~0u << (32 - bits) : 0;
  return (a & mask) == (net & mask);
}

bool runm_netfilter_allow(const uint8_t *f, size_t len, bool host_loopback,
                          const uint16_t *udp_ports, size_t n_udp)
{
  uint16_t type;
  uint32_t dst;
  size_t ihl;
  uint8_t proto;

  if (len < 14) return false;
  type = (uint16_t)(f[12] << 8 | f[13]);
  if (type == 0x0806) return true; /* ARP */
  if (type != 0x0800) return false; /* IPv6 is off; VLANs and the rest have no use */
  f += 14;
  len -= 14;
  if (len < 20 || (f[0] >> 4) != 4) return false;
  ihl = (size_t)(f[0] & 0xf) * 4;
  if (ihl < 20 || ihl > len) return false;
  proto = f[9];
  dst = (uint32_t)f[16] << 24 | (uint32_t)f[17] << 16 | (uint32_t)f[18] << 8 | f[19];
  /* The host's own loopback and "this host", link-local (metadata), and
   * multicast/broadcast: slirp would connect to or answer for the host. */
  if (ip_in(dst, 0x7f000000, 8) || ip_in(dst, 0x00000000, 8) || ip_in(dst, 0xa9fe0000, 16) ||
      dst >= 0xe0000000)
    return false;
  if (dst != 0x0a000202 || host_loopback) return true;
  /* 10.0.2.2 is the host's 127.0.0.1. Published ports come in from it,
   * so the guest's answers to it must pass; what must not is a new
   * connection from the guest: a TCP SYN, a UDP datagram (but from a
   * published UDP port: the answer to a forwarded one). A fragment hides
   * its header, so none passes. */
  if ((f[6] & 0x3f) != 0 || f[7] != 0) return false; /* MF or an offset */
  if (proto == 6) {
    if (len < ihl + 14) return false;
    uint8_t flags = f[ihl + 13];
    return !((flags & 0x02) && !(flags & 0x10)); /* SYN without ACK */
  }
  if (proto == 17) {
    if (len < ihl + 8) return false;
    uint16_t sport = (uint16_t)(f[ihl] << 8 | f[ihl + 1]);
    for (size_t i = 0; i < n_udp; i++)
      if (udp_ports[i] == sport) return true;
    return false;
  }
  return proto == 1; /* ICMP: slirp answers pings itself */
}

struct runm_vm_netfilter {
  int from_qemu, to_qemu, stopfd;
  bool host_loopback;
  uint16_t udp[RUNM_PORTS_MAX];
  size_t n_udp;
  pthread_t thread;
  bool running;
  uint64_t dropped;
};

/* send, not write: QEMU gone must be an error here, not a SIGPIPE. */
static int send_all(int fd, const uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *filter_thread(void *arg)
{
  struct runm_vm_netfilter *nf = arg;
  uint8_t *buf = malloc(4 + FRAME_MAX);
  size_t have = 0;

  if (buf == NULL) return NULL;
  for (;;) {
    struct pollfd p[2] = {{.fd = nf->from_qemu, .events = POLLIN}, {.fd = nf->stopfd, .events = POLLIN}};
    ssize_t n;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    n = read(nf->from_qemu, buf + have, 4 + FRAME_MAX - have);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break; /* QEMU is gone */
    have += (size_t)n;
    while (have >= 4) {
      uint32_t flen = ntohl(*(uint32_t *)buf);
      if (flen > FRAME_MAX) goto out; /* not filter-redirector's framing: stop */
      if (have < 4 + flen) break;
      if (runm_netfilter_allow(buf + 4, flen, nf->host_loopback, nf->udp, nf->n_udp)) {
        if (send_all(nf->to_qemu, buf, 4 + flen) < 0) goto out;
      } else {
        nf->dropped++;
      }
      memmove(buf, buf + 4 + flen, have - 4 - flen);
      have -= 4 + flen;
    }
  }
out:
  free(buf);
  return NULL;
}

static struct runm_vm_netfilter *nf_new(bool host_loopback, const struct runm_port_forward *ports,
                                         size_t n_ports)
{
  struct runm_vm_netfilter *nf = calloc(1, sizeof(*nf));
  if (nf == NULL) return NULL;
  nf->host_loopback = host_loopback;
  nf->from_qemu = nf->to_qemu = nf->stopfd = -1;
  for (size_t i = 0; i < n_ports && nf->n_udp < RUNM_PORTS_MAX; i++)
    if (ports[i].proto == RUNM_PORT_UDP) nf->udp[nf->n_udp++] = ports[i].guest_port;
  return nf;
}

/* nf holds both sockets: start the thread. Returns 0 or an errno. */
static int nf_run(struct runm_vm_netfilter *nf)
{
  int e;
  nf->stopfd = eventfd(0, EFD_CLOEXEC);
  if (nf->stopfd < 0) return errno;
  e = pthread_create(&nf->thread, NULL, filter_thread, nf);
  if (e != 0) return e;
  nf->running = true;
  return 0;
}

int runm_vm_netfilter_start(bool host_loopback, const struct runm_port_forward *ports,
                            size_t n_ports, struct runm_vm_netfilter **out, int *qemu_out,
                            int *qemu_in, runm_error_t *err)
{
  struct runm_vm_netfilter *nf = nf_new(host_loopback, ports, n_ports);
  int a[2] = {-1, -1}, b[2] = {-1, -1}, e;

  *out = NULL;
  *qemu_out = *qemu_in = -1;
  if (nf == NULL) return runm_make_error(err, ENOMEM, "network filter");
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) < 0) {
    e = errno;
    goto fail;
  }
  nf->from_qemu = a[0];
  nf->to_qemu = b[0];
  e = nf_run(nf);
  if (e != 0) goto fail;
  *qemu_out = a[1];
  *qemu_in = b[1];
  *out = nf;
  return 0;
fail:
  if (a[1] >= 0) close(a[1]);
  if (b[1] >= 0) close(b[1]);
  if (nf->from_qemu < 0 && a[0] >= 0) close(a[0]);
  if (nf->to_qemu < 0 && b[0] >= 0) close(b[0]);
  runm_vm_netfilter_stop(nf);
  return runm_make_error(err, e, "network filter");
}

int runm_vm_netfilter_start_fds(bool host_loopback, const struct runm_port_forward *ports,
                                size_t n_ports, int from_qemu, int to_qemu,
                                struct runm_vm_netfilter **out, runm_error_t *err)
{
  struct runm_vm_netfilter *nf = nf_new(host_loopback, ports, n_ports);
  int e;

  *out = NULL;
  if (nf == NULL) {
    close(from_qemu);
    close(to_qemu);
    return runm_make_error(err, ENOMEM, "network filter");
  }
  nf->from_qemu = from_qemu;
  nf->to_qemu = to_qemu;
  e = nf_run(nf);
  if (e != 0) {
    runm_vm_netfilter_stop(nf);
    return runm_make_error(err, e, "network filter");
  }
  *out = nf;
  return 0;
}

void runm_vm_netfilter_stop(struct runm_vm_netfilter *nf)
{
  if (nf == NULL) return;
  if (nf->running) {
    uint64_t one = 1;
    ssize_t w = write(nf->stopfd, &one, sizeof(one));
    (void)w;
    /* A send blocked on a QEMU that no longer reads ends too. */
    shutdown(nf->to_qemu, SHUT_RDWR);
    pthread_join(nf->thread, NULL);
  }
  if (nf->from_qemu >= 0) close(nf->from_qemu);
  if (nf->to_qemu >= 0) close(nf->to_qemu);
  if (nf->stopfd >= 0) close(nf->stopfd);
  free(nf);
}

/* The two-way byte pump (byte_pump.h). One poll loop, one buffer per
 * direction: read from a side only when its buffer is empty, write the
 * buffer out as the other side accepts it. Sockets are written with
 * MSG_NOSIGNAL; other fds (a virtio-serial port) with write(2). */
#include "byte_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

struct pump_buf {
  char data[RUNM_PUMP_BUF];
  size_t off, len;
};

static int set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

static bool is_socket(int fd)
{
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static ssize_t put(int fd, bool sock, const char *p, size_t n)
{
  return sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
}

int runm_pump_bytes(int a, int b, int stopfd)
{
  cleanup_free struct pump_buf *ab = calloc(1, sizeof(*ab));
  cleanup_free struct pump_buf *ba = calloc(1, sizeof(*ba));
  int fds[2] = {a, b}, r;
  bool sock[2] = {is_socket(a), is_socket(b)};
  struct pump_buf *read_from[2] = {ab, ba}; /* bytes read from fds[i], to go to fds[1 - i] */

  if (ab == NULL || ba == NULL) return -ENOMEM;
  if ((r = set_nonblock(a)) < 0 || (r = set_nonblock(b)) < 0) return r;
  for (;;) {
    struct pollfd p[3] = {{.fd = a}, {.fd = b}, {.fd = stopfd, .events = POLLIN}};
    for (int i = 0; i < 2; i++) {
      if (read_from[i]->len == 0) p[i].events |= POLLIN;
      if (read_from[1 - i]->len > 0) p[i].events |= POLLOUT;
    }
    if (poll(p, stopfd >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (stopfd >= 0 && p[2].revents) return 0;
    for (int i = 0; i < 2; i++) {
      struct pump_buf *in = read_from[i], *out = read_from[1 - i];
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && in->len == 0) {
        ssize_t n = read(fds[i], in->data, sizeof(in->data));
        if (n == 0) return 0;
        if (n < 0 && errno != EAGAIN && errno != EINTR) return 0;
        if (n > 0) {
          in->off = 0;
          in->len = (size_t)n;
        }
      }
      if ((p[i].revents & (POLLOUT | POLLERR)) && out->len > 0) {
        ssize_t n = put(fds[i], sock[i], out->data + out->off, out->len);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return 0;
        if (n > 0) {
          out->off += (size_t)n;
          out->len -= (size_t)n;
        }
      }
    }
  }
}

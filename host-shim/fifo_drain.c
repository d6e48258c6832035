/* See fifo_drain.h. A FIFO's buffer lives as long as one end is open: a
 * reader that opened it keeps what is unread after the writers close, but
 * a reader that closes early (ctr at exit) throws it away. The kernel says
 * how much is unread (FIONREAD) and, to a write-only fd, whether any reader
 * is left (POLLERR); nothing wakes a writer when the buffer becomes empty,
 * so this polls, briefly. */
#include "fifo_drain.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MAX_FDS 4
#define DRAIN_POLL_MS 5

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A write-only fd on the FIFO (or pipe) behind fd, or -1 for anything else.
 * The relay's own fd is O_RDWR, itself a reader: only once it is closed
 * does the kernel tell this one that no reader is left. Reopened through
 * /proc/self/fd so that it is the same FIFO whatever its path is now. */
static int reopen_writer(int fd)
{
  struct stat st;
  char path[64];
  if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) return -1;
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  return open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

/* Bytes still unread in w's FIFO; 0 when no reader is left (they are lost
 * whatever we do) or the kernel cannot say. */
static int unread(int w)
{
  struct pollfd pf = {.fd = w, .events = 0};
  int q = 0;
  if (poll(&pf, 1, 0) < 0 || (pf.revents & (POLLERR | POLLHUP | POLLNVAL))) return 0;
  if (ioctl(w, FIONREAD, &q) < 0) return 0;
  return q > 0 ? q : 0;
}

void fifo_drain_close(int *fds, const char *const *names, size_t n, int stall_ms, int cancel_fd,
                      const struct runm_logger *log)
{
  int w[DRAIN_MAX_FDS];
  size_t live = 0;
  int last = -1;
  int64_t stall_at = mono_ms() + stall_ms;

  if (n > DRAIN_MAX_FDS) n = DRAIN_MAX_FDS;
  for (size_t i = 0; i < n; i++) {
    w[i] = fds[i] >= 0 ? reopen_writer(fds[i]) : -1;
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
    if (w[i] >= 0) live++;
  }
  while (live > 0) {
    struct pollfd pf[DRAIN_MAX_FDS + 1];
    int pending = 0;
    nfds_t k = 0;
    for (size_t i = 0; i < n; i++) {
      int q;
      if (w[i] < 0) continue;
      q = unread(w[i]);
      if (q == 0) {
        close(w[i]);
        w[i] = -1;
        live--;
        continue;
      }
      pending += q;
      pf[k++] = (struct pollfd){.fd = w[i], .events = 0};
    }
    if (live == 0) break;
    if (last < 0 || pending < last) {
      last = pending;
      stall_at = mono_ms() + stall_ms;
    } else if (mono_ms() >= stall_at) {
      for (size_t i = 0; i < n; i++)
        if (w[i] >= 0)
          runm_log(log, RUNM_LOG_WARN, "%s: the reader took nothing for %d ms; closing with %d bytes unread",
                   names[i], stall_ms, unread(w[i]));
      break;
    }
    /* Sleeps; wakes early when the last reader goes (POLLERR), or when
     * the output is no longer wanted (cancel_fd). */
    if (cancel_fd >= 0) pf[k++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    if (poll(pf, k, DRAIN_POLL_MS) < 0 && errno != EINTR) break;
    if (cancel_fd >= 0 && (pf[k - 1].revents & POLLIN)) break;
  }
  for (size_t i = 0; i < n; i++)
    if (w[i] >= 0) close(w[i]);
}

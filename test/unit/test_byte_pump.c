/* Unit tests for lib/byte_pump.c: both directions, integrity under load,
 * a stalled direction not stalling the other, EOF and stop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "byte_pump.h"
#include "tap.h"

struct pump_args {
  int a, b, stopfd, ret;
  volatile int done;
};

static void *pump_thread(void *arg)
{
  struct pump_args *p = arg;
  p->ret = runm_pump_bytes(p->a, p->b, p->stopfd);
  p->done = 1;
  return NULL;
}

/* Waits up to ms for the pump to end. */
static int ended(struct pump_args *p, int ms)
{
  for (int i = 0; i < ms / 10 && !p->done; i++) usleep(10000);
  return p->done;
}

/* Reads exactly n bytes (blocking), or fewer at EOF. */
static size_t read_n(int fd, char *buf, size_t n)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

struct bulk {
  int fd;
  size_t n;
  unsigned seed;
};

static void *writer(void *arg)
{
  struct bulk *w = arg;
  char buf[8192];
  size_t sent = 0;
  while (sent < w->n) {
    size_t k = w->n - sent < sizeof(buf) ? w->n - sent : sizeof(buf);
    for (size_t i = 0; i < k; i++) buf[i] = (char)((sent + i) * w->seed >> 3);
    ssize_t r = write(w->fd, buf, k);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    sent += (size_t)r;
  }
  return NULL;
}

/* Reads w->n bytes from fd and checks them against writer's pattern. */
static int check_bulk(int fd, const struct bulk *w)
{
  char buf[8192];
  size_t got = 0;
  while (got < w->n) {
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    for (ssize_t i = 0; i < r; i++)
      if (buf[i] != (char)((got + (size_t)i) * w->seed >> 3)) return 0;
    got += (size_t)r;
  }
  return 1;
}

int main(void)
{
  int A[2], B[2], stop = eventfd(0, EFD_CLOEXEC);
  struct pump_args p = {0};
  pthread_t t, wa, wb;
  char buf[64];

  /* A pump that stalls one direction on the other deadlocks below: fail
   * then, rather than hang the test run. */
  alarm(120);
  /* a1 <-> a2 =pump= b1 <-> b2 */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, A) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, B) < 0) return 1;
  p = (struct pump_args){.a = A[1], .b = B[0], .stopfd = stop};
  pthread_create(&t, NULL, pump_thread, &p);

  ok(write(A[0], "hello", 5) == 5 && read_n(B[1], buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "a to b");
  ok(write(B[1], "world", 5) == 5 && read_n(A[0], buf, 5) == 5 && memcmp(buf, "world", 5) == 0, "b to a");

  /* 8 MiB each way at once: every byte arrives, in order, no deadlock. */
  struct bulk w1 = {.fd = A[0], .n = 8u << 20, .seed = 7}, w2 = {.fd = B[1], .n = 8u << 20, .seed = 13};
  pthread_create(&wa, NULL, writer, &w1);
  pthread_create(&wb, NULL, writer, &w2);
  ok(check_bulk(B[1], &w1), "8 MiB a to b arrive intact while b to a runs");
  ok(check_bulk(A[0], &w2), "8 MiB b to a arrive intact while a to b runs");
  pthread_join(wa, NULL);
  pthread_join(wb, NULL);

  /* Nobody reads b: a's writes stop being accepted after a bounded amount,
   * and meanwhile b to a still flows. */
  int fl = fcntl(A[0], F_GETFL);
  fcntl(A[0], F_SETFL, fl | O_NONBLOCK);
  size_t pushed = 0;
  char chunk[4096] = {0};
  for (int tries = 0; tries < 200; tries++) {
    ssize_t r = write(A[0], chunk, sizeof(chunk));
    if (r > 0) {
      pushed += (size_t)r;
      tries = 0;
    } else {
      usleep(5000);
    }
    if (pushed > (64u << 20)) break;
  }
  printf("# %zu bytes accepted before backpressure\n", pushed);
  ok(pushed < (16u << 20), "a stalled direction stops taking bytes (backpressure, bounded buffering)");
  ok(write(B[1], "ping", 4) == 4, "the other direction accepts bytes");
  struct pollfd pf = {.fd = A[0], .events = POLLIN};
  ok(poll(&pf, 1, 2000) == 1 && read(A[0], buf, 4) == 4 && memcmp(buf, "ping", 4) == 0,
     "and delivers them while the first is stalled");
  fcntl(A[0], F_SETFL, fl);
  /* Drain what is queued toward b. */
  fcntl(B[1], F_SETFL, fcntl(B[1], F_GETFL) | O_NONBLOCK);
  size_t drained = 0;
  for (int idle = 0; idle < 50;) {
    char big[65536];
    ssize_t r = read(B[1], big, sizeof(big));
    if (r > 0) {
      drained += (size_t)r;
      idle = 0;
    } else {
      idle++;
      usleep(10000);
    }
  }
  is_int(drained, pushed, "every byte accepted during the stall arrives once b reads");

  uint64_t one = 1;
  ok(write(stop, &one, sizeof(one)) == sizeof(one) && ended(&p, 2000), "stopfd ends the pump");
  is_int(p.ret, 0, "a stop is not an error");
  pthread_join(t, NULL);

  /* EOF from one side ends it. */
  p = (struct pump_args){.a = A[1], .b = B[0], .stopfd = -1};
  pthread_create(&t, NULL, pump_thread, &p);
  shutdown(A[0], SHUT_WR);
  ok(ended(&p, 2000), "EOF on a side ends the pump (no stopfd)");
  pthread_join(t, NULL);
  close(A[0]);
  close(A[1]);
  close(B[0]);
  close(B[1]);
  close(stop);
  return tap_done();
}

/* The guest console and QEMU's own output, bounded. The guest writes its
 * serial console as fast as it likes, and QEMU's warnings can be provoked
 * by the guest too: both reach the host only through pipes that a thread of
 * the launching process (which becomes the VM's owner) drains into
 * console.log and qemu.log, each kept at most RUNM_VM_CONSOLE_MAX /
 * RUNM_VM_QEMU_LOG_MAX bytes, newest bytes kept. The state dir is on /run
 * (RAM): an unbounded file there was host memory the guest could fill.
 *
 * When a file would outgrow its cap, its newest half is copied to a new
 * file that replaces it by rename, so a reader (runm_vm_console_tail, a
 * `tail`) always sees a whole file. The dir is held open: a pooled VM's
 * dir is renamed under the thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm.h"

struct sink {
  int in;   /* pipe read end, O_NONBLOCK; -1 at EOF */
  int out;  /* the file */
  const char *name;
  size_t cap, size;
};

struct runm_vm_console {
  int dirfd, stopfd;
  struct sink s[2];
  pthread_t thread;
  bool running;
};

static int open_sink(int dirfd, const char *name)
{
  return openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Replaces the file by one holding its newest `keep` bytes. */
static int trim(int dirfd, struct sink *k, size_t keep)
{
  char tmp[64];
  cleanup_free char *buf = malloc(keep ? keep : 1);
  cleanup_close int in = -1;
  int fd;
  ssize_t n = 0;

  if (buf == NULL) return -1;
  if (keep > k->size) keep = k->size;
  in = openat(dirfd, k->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in >= 0 && keep > 0) n = pread(in, buf, keep, (off_t)(k->size - keep));
  if (n < 0) n = 0;
  snprintf(tmp, sizeof(tmp), "%s.tmp", k->name);
  fd = open_sink(dirfd, tmp);
  if (fd < 0) return -1;
  if ((n > 0 && write(fd, buf, (size_t)n) != n) || renameat(dirfd, tmp, dirfd, k->name) < 0) {
    close(fd);
    unlinkat(dirfd, tmp, 0);
    return -1;
  }
  close(k->out);
  k->out = fd;
  k->size = (size_t)n;
  return 0;
}

/* Appends what the pipe holds now. Returns false at EOF or error. */
static bool drain(int dirfd, struct sink *k)
{
  char buf[65536];
  for (;;) {
    ssize_t n = read(k->in, buf, sizeof(buf));
    const char *p = buf;
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    /* Only the newest cap/2 bytes of a huge burst can survive anyway. */
    if ((size_t)n > k->cap / 2) {
      p += (size_t)n - k->cap / 2;
      n = (ssize_t)(k->cap / 2);
    }
    if (k->size + (size_t)n > k->cap &&
        trim(dirfd, k, k->cap / 2 > (size_t)n ? k->cap / 2 - (size_t)n : 0) < 0) {
      /* Cannot trim (out of memory, the dir gone): drop output rather than
       * grow past the cap. */
      continue;
    }
    if (write(k->out, p, (size_t)n) == n) k->size += (size_t)n;
  }
}

static void *console_thread(void *arg)
{
  struct runm_vm_console *c = arg;
  for (;;) {
    struct pollfd p[3] = {{.fd = c->s[0].in, .events = POLLIN},
                          {.fd = c->s[1].in, .events = POLLIN},
                          {.fd = c->stopfd, .events = POLLIN}};
    if (c->s[0].in < 0 && c->s[1].in < 0) return NULL;
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < 2; i++) {
      if (c->s[i].in < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!drain(c->dirfd, &c->s[i])) {
        close(c->s[i].in);
        c->s[i].in = -1;
      }
    }
    if (p[2].revents) {
      /* Stop: keep what is already in the pipes, then end. */
      for (int i = 0; i < 2; i++)
        if (c->s[i].in >= 0) drain(c->dirfd, &c->s[i]);
      return NULL;
    }
  }
}

static int pipe_pair(int *rd, int *wr, runm_error_t *err)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return runm_make_error(err, e, "pipe");
  }
  *rd = p[0];
  *wr = p[1];
  return 0;
}

/* console_rd >= 0: the console arrives on it (taken over) and qemu.log has
 * no source; else two pipes are made and their write ends returned. */
static int console_start(const char *dir, int console_rd, struct runm_vm_console **out,
                         int *console_wr, int *log_wr, runm_error_t *err)
{
  struct runm_vm_console *c = calloc(1, sizeof(*c));
  *out = NULL;
  *console_wr = *log_wr = -1;
  if (c == NULL) {
    if (console_rd >= 0) close(console_rd);
    return runm_make_error(err, ENOMEM, "console");
  }
  c->stopfd = -1;
  c->s[0] = (struct sink){.in = console_rd, .out = -1, .name = "console.log", .cap = RUNM_VM_CONSOLE_MAX};
  c->s[1] = (struct sink){.in = -1, .out = -1, .name = "qemu.log", .cap = RUNM_VM_QEMU_LOG_MAX};
  c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (c->dirfd < 0) {
    runm_make_error(err, errno, "open state dir `%s`", dir);
    goto fail;
  }
  for (int i = 0; i < 2; i++) {
    c->s[i].out = open_sink(c->dirfd, c->s[i].name);
    if (c->s[i].out < 0) {
      runm_make_error(err, errno, "create `%s/%s`", dir, c->s[i].name);
      goto fail;
    }
  }
  if (console_rd >= 0) {
    if (fcntl(console_rd, F_SETFL, O_NONBLOCK) < 0) {
      runm_make_error(err, errno, "console socket");
      goto fail;
    }
  } else if (pipe_pair(&c->s[0].in, console_wr, err) < 0 || pipe_pair(&c->s[1].in, log_wr, err) < 0) {
    goto fail;
  }
  c->stopfd = eventfd(0, EFD_CLOEXEC);
  if (c->stopfd < 0) {
    runm_make_error(err, errno, "eventfd");
    goto fail;
  }
  int e = pthread_create(&c->thread, NULL, console_thread, c);
  if (e != 0) {
    runm_make_error(err, e, "console thread");
    goto fail;
  }
  c->running = true;
  *out = c;
  return 0;
fail:
  if (*console_wr >= 0) close(*console_wr);
  if (*log_wr >= 0) close(*log_wr);
  *console_wr = *log_wr = -1;
  runm_vm_console_stop(c);
  return -1;
}

int runm_vm_console_start(const char *dir, struct runm_vm_console **out, int *console_wr,
                          int *log_wr, runm_error_t *err)
{
  return console_start(dir, -1, out, console_wr, log_wr, err);
}

int runm_vm_console_start_fd(const char *dir, int console_rd, struct runm_vm_console **out,
                             runm_error_t *err)
{
  int w1, w2;
  return console_start(dir, console_rd, out, &w1, &w2, err);
}

void runm_vm_console_stop(struct runm_vm_console *c)
{
  if (c == NULL) return;
  if (c->running) {
    uint64_t one = 1;
    ssize_t w = write(c->stopfd, &one, sizeof(one));
    (void)w;
    pthread_join(c->thread, NULL);
  }
  for (int i = 0; i < 2; i++) {
    if (c->s[i].in >= 0) close(c->s[i].in);
    if (c->s[i].out >= 0) close(c->s[i].out);
  }
  if (c->stopfd >= 0) close(c->stopfd);
  if (c->dirfd >= 0) close(c->dirfd);
  free(c);
}

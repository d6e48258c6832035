/* Finding the mbin disk: runm.mbin=NAME, or the first /sys/block/vd* whose
 * first bytes are the squashfs magic. virtio-blk may show up after init
 * starts, so wait for kernel uevents (bounded) instead of guessing a delay. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline_keys.h"
#include "mounter.h"

#define SQUASHFS_MAGIC "hsqs"
#define NAME_MAX_LEN 31
/* Without a uevent socket (no CONFIG_NET), look again this often. */
#define FALLBACK_RETRY_MS 20

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1: /dev/name starts with the squashfs magic; 0: not (yet); <0: error. */
static int has_magic(const char *name, int *last_errno)
{
  cleanup_close int fd = -1;
  char path[sizeof("/dev/") + 256], magic[4];
  ssize_t n;

  snprintf(path, sizeof(path), "/dev/%s", name);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *last_errno = errno;
    return 0;
  }
  do
    n = pread(fd, magic, sizeof(magic), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    *last_errno = errno;
    return 0;
  }
  return n == (ssize_t)sizeof(magic) && memcmp(magic, SQUASHFS_MAGIC, sizeof(magic)) == 0;
}

/* Kernel disk order: vda..vdz, then vdaa... */
static int before(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  return la != lb ? la < lb : strcmp(a, b) < 0;
}

/* One look at /sys/block. Writes the chosen name and returns 1 when found. */
static int scan_once(const char *want, char *found, int *last_errno)
{
  cleanup_dir DIR *d = NULL;
  char best[NAME_MAX_LEN + 1] = "";
  struct dirent *de;

  d = opendir("/sys/block");
  if (d == NULL) {
    *last_errno = errno;
    return 0;
  }
  while ((de = readdir(d)) != NULL) {
    const char *name = de->d_name;
    if (strlen(name) > NAME_MAX_LEN) continue;
    if (*want) {
      if (strcmp(name, want) != 0) continue;
    } else if (strncmp(name, "vd", 2) != 0) {
      continue;
    }
    if (!has_magic(name, last_errno)) continue;
    if (*best == '\0' || before(name, best)) strcpy(best, name);
  }
  if (*best == '\0') return 0;
  strcpy(found, best);
  return 1;
}

static int open_uevent_socket(void)
{
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = 1 /* kernel uevents */};
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);

  if (fd < 0) return -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void drain(int fd)
{
  char buf[4096];
  while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
}

int mounter_find_mbin(const char *name, char *dev, size_t dev_len, runm_error_t *err)
{
  cleanup_close int uevents = -1;
  char found[NAME_MAX_LEN + 1];
  int64_t deadline = now_ms() + MOUNTER_MBIN_WAIT_MS;
  int last_errno = ENODEV;

  if (strlen(name) > NAME_MAX_LEN) return runm_make_error(err, EINVAL, RUNM_KEY_MBIN "=%s", name);
  /* Subscribe before the first look so no "add" event can slip between. */
  uevents = open_uevent_socket();
  for (;;) {
    int64_t left;

    if (scan_once(name, found, &last_errno)) {
      if ((size_t)snprintf(dev, dev_len, "/dev/%s", found) >= dev_len)
        return runm_make_error(err, ENAMETOOLONG, "mbin device name");
      return 0;
    }
    left = deadline - now_ms();
    if (left <= 0) break;
    if (uevents >= 0) {
      struct pollfd pfd = {.fd = uevents, .events = POLLIN};
      if (poll(&pfd, 1, (int)left) > 0) drain(uevents);
    } else {
      poll(NULL, 0, left < FALLBACK_RETRY_MS ? (int)left : FALLBACK_RETRY_MS);
    }
  }
  if (*name)
    return runm_make_error(err, last_errno, "find mbin: /dev/%s has no squashfs after %d ms", name,
                           MOUNTER_MBIN_WAIT_MS);
  return runm_make_error(err, ENODEV, "find mbin: no /sys/block/vd* with squashfs magic after %d ms",
                         MOUNTER_MBIN_WAIT_MS);
}

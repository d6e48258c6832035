/* The mounter's first steps: kernel filesystems, console, modules, and the
 * runm.* keys of the kernel command line. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "cmdline_keys.h"
#include "mounter.h"

#define LOAD_LIST_MAX (64 * 1024)

static int mkdir_mount(const char *src, const char *target, const char *fstype,
                       unsigned long flags, mode_t mode, runm_error_t *err)
{
  if (mkdir(target, mode) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir %s", target);
  if (mount(src, target, fstype, flags, NULL) < 0)
    return runm_make_error(err, errno, "mount %s on %s", fstype, target);
  return 0;
}

int mounter_mount_kernel_fs(runm_error_t *err)
{
  int ret;

  ret = mkdir_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, 0755, err);
  if (ret == 0) ret = mkdir_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555, err);
  if (ret == 0) ret = mkdir_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555, err);
  return ret;
}

void mounter_open_console(void)
{
  int fd, i, missing = 0;

  for (i = 0; i <= 2; i++)
    if (fcntl(i, F_GETFD) < 0 && errno == EBADF) missing = 1;
  if (!missing) return;
  /* No O_CLOEXEC: init inherits these. */
  fd = open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;
  for (i = 0; i <= 2; i++)
    if (i != fd && fcntl(i, F_GETFD) < 0 && errno == EBADF) dup2(fd, i);
  if (fd > 2) close(fd);
}

static int read_small_file(int dirfd, const char *name, char *buf, size_t len, runm_error_t *err)
{
  cleanup_close int fd = -1;
  size_t total = 0;

  fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open /modules/%s", name);
  for (;;) {
    ssize_t n = read(fd, buf + total, len - 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "read /modules/%s", name);
    if (n == 0) break;
    total += (size_t)n;
    if (total == len - 1) return runm_make_error(err, E2BIG, "read /modules/%s", name);
  }
  buf[total] = '\0';
  return 1;
}

static int load_module(int dirfd, const char *name, runm_error_t *err)
{
  cleanup_close int fd = -1;

  if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
      strcmp(name, "..") == 0)
    return runm_make_error(err, EINVAL, "load.list: bad module name `%s`", name);
  fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return runm_make_error(err, errno, "open module /modules/%s", name);
  /* EEXIST: already built in or loaded, which is what we wanted. */
  if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "load module %s", name);
  return 0;
}

int mounter_load_modules(runm_error_t *err)
{
  char list[LOAD_LIST_MAX];
  cleanup_close int dirfd = -1;
  char *line, *next;
  int ret;

  dirfd = open("/modules", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open /modules");
  ret = read_small_file(dirfd, "load.list", list, sizeof(list), err);
  if (ret <= 0) return ret;

  for (line = list; line != NULL && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    if (*line == '\0') continue;
    ret = load_module(dirfd, line, err);
    if (ret < 0) return ret;
  }
  return 0;
}

static int valid_dev_name(const char *s)
{
  if (*s == '\0') return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) return 0;
  return 1;
}

int mounter_read_config(struct mounter_config *cfg, runm_error_t *err)
{
  char cmdline[RUNM_CMDLINE_MAX + 1];
  int ret;

  memset(cfg, 0, sizeof(*cfg));
  ret = runm_cmdline_read(cmdline, sizeof(cmdline), err);
  if (ret < 0) return ret;

  /* The command line comes from the host, but check it like any input. */
  ret = runm_cmdline_get(cmdline, RUNM_KEY_MBIN, cfg->mbin, sizeof(cfg->mbin));
  if (ret < 0) return runm_make_error(err, -ret, RUNM_KEY_MBIN);
  if (ret == 1 && !valid_dev_name(cfg->mbin))
    return runm_make_error(err, EINVAL, RUNM_KEY_MBIN "=%s: not a device name", cfg->mbin);

  ret = runm_cmdline_get(cmdline, RUNM_KEY_INIT, cfg->init, sizeof(cfg->init));
  if (ret < 0) return runm_make_error(err, -ret, RUNM_KEY_INIT);
  if (ret == 0) strcpy(cfg->init, MOUNTER_DEFAULT_INIT);
  if (cfg->init[0] != '/')
    return runm_make_error(err, EINVAL, RUNM_KEY_INIT "=%s: not an absolute path", cfg->init);
  return 0;
}

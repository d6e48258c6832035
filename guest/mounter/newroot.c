/* The new root (a tmpfs, so runc's pivot_root works), switch_root into it
 * and the exec of init. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounter.h"

struct link_spec {
  const char *path, *target;
};
struct dir_spec {
  const char *path;
  mode_t mode;
};

static const struct link_spec root_links[] = {
    {"bin", "mbin/bin"}, {"sbin", "mbin/bin"}, {"lib", "mbin/lib"},
    {"lib64", "mbin/lib64"}, {"usr", "mbin"},
};
static const struct dir_spec root_dirs[] = {
    {"dev", 0755}, {"proc", 0555}, {"sys", 0555}, {"run", 0755},
    {"tmp", 01777}, {"etc", 0755}, {"var", 0755},
};
static const char *const moved_mounts[] = {"dev", "proc", "sys"};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int make_dir(int dirfd, const char *path, mode_t mode, runm_error_t *err)
{
  if (mkdirat(dirfd, path, mode) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir %s/%s", MOUNTER_NEWROOT, path);
  /* Exact modes (1777 for tmp) whatever the umask. */
  if (fchmodat(dirfd, path, mode, 0) < 0)
    return runm_make_error(err, errno, "chmod %s/%s", MOUNTER_NEWROOT, path);
  return 0;
}

int mounter_build_newroot(const char *dev, runm_error_t *err)
{
  cleanup_close int rootfd = -1;
  char src[16], dst[64];
  size_t i;
  int ret;

  if (mkdir(MOUNTER_NEWROOT, 0755) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir %s", MOUNTER_NEWROOT);
  if (mount("tmpfs", MOUNTER_NEWROOT, "tmpfs", 0, "mode=0755") < 0)
    return runm_make_error(err, errno, "mount tmpfs on %s", MOUNTER_NEWROOT);
  rootfd = open(MOUNTER_NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return runm_make_error(err, errno, "open %s", MOUNTER_NEWROOT);

  ret = make_dir(rootfd, "mbin", 0755, err);
  if (ret < 0) return ret;
  if (mount(dev, MOUNTER_NEWROOT "/mbin", "squashfs", MS_RDONLY | MS_NODEV, NULL) < 0)
    return runm_make_error(err, errno, "mount squashfs %s on %s/mbin", dev, MOUNTER_NEWROOT);

  for (i = 0; i < ARRAY_LEN(root_links); i++)
    if (symlinkat(root_links[i].target, rootfd, root_links[i].path) < 0)
      return runm_make_error(err, errno, "symlink %s/%s", MOUNTER_NEWROOT, root_links[i].path);
  for (i = 0; i < ARRAY_LEN(root_dirs); i++) {
    ret = make_dir(rootfd, root_dirs[i].path, root_dirs[i].mode, err);
    if (ret < 0) return ret;
  }
  for (i = 0; i < ARRAY_LEN(moved_mounts); i++) {
    snprintf(src, sizeof(src), "/%s", moved_mounts[i]);
    snprintf(dst, sizeof(dst), "%s/%s", MOUNTER_NEWROOT, moved_mounts[i]);
    if (mount(src, dst, NULL, MS_MOVE, NULL) < 0)
      return runm_make_error(err, errno, "move %s to %s", src, dst);
  }
  return 0;
}

/* Empties the initramfs (rootfs) to give its memory back, never descending
 * into another filesystem (the new root is mounted inside it). */
static int remove_contents(int dirfd, dev_t rootdev, const char *path, runm_error_t *err)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd, ret;

  fd = dup(dirfd);
  if (fd < 0) return runm_make_error(err, errno, "dup");
  d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return runm_make_error(err, errno, "opendir %s", path);
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat st;

    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return runm_make_error(err, errno, "stat %s/%s", path, de->d_name);
    if (S_ISDIR(st.st_mode)) {
      cleanup_close int sub = -1;
      char subpath[512];

      if (st.st_dev != rootdev) continue; /* a mount point: leave it alone */
      snprintf(subpath, sizeof(subpath), "%s%s", path, de->d_name);
      sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) return runm_make_error(err, errno, "open %s", subpath);
      strncat(subpath, "/", sizeof(subpath) - strlen(subpath) - 1);
      ret = remove_contents(sub, rootdev, subpath, err);
      if (ret < 0) return ret;
      if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
        return runm_make_error(err, errno, "rmdir %s%s", path, de->d_name);
    } else if (unlinkat(dirfd, de->d_name, 0) < 0) {
      return runm_make_error(err, errno, "unlink %s%s", path, de->d_name);
    }
  }
  if (errno != 0) return runm_make_error(err, errno, "readdir %s", path);
  return 0;
}

int mounter_switch_root(runm_error_t *err)
{
  cleanup_close int oldroot = -1;
  struct statfs sfs;
  struct stat st, newst;
  int ret;

  oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0) return runm_make_error(err, errno, "open /");
  if (fstat(oldroot, &st) < 0 || fstatfs(oldroot, &sfs) < 0)
    return runm_make_error(err, errno, "stat /");
  if (stat(MOUNTER_NEWROOT, &newst) < 0) return runm_make_error(err, errno, "stat %s", MOUNTER_NEWROOT);
  /* Only ever delete an initramfs, and only with the new root mounted. */
  if (sfs.f_type != RAMFS_MAGIC && sfs.f_type != TMPFS_MAGIC)
    return runm_make_error(err, EPERM, "switch_root: / is not an initramfs");
  if (newst.st_dev == st.st_dev)
    return runm_make_error(err, EINVAL, "switch_root: %s is not a mount point", MOUNTER_NEWROOT);

  if (chdir(MOUNTER_NEWROOT) < 0) return runm_make_error(err, errno, "chdir %s", MOUNTER_NEWROOT);
  ret = remove_contents(oldroot, st.st_dev, "/", err);
  if (ret < 0) return runm_error_wrap(err, "switch_root: remove initramfs");
  if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
    return runm_make_error(err, errno, "switch_root: move %s to /", MOUNTER_NEWROOT);
  if (chroot(".") < 0) return runm_make_error(err, errno, "switch_root: chroot");
  if (chdir("/") < 0) return runm_make_error(err, errno, "switch_root: chdir /");
  return 0;
}

int mounter_exec_init(const char *init, uint64_t start_ns, runm_error_t *err)
{
  char start_env[64];
  char *const argv[] = {(char *)init, NULL};
  char *const envp[] = {start_env, (char *)"PATH=/bin", NULL};

  snprintf(start_env, sizeof(start_env), "RUNM_MOUNTER_START_NS=%" PRIu64, start_ns);
  execve(init, argv, envp);
  return runm_make_error(err, errno, "execve %s", init);
}

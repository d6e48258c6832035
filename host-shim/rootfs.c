/* Mounting containerd's rootfs mounts on the host, the way runc-v2 does;
 * binds through runm-bindfs in bind_mode fuse, or in auto when the kernel
 * refuses them. */
#include "rootfs.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cleanup.h"

static const struct {
  const char *name;
  bool clear;
  unsigned long flag;
} flag_opts[] = {
    {"ro", false, MS_RDONLY},      {"rw", true, MS_RDONLY},          {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},     {"nodev", false, MS_NODEV},       {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},  {"exec", true, MS_NOEXEC},        {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC}, {"noatime", false, MS_NOATIME}, {"relatime", false, MS_RELATIME},
    {"sync", false, MS_SYNCHRONOUS},
};

static int parse_options(const struct rootfs_mount *m, unsigned long *flags, char **data,
                         runm_error_t *err)
{
  size_t len = 0, cap = 1;
  *flags = 0;
  for (size_t i = 0; i < m->n_options; i++) cap += strlen(m->options[i]) + 1;
  *data = calloc(1, cap);
  if (*data == NULL) return runm_make_error(err, ENOMEM, "mount options");
  for (size_t i = 0; i < m->n_options; i++) {
    const char *o = m->options[i];
    bool known = false;
    for (size_t k = 0; k < sizeof(flag_opts) / sizeof(flag_opts[0]); k++)
      if (strcmp(o, flag_opts[k].name) == 0) {
        if (flag_opts[k].clear)
          *flags &= ~flag_opts[k].flag;
        else
          *flags |= flag_opts[k].flag;
        known = true;
      }
    if (known) continue;
    if (len) (*data)[len++] = ',';
    memcpy(*data + len, o, strlen(o));
    len += strlen(o);
  }
  return 0;
}

/* The -o options runm-bindfs takes for the flags of a bind. */
static void fuse_opts(unsigned long flags, char *out, size_t len)
{
  snprintf(out, len, "%s%s%s%s", flags & MS_RDONLY ? "ro," : "", flags & MS_NOSUID ? "nosuid," : "",
           flags & MS_NODEV ? "nodev," : "", flags & MS_NOEXEC ? "noexec," : "");
  if (out[0]) out[strlen(out) - 1] = '\0';
}

/* A bind through runm-bindfs: SHIM_BIND_FUSE always, SHIM_BIND_AUTO when
 * the kernel said EPERM or EACCES (kernel_errno), logged once. */
static int fuse_bind(const struct rootfs_mount *m, const char *target, unsigned long flags,
                     enum shim_bind_mode mode, int kernel_errno, struct fusebind *fb, runm_error_t *err)
{
  char opts[64];
  if (fb == NULL) return runm_make_error(err, EINVAL, "bind of `%s`: no FUSE context", m->source);
  if (kernel_errno)
    runm_log(fb->log, RUNM_LOG_WARN, "the kernel refused to bind `%s` on `%s` (%s): using runm-bindfs",
             m->source, target, strerror(kernel_errno));
  else
    runm_log(fb->log, RUNM_LOG_INFO, "rootfs `%s` through runm-bindfs (bind_mode %s)", m->source,
             shim_bind_mode_name(mode));
  fuse_opts(flags, opts, sizeof(opts));
  return fusebind_mount(fb, m->source, target, opts, err);
}

int rootfs_mount(const char *bundle, const struct rootfs_mount *mounts, size_t n,
                 enum shim_bind_mode mode, struct fusebind *fb, runm_error_t *err)
{
  char target[PATH_MAX];
  snprintf(target, sizeof(target), "%s/rootfs", bundle);
  if (n == 0) return 0; /* the bundle brings its own rootfs */
  if (mkdir(target, 0711) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir `%s`", target);
  for (size_t i = 0; i < n; i++) {
    const struct rootfs_mount *m = &mounts[i];
    cleanup_free char *data = NULL;
    unsigned long flags;
    if (parse_options(m, &flags, &data, err) < 0) return -1;
    if (strcmp(m->type, "bind") == 0) flags |= MS_BIND;
    if ((flags & MS_BIND) && mode == SHIM_BIND_FUSE) {
      if (fuse_bind(m, target, flags, mode, 0, fb, err) < 0) goto fail;
      continue;
    }
    if (mount(m->source, target, m->type, flags & ~MS_RDONLY, data[0] ? data : NULL) < 0) {
      int e = errno;
      if ((flags & MS_BIND) && mode == SHIM_BIND_AUTO && (e == EPERM || e == EACCES)) {
        if (fuse_bind(m, target, flags, mode, e, fb, err) < 0) goto fail;
        continue;
      }
      runm_make_error(err, e, "mount %s `%s` on `%s`", m->type, m->source, target);
      rootfs_unmount(bundle, NULL);
      return -1;
    }
    /* A read-only bind needs a remount to take. */
    if ((flags & MS_BIND) && (flags & MS_RDONLY) &&
        mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
      int e = errno;
      rootfs_unmount(bundle, NULL);
      return runm_make_error(err, e, "remount `%s` read-only", target);
    }
    if (!(flags & MS_BIND) && (flags & MS_RDONLY) &&
        mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
      int e = errno;
      rootfs_unmount(bundle, NULL);
      return runm_make_error(err, e, "remount `%s` read-only", target);
    }
  }
  return 0;

fail:
  rootfs_unmount(bundle, NULL);
  return -1;
}

int rootfs_unmount(const char *bundle, runm_error_t *err)
{
  char target[PATH_MAX];
  snprintf(target, sizeof(target), "%s/rootfs", bundle);
  /* Stacked mounts (several rootfs mounts) come off one by one. */
  for (int i = 0; i < 16; i++) {
    if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return 0; /* nothing (more) mounted */
    if (err) return runm_make_error(err, errno, "unmount `%s`", target);
    return -1;
  }
  return 0;
}

/* The container's rootfs on the host: containerd's mounts (overlay from
 * the overlayfs snapshotter, bind from the native one) mounted at
 * <bundle>/rootfs, which reaches the guest through the bundle's share.
 * A bind is the kernel's or runm-bindfs's, as bind_mode says. */
#ifndef SHIM_ROOTFS_H
#define SHIM_ROOTFS_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "fusebind.h"

struct rootfs_mount {
  const char *type, *source;
  const char *const *options;
  size_t n_options;
};

/* fb (for FUSE binds) may be NULL with SHIM_BIND_KERNEL. */
int rootfs_mount(const char *bundle, const struct rootfs_mount *mounts, size_t n,
                 enum shim_bind_mode mode, struct fusebind *fb, runm_error_t *err);
/* Unmounts <bundle>/rootfs if something is mounted there (also from
 * `delete`, after a crash); a no-op otherwise. */
int rootfs_unmount(const char *bundle, runm_error_t *err);

#endif

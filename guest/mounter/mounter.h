/* runm-linux-mounter: the initramfs /init. Mounts the kernel filesystems,
 * finds the mbin squashfs, builds the tmpfs root, switches into it and
 * executes runm-linux-init (docs/guest-boot.md). Each step returns an error
 * value; main reports the first failure and reboots. */
#ifndef RUNM_MOUNTER_H
#define RUNM_MOUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MOUNTER_NEWROOT "/newroot"
#define MOUNTER_DEFAULT_INIT "/bin/runm-linux-init"
/* How long virtio-blk may take to show the mbin disk. */
#define MOUNTER_MBIN_WAIT_MS 5000

struct mounter_config {
  char mbin[32];  /* runm.mbin= device name (e.g. "vdb"), "" to scan */
  char init[256]; /* runm.init= or MOUNTER_DEFAULT_INIT */
};

/* early.c */
int mounter_mount_kernel_fs(runm_error_t *err);
/* Gives the mounter (and so init) stdin/stdout/stderr on /dev/console when
 * the kernel could not. Best effort: without a console there is nowhere
 * to report to anyway. */
void mounter_open_console(void);
int mounter_load_modules(runm_error_t *err);
int mounter_read_config(struct mounter_config *cfg, runm_error_t *err);

/* mbin_dev.c: waits up to MOUNTER_MBIN_WAIT_MS for the device, writes
 * "/dev/NAME" into dev. */
int mounter_find_mbin(const char *name, char *dev, size_t dev_len, runm_error_t *err);

/* timens.c: puts the mounter, and so init and all it starts, in a new time
 * namespace whose CLOCK_MONOTONIC reads monotonic_offset_s more than the
 * kernel's. */
#define MOUNTER_MONOTONIC_OFFSET_S 10
int mounter_enter_time_ns(unsigned int monotonic_offset_s, runm_error_t *err);

/* newroot.c */
int mounter_build_newroot(const char *dev, runm_error_t *err);
int mounter_switch_root(runm_error_t *err);
int mounter_exec_init(const char *init, uint64_t start_ns, runm_error_t *err);

#endif

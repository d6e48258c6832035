/* The runm-bindfs mounts a shim makes (bind_mode = fuse, or auto when the
 * kernel refuses a bind): spawning the helper, a record of every mount in
 * <state_dir>/fuse/<vm id>/mounts written before the mount is made, and
 * their removal when the task is deleted, when the shim exits, and by
 * `containerd-shim-runm-v1 delete` after the shim died. */
#ifndef SHIM_FUSEBIND_H
#define SHIM_FUSEBIND_H

#include <limits.h>
#include <stdbool.h>

#include "error.h"
#include "log.h"
#include "vm.h"

struct fusebind {
  char dir[PATH_MAX - 64]; /* <state_dir>/fuse/<vm id>: the record and volume mount points */
  char exe[PATH_MAX];      /* runm-bindfs next to the shim, else found on PATH */
  const struct runm_logger *log;
  /* Volume mount points (the shares point at these strings). */
  char volume[RUNM_VM_MAX_SHARES][PATH_MAX];
  unsigned n_volumes;
};

/* Sets fb up (nothing is created until the first mount). */
int fusebind_init(struct fusebind *fb, const char *state_dir, const char *vm_id, const char *exe_dir,
                  const struct runm_logger *log, runm_error_t *err);
/* Mirrors directory src at dst (an existing directory) through runm-bindfs
 * with `-o opts` (NULL: none); returns once dst is mounted. The record
 * names dst before the helper runs. */
int fusebind_mount(struct fusebind *fb, const char *src, const char *dst, const char *opts,
                   runm_error_t *err);
/* A volume: mounts share->path at <dir>/vN and points the share there; the
 * guest still mounts it at the original path (share->guest_path). */
int fusebind_volume(struct fusebind *fb, struct runm_vm_share *share, runm_error_t *err);
/* Unmounts every mount recorded for vm_id, ends its helper, removes the
 * volume mount points, the record and the dir. A no-op without a record. */
int fusebind_cleanup(const char *state_dir, const char *vm_id, const struct runm_logger *log,
                     runm_error_t *err);

#endif

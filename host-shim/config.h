/* The shim's settings: /etc/runm/config.toml (or $RUNM_CONFIG), then
 * environment overrides, then defaults. */
#ifndef SHIM_CONFIG_H
#define SHIM_CONFIG_H

#include <stdbool.h>
#include <limits.h>

#include "error.h"
#include "vm.h"

/* How the shim makes bind mounts (docs/bindfs.md): the kernel's, runm-bindfs
 * (FUSE) for the native snapshotter's rootfs and every bind volume, or the
 * kernel's with runm-bindfs where the kernel refuses (EPERM/EACCES). */
enum shim_bind_mode { SHIM_BIND_AUTO = 0, SHIM_BIND_KERNEL, SHIM_BIND_FUSE };
const char *shim_bind_mode_name(enum shim_bind_mode m);

struct shim_config {
  char kernel[PATH_MAX], initrd[PATH_MAX], mbin[PATH_MAX];
  char state_dir[PATH_MAX];
  enum runm_accel accel;
  enum runm_transport transport;
  unsigned memory_mib; /* default VM memory; grown to fit the spec's limit */
  unsigned vcpus;
  unsigned boot_timeout_s;
  unsigned pool_size;           /* pre-booted VMs kept ready; 0 = no pool (docs/pool.md) */
  unsigned pool_idle_timeout_s; /* a pooled VM unused this long is stopped */
  enum shim_bind_mode bind_mode;
  enum runm_vm_backend_kind vm_backend; /* qemu | libvirt (docs/libvirt.md) */
  char libvirt_uri[PATH_MAX];           /* default RUNM_LIBVIRT_URI_DEFAULT */
  enum runm_share_fs share_fs;          /* 9p | virtiofs (docs/performance.md) */
  bool debug;
};

/* exe_dir: where the shim binary lives (artifacts default to
 * exe_dir/../share/runm). */
int shim_config_load(struct shim_config *cfg, const char *exe_dir, runm_error_t *err);
/* Parses one config file into cfg (exposed for unit tests). */
int shim_config_parse_file(struct shim_config *cfg, const char *path, runm_error_t *err);

/* The host's online CPUs: no VM gets more. */
unsigned shim_host_cpus(void);
/* The VM settings every runm VM gets from the shim's config; the caller
 * adds id, shares and what the task's spec asks for. */
void shim_vm_config_base(const struct shim_config *cfg, struct runm_vm_config *vc);

#endif

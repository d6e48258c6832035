/* The VM pool: VMs booted ahead of time, each held by an idle shim, which
 * `start` hands a new task to so that the task need not wait for a boot.
 * Optional (pool_size = 0 turns it off); see docs/pool.md. */
#ifndef SHIM_POOL_H
#define SHIM_POOL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "log.h"
#include "vm.h"

/* Who the task is: what containerd told `start`, handed to the idle shim. */
struct pool_claim {
  char ns[128], id[128];
  char address[PATH_MAX], publish_binary[PATH_MAX], ttrpc_address[PATH_MAX], bundle[PATH_MAX];
  bool debug;
};

/* A pooled VM as its shim holds it. */
struct pool_vm {
  struct runm_vm *vm;
  struct runm_rpc_server *proxy; /* api.sock */
  struct hooks *hooks;           /* the runm.v1.Host channel, allow-list loaded at Create */
  char state_dir[PATH_MAX];
  char boot_id[64];              /* the VM's first id: names shares/<boot id> for good */
  char share_dir[PATH_MAX];      /* shares/<boot id>/x: exported as the VM's one share */
  char share_guest[PATH_MAX];    /* where the guest mounted it (its first path) */
  char host_sock[PATH_MAX];      /* shares/<boot id>/host.sock: never renamed */
  unsigned n_binds;              /* share_dir/0 .. n-1 are mounted */
  unsigned mem_mib, vcpus;
};

/* `start`: hand the task and its listening socket to an idle pooled shim.
 * 1 = claimed (that shim serves lfd now), 0 = none was free. */
int pool_claim(const struct shim_config *cfg, const struct pool_claim *c, int lfd, runm_error_t *err);

/* `start`: spawn idle shims until pool_size are booting or ready. */
int pool_refill(const struct shim_config *cfg, const struct pool_claim *c, runm_error_t *err);

/* The idle shim: boot a VM, offer it, wait. 1 = claimed (pv, c and *lfd
 * filled; the VM is renamed for the task), 0 = ended unclaimed (idle
 * timeout, SIGTERM, VM died; everything removed), <0 = error (same).
 * `log` must outlive pv->hooks (it is the shim's own logger). */
int pool_idle_run(const struct shim_config *cfg, const char *address, const char *publish_binary,
                  const struct runm_logger *log, struct pool_vm *pv, struct pool_claim *c, int *lfd,
                  runm_error_t *err);

/* The claimed shim, at Create: can this VM run a container needing mem_mib
 * and vcpus? (Otherwise the shim boots a fresh one.) */
bool pool_vm_fits(const struct pool_vm *pv, unsigned mem_mib, unsigned vcpus);

/* Bind the task's share dirs under the pool share and have the guest mount
 * them at their paths, with a fresh clock, entropy and hostname. */
int pool_vm_prepare(struct pool_vm *pv, const char *hostname, const struct runm_vm_share *shares,
                    size_t n, runm_error_t *err);

/* Unmount what pool_vm_prepare bound and remove the share dir. The VM must
 * be stopped first (QEMU holds the export open). */
int pool_vm_release(struct pool_vm *pv, runm_error_t *err);

/* For `delete` after a shim died: unmount and remove <state>/shares/<name>
 * (name: the pooled VM's boot id, vm.info's qemu_name less "runm-"),
 * never following a symlink. */
int pool_shares_remove(const char *state_dir, const char *name, runm_error_t *err);

#endif

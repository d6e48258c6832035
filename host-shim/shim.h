/* containerd-shim-runm-v1: one shim per container task; it owns the task's
 * VM and turns containerd's Task calls into guest-service calls. */
#ifndef SHIM_H
#define SHIM_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "pool.h"
#include "error.h"
#include "log.h"

struct runm_vm;
struct runm_rpc_server;
struct io_relay;
struct publisher;
struct hooks;
struct fusebind;
struct exports;

/* One process of the task: the init (exec_id "") or an exec. */
struct shim_process {
  char *exec_id;
  char *stdin_path, *stdout_path, *stderr_path;
  bool terminal;
  uint32_t pid;
  bool started;
  bool exited;
  uint32_t exit_status;
  int64_t exited_at_ns;
  struct io_relay *io;
  struct shim *shim;
  struct shim_process *next;
};

struct shim {
  /* Fixed at start. */
  char ns[128], id[128], bundle[PATH_MAX];
  char containerd_address[PATH_MAX], ttrpc_address[PATH_MAX], publish_binary[PATH_MAX];
  char exe_dir[PATH_MAX];
  char vm_id[80];
  struct shim_config cfg;
  struct runm_logger log;
  struct publisher *pub;

  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t changed; /* a process exited, or the task went away */
  struct runm_vm *vm;
  struct runm_rpc_server *debug_proxy;
  /* A VM taken from the pool (pool.c): vm and debug_proxy above are
   * pool.vm and pool.proxy; pool.n_binds says what Create bound. */
  bool pooled;
  struct pool_vm pool;
  struct hooks *hooks; /* OCI hooks: the allow-list and the runm.v1.Host server */
  bool rootfs_mounted;
  struct fusebind *fuse; /* runm-bindfs mounts (bind_mode fuse/auto); NULL in kernel mode */
  struct exports *exports; /* what the VM sees of the host (exports.h), from Create on */
  bool created, deleted;
  struct shim_process *procs; /* init first */
  bool shutdown_requested;
};

/* The VM id for a (namespace, id) pair: readable when it fits, hashed when
 * not; the same in the serving shim and in `delete`. */
void shim_vm_id(const char *ns, const char *id, char *out, size_t len);
/* FNV-1a over s, continuing from h (start with SHIM_FNV1A_BASIS): the short,
 * stable names of sockets and pool dirs. */
#define SHIM_FNV1A_BASIS 1469598103934665603ULL
uint64_t shim_fnv1a(const char *s, uint64_t h);

/* The VM settings every runm VM gets from the shim's config (task.c); the
 * caller adds id, shares and what the task's spec asks for. */
struct runm_vm_config;
void shim_vm_config_base(const struct shim_config *cfg, struct runm_vm_config *vc);

#endif

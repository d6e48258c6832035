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
struct task_net;

/* One process of the task: the init (exec_id "") or an exec. */
struct shim_process {
  char *exec_id;
  char *stdin_path, *stdout_path, *stderr_path;
  bool terminal;
  uint32_t pid; /* the task's QEMU (shim.vm_pid), never a guest pid */
  bool started;
  bool exited;
  uint32_t exit_status;
  int64_t exited_at_ns;
  struct io_relay *io;
  unsigned waiters; /* handlers holding it across a wait: Delete frees it only at 0 */
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
  pthread_cond_t changed; /* a process exited, or the task went away (CLOCK_MONOTONIC) */
  struct runm_vm *vm;
  /* The task's host identity, from Create to Delete: its QEMU's pid (what
   * containerd and host hooks are given) and a pidfd that signals exactly
   * that process (lifecycle.c), -1 when none. */
  pid_t vm_pid;
  int vm_pidfd;
  struct runm_rpc_server *debug_proxy;
  /* A VM taken from the pool (pool.c): vm and debug_proxy above are
   * pool.vm and pool.proxy; pool.n_binds says what Create bound. */
  bool pooled;
  struct pool_vm pool;
  struct hooks *hooks; /* OCI hooks: the allow-list and the runm.v1.Host server */
  bool rootfs_mounted;
  struct fusebind *fuse; /* runm-bindfs mounts (bind_mode fuse/auto); NULL in kernel mode */
  struct exports *exports; /* what the VM sees of the host (exports.h), from Create on */
  struct task_net *net; /* the namespace mode's namespace and TAP (task_net.h), or NULL */
  bool created, deleted;
  struct shim_process *procs; /* init first */
  bool shutdown_requested;
};

/* The VM id for a (namespace, id) pair (names.c), the same in the serving
 * shim and in `delete`, and never the same for two pairs: `ns-id` when
 * that reads back one way (ns without '-', neither with '_', at most
 * RUNM_VM_ID_MAX), else `<hint>_<digest>`: a readable hint of at most
 * SHIM_VM_ID_HINT characters and SHIM_VM_ID_DIGEST hex digits of SHA-256
 * over the pair. "" when no digest could be made (out of memory). */
#define SHIM_VM_ID_HINT 31
#define SHIM_VM_ID_DIGEST 32
void shim_vm_id(const char *ns, const char *id, char *out, size_t len);
/* The first hex_chars (at most 64) hex digits of SHA-256 over the parts,
 * each with its terminating NUL: the collision-resistant short names of
 * sockets and pool dirs. out holds hex_chars + 1; "" on failure. */
void shim_digest_hex(const char *const *parts, size_t n, char *out, size_t hex_chars);

/* The VM settings every runm VM gets from the shim's config (task.c); the
 * caller adds id, shares and what the task's spec asks for. */
struct runm_vm_config;
void shim_vm_config_base(const struct shim_config *cfg, struct runm_vm_config *vc);

#endif

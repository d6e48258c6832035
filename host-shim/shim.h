/* containerd-shim-runm-v1: one shim per VM; it owns the VM and serves
 * containerd's Task calls for the containers in it, as guest-service
 * calls. */
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
#include "names.h"

struct runm_vm;
struct runm_rpc_server;
struct io_relay;
struct publisher;
struct hooks;
struct fusebind;
struct exports;
struct task_net;

/* One process of a container: its init (exec_id "") or an exec. */
struct shim_process {
  char *exec_id;
  char *stdin_path, *stdout_path, *stderr_path;
  bool terminal;
  uint32_t pid; /* the VM's QEMU (shim.vm_pid), never a guest pid */
  bool started;
  bool exited;
  uint32_t exit_status;
  int64_t exited_at_ns;
  struct io_relay *io;
  unsigned waiters; /* handlers holding it across a wait: Delete frees it only at 0 */
  struct shim_container *c;
  struct shim_process *next;
};

/* One container (containerd task) the shim serves, in the shim's table
 * (container.h). The first one boots the VM; the VM stops with the last. */
struct shim_container {
  struct shim *shim;
  struct shim_container *next;
  /* Fixed at creation. */
  char id[128], bundle[PATH_MAX];
  /* Names the container's export dir and runm-bindfs records (exports.h,
   * fusebind.h): the VM id for the container that booted the VM, the VM
   * id its own (namespace, id) pair would have otherwise, as `delete`
   * computes it. */
  char export_id[80];
  /* A pod member's slot in the leader's export dir (exports_attach), -1
   * when it has none (it booted the VM). */
  int slot;
  uint32_t guest_pid; /* its init's pid in the guest, from Create (the pod's namespaces) */
  /* Guarded by shim.lock. */
  bool created, deleted;
  struct shim_process *procs; /* init first */
  /* Owned by Create and Delete (never two at once: created says). */
  bool rootfs_mounted;
  struct fusebind *fuse;   /* runm-bindfs mounts (bind_mode fuse/auto); NULL in kernel mode */
  struct exports *exports; /* what the VM sees of the host (exports.h), from Create on */
};

struct shim {
  /* Fixed at start: the identity of the task the shim was started for. */
  char ns[128], id[128], bundle[PATH_MAX];
  char containerd_address[PATH_MAX], ttrpc_address[PATH_MAX], publish_binary[PATH_MAX];
  char exe_dir[PATH_MAX];
  char vm_id[80];
  struct shim_config cfg;
  struct runm_logger log;
  struct publisher *pub;

  /* One teardown at a time: a container's Delete (task.c), a failed
   * Create (create.c) and the shim's exit (main.c) each free containers'
   * host resources and processes that another would walk. In a pod two
   * Deletes race when its VM dies (both inits exit at once); taken before
   * lock, never inside it. */
  pthread_mutex_t teardown;
  pthread_mutex_t lock; /* guards everything below */
  pthread_cond_t changed; /* a process exited, or a container went away (CLOCK_MONOTONIC) */
  struct runm_vm *vm;
  /* Guest calls using vm's client now (forward.c): the VM's teardown
   * waits for them to end before it frees the client. */
  unsigned guest_calls;
  /* The VM's host identity while it runs: its QEMU's pid (what containerd
   * and host hooks are given) and a pidfd that signals exactly that
   * process (lifecycle.c), -1 when none. */
  pid_t vm_pid;
  int vm_pidfd;
  struct runm_rpc_server *debug_proxy;
  /* A VM taken from the pool (pool.c): vm and debug_proxy above are
   * pool.vm and pool.proxy; pool.n_binds says what Create bound. */
  bool pooled;
  struct pool_vm pool;
  struct hooks *hooks; /* OCI hooks: the allow-list and the runm.v1.Host server */
  struct task_net *net; /* the VM's namespace mode: namespace and TAP (task_net.h), or NULL */
  struct shim_container *containers; /* the table (container.h), deleted ones kept until exit */
  /* Pods (pod.h): set by the first Create. The group names the shim's
   * socket; a pod's VM takes further containers of its group. */
  char group[128];
  bool pod;
  struct shim_container *leader; /* the container that booted the VM */
  uint32_t slots_used;           /* bit k: pod slot k is attached */
  /* The pod's size as CRI gave it (0: none), and the VM's as booted. */
  unsigned pod_mem_mib;
  double pod_cpus;
  unsigned vm_mem_mib, vm_vcpus;
  bool shutdown_requested;
  /* What the task's stopped VM left running (the libvirt backend's tidy,
   * vm.h): waited for once the Shutdown reply is out, before exit. */
  struct runm_vm_tidy tidy;
};

#endif

/* The shim's VM (task_vm.h). */
#include "task_vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "exports.h"
#include "fusebind.h"
#include "hooks.h"
#include "task_net.h"
#include "pool.h"
#include "rpc.h"
#include "vm.h"

/* A pooled VM was booted before the spec was known: it serves the task
 * when the task needs nothing that is fixed at boot (size, ports, network
 * mode, the hooks' channel). 1 = it does, 0 = boot a fresh one. */
static int use_pooled_vm(struct shim *s, const struct spec_info *si, unsigned mem, unsigned cpus,
                         const struct runm_vm_share *shares, size_t n, runm_error_t *err)
{
  const char *why = NULL;
  if (!pool_vm_fits(&s->pool, mem, cpus)) why = "needs more memory or CPUs";
  else if (si->net != RUNM_NET_USER || si->n_ports > 0 || si->host_loopback)
    why = "asks for its own network or ports";
  else if (s->cfg.bind_mode == SHIM_BIND_FUSE) why = "shares its binds through runm-bindfs";
  else if (s->pod) why = "is a pod's first container (pod slots are made at boot)";
  if (why == NULL) {
    if (pool_vm_prepare(&s->pool, s->vm_id, shares, n, err) == 0) {
      runm_log(&s->log, RUNM_LOG_INFO, "VM %s from the pool (%u MiB, %u vCPU)", s->vm->id,
               s->pool.mem_mib, s->pool.vcpus);
      return 1;
    }
    cleanup_free char *msg = runm_error_string(*err);
    runm_log(&s->log, RUNM_LOG_WARN, "pooled VM unusable (%s): booting a fresh one", msg ? msg : "error");
    runm_error_release(err);
  } else {
    runm_log(&s->log, RUNM_LOG_INFO, "the task %s: booting a fresh VM instead of a pooled one", why);
  }
  task_vm_stop(s);
  /* The hooks' allow-list stays; the fresh VM gets a channel of its own. */
  hooks_unlisten(s->hooks);
  return 0;
}

int task_vm_boot(struct shim *s, struct shim_container *c, const struct spec_info *si, runm_error_t *err)
{
  struct runm_vm_share shares[RUNM_VM_MAX_SHARES], root;
  struct runm_vm_config vc = {0};
  struct runm_vm *vm = NULL;
  size_t n = 0;
  unsigned mem = s->cfg.memory_mib, cpus = s->cfg.vcpus;

  /* Exactly the rootfs and the bind sources, each through the task's
   * export dir (exports.h); in bind mode fuse, volume dirs are runm-bindfs
   * mirrors. Never the bundle. */
  if (exports_mount(c->exports, s->cfg.bind_mode == SHIM_BIND_FUSE ? c->fuse : NULL, &root, shares, &n, err) < 0)
    return -1;
  /* Size the VM to the container's limits, plus room for the guest itself. */
  if (si->memory_limit > 0 && (unsigned)(si->memory_limit >> 20) + 128 > mem)
    mem = (unsigned)(si->memory_limit >> 20) + 128;
  if (si->cpus > cpus) cpus = (unsigned)(si->cpus + 0.999);
  /* A pod's VM: the size CRI gives the whole pod, when it does. */
  if (s->pod && s->pod_mem_mib + 128 > mem) mem = s->pod_mem_mib + 128;
  if (s->pod && s->pod_cpus > cpus) cpus = (unsigned)(s->pod_cpus + 0.999);
  if (cpus > shim_host_cpus()) cpus = shim_host_cpus();
  s->vm_mem_mib = mem;
  s->vm_vcpus = cpus;
  if (s->pooled && s->vm && use_pooled_vm(s, si, mem, cpus, shares, n, err)) {
    s->vm_mem_mib = s->pool.mem_mib;
    s->vm_vcpus = s->pool.vcpus;
    return 0;
  }
  shim_vm_config_base(&s->cfg, &vc);
  vc.id = s->vm_id;
  vc.tidy = &s->tidy;
  vc.mem_mib = mem;
  vc.vcpus = cpus;
  vc.shares = &root;
  vc.n_shares = 1;
  /* The guest-to-host channel: OCI hooks run through it. */
  vc.host_listen = hooks_listen;
  vc.host_opaque = s->hooks;
  vc.net = si->net;
  vc.ports = si->ports;
  vc.n_ports = si->n_ports;
  vc.host_loopback = si->host_loopback;
  /* The pod's other containers are attached to the share later (their
   * exports, exports_attach): QEMU keeps the host's mount namespace to see
   * them, as a pooled VM does (docs/security.md, "Pods"). */
  vc.late_mounts = s->pod;
  /* The namespace mode: QEMU's NIC on a TAP in the task's namespace. */
  if (task_net_prepare(s, si, &vc, err) < 0) return -1;
  if (runm_vm_start(&vc, &s->log, &vm, err) < 0) return -1;
  /* The guest binds each export where the spec expects it. */
  if (exports_guest_bind(vm->client, NULL, GUEST_SHARE_ROOT, shares, n, err) < 0) {
    cleanup_error runm_error_t e2 = NULL;
    runm_vm_stop(vm, 2000, &e2);
    runm_vm_free(vm);
    return -1;
  }

  {
    /* The debug socket is a convenience: the task runs without it. */
    cleanup_error runm_error_t e2 = NULL;
    if (runm_vm_own(vm, "shim", &s->debug_proxy, &e2) < 0) runm_log_error(&s->log, e2, "debug socket");
  }
  runm_log(&s->log, RUNM_LOG_INFO, "VM %s ready in %.3f s (%s, %s, %u MiB, %u vCPU)", vm->id,
           (vm->ready_ns - vm->spawn_ns) / 1e9, runm_accel_name(vm->plan.accel),
           runm_transport_name(vm->plan.transport), mem, cpus);
  for (size_t i = 0; i < si->n_ports; i++) {
    char pf[48];
    runm_port_format(&si->ports[i], pf, sizeof(pf));
    runm_log(&s->log, RUNM_LOG_INFO, "published %s", pf);
  }
  s->vm = vm;
  return 0;
}

void task_vm_stop(struct shim *s)
{
  cleanup_error runm_error_t err = NULL;
  if (s->debug_proxy) {
    runm_rpc_server_free(s->debug_proxy);
    s->debug_proxy = NULL;
  }
  if (s->vm) {
    struct runm_vm *vm;
    /* No new guest call takes the client; the ones in flight end when
     * QEMU does, and the client is freed after the last. */
    pthread_mutex_lock(&s->lock);
    vm = s->vm;
    s->vm = NULL;
    pthread_mutex_unlock(&s->lock);
    if (runm_vm_stop(vm, 2000, &err) < 0) runm_log_error(&s->log, err, "stop VM");
    runm_error_release(&err);
    pthread_mutex_lock(&s->lock);
    while (s->guest_calls > 0) pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    runm_vm_free(vm);
  }
  if (s->pooled) {
    /* QEMU is gone: nothing holds the binds of the task's dirs now. */
    if (pool_vm_release(&s->pool, &err) < 0) runm_log_error(&s->log, err, "pool share");
    s->pool.vm = NULL;
    s->pool.proxy = NULL;
    s->pooled = false;
  }
}

void task_cleanup(struct shim *s)
{
  /* Relays first: they use the VM's client. */
  for (struct shim_container *c = s->containers; c; c = c->next) container_free_procs(c);
  task_vm_stop(s);
  /* QEMU is gone: the namespace mode's poststop hooks (if the guest could
   * not run them), its tc filters, TAP and namespace. */
  task_net_teardown(s);
  /* After the VM: nothing can ask for a hook any more; one still running
   * is killed. */
  hooks_free(s->hooks);
  s->hooks = NULL;
  /* QEMU is gone: what each container bound for it can go. */
  for (struct shim_container *c = s->containers; c; c = c->next) container_release_host(c);
}

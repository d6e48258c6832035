/* What a VM's owner (runmctl's supervisor, the shim) does once the guest
 * answers: keep the one channel connection and serve the API proxy socket
 * that any number of clients share, and record vm.info for runmctl and for
 * cleanup after a crash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"
#include "vm_backend.h"
#include "vm_info.h"

int runm_vm_own(struct runm_vm *vm, const char *owner, struct runm_rpc_server **proxy,
                runm_error_t *err)
{
  /* The proxy's clients are the host's own users of the 0600 socket, not
   * the guest: no call or time limits (attach sessions stay open). */
  struct runm_rpc_server_config pcfg = {.fallback = runm_rpc_proxy_handler,
                                        .opaque = vm->client,
                                        .max_calls = RUNM_RPC_UNLIMITED,
                                        .client_timeout_ms = RUNM_RPC_UNLIMITED};
  struct runm_vm_info info;

  *proxy = runm_rpc_server_new(&pcfg, err);
  if (*proxy == NULL) return -1;
  if (runm_rpc_server_listen_unix(*proxy, vm->plan.api_sock, err) < 0 ||
      runm_rpc_server_start(*proxy, err) < 0)
    goto fail;
  memset(&info, 0, sizeof(info));
  snprintf(info.id, sizeof(info.id), "%s", vm->id);
  info.qemu_pid = vm->pid;
  info.supervisor_pid = getpid();
  snprintf(info.accel, sizeof(info.accel), "%s", runm_accel_name(vm->plan.accel));
  snprintf(info.transport, sizeof(info.transport), "%s", runm_transport_name(vm->plan.transport));
  snprintf(info.socket, sizeof(info.socket), "%s", vm->plan.api_sock);
  snprintf(info.console, sizeof(info.console), "%s", vm->plan.console_log);
  snprintf(info.owner, sizeof(info.owner), "%s", owner);
  snprintf(info.qemu_name, sizeof(info.qemu_name), "%s", vm->qemu_name);
  snprintf(info.backend, sizeof(info.backend), "%s", vm->backend->name);
  runm_vm_libvirt_uri(vm, info.libvirt_uri, sizeof(info.libvirt_uri), info.cgroup, sizeof(info.cgroup));
  info.spawn_ns = vm->spawn_ns;
  info.ready_ns = vm->ready_ns;
  if (runm_vm_info_write(vm->plan.dir, &info, err) < 0) goto fail;
  return 0;
fail:
  runm_rpc_server_free(*proxy);
  *proxy = NULL;
  return runm_error_wrap(err, "VM `%s` API socket", vm->id);
}

/* vm.info: who owns a VM and where its pieces are. */
#ifndef RUNM_VM_INFO_H
#define RUNM_VM_INFO_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct runm_vm_info {
  char id[80];
  pid_t qemu_pid;
  pid_t supervisor_pid; /* the owner process: runmctl's supervisor or the shim */
  char accel[16], transport[16];
  char socket[300], console[300];
  long long spawn_ns, ready_ns;
  char owner[32]; /* "runmctl", "shim" or "pool" */
  char qemu_name[88]; /* QEMU's -name (runm-<id it booted as>); libvirt: the domain */
  char backend[16];   /* "qemu" (also when absent) or "libvirt" */
  char libvirt_uri[300];
  char cgroup[512]; /* libvirt: the domain's cgroup (relative), for cleanup */
};

int runm_vm_info_read(const char *dir, struct runm_vm_info *info, runm_error_t *err);
/* True when info->qemu_pid is alive and is VM `id`'s QEMU (either
 * backend's; guards against a reused pid). */
bool runm_vm_info_is_qemu(const struct runm_vm_info *info, const char *id);
int runm_vm_info_write(const char *dir, const struct runm_vm_info *info, runm_error_t *err);

#endif

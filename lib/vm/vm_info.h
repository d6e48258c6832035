/* vm.info: who owns a VM and where its pieces are. */
#ifndef RUNM_VM_INFO_H
#define RUNM_VM_INFO_H

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
  char qemu_name[88]; /* QEMU's -name (runm-<id it booted as>) */
};

int runm_vm_info_read(const char *dir, struct runm_vm_info *info, runm_error_t *err);
int runm_vm_info_write(const char *dir, const struct runm_vm_info *info, runm_error_t *err);

#endif

/* The shim's VM (task_vm.c): booted (or taken from the pool) by the
 * container that creates it, stopped at teardown. Entry points of the
 * Create/Delete path: task_vm_boot, task_vm_stop, task_cleanup. */
#ifndef SHIM_TASK_VM_H
#define SHIM_TASK_VM_H

#include "error.h"
#include "shim.h"
#include "spec.h"

/* Boots the VM for container c (its exports mounted, so the VM's one share
 * holds them), sized to si, and has the guest bind the exports in place.
 * A pooled VM serves instead when it fits. Sets s->vm. */
int task_vm_boot(struct shim *s, struct shim_container *c, const struct spec_info *si, runm_error_t *err);

/* Stops the VM (and its debug socket; a pooled VM's binds go too). */
void task_vm_stop(struct shim *s);

/* Tears everything down (processes' relays, VM, hooks, every container's
 * host side): at the last Delete, a failed first Create, and exit. */
void task_cleanup(struct shim *s);

#endif

/* The task's network in the namespace mode, as the Task calls use it
 * (task_net.c on top of netns.c): before QEMU starts, after CNI ran, and
 * at teardown. Each is a no-op for a task in user or none mode. */
#ifndef SHIM_TASK_NET_H
#define SHIM_TASK_NET_H

#include <stdbool.h>

#include "error.h"

struct shim;
struct spec_info;
struct runm_vm_config;

/* Before QEMU starts: the namespace and TAP (vc gets their fds), and the
 * hooks' state gets the namespace's path. */
int task_net_prepare(struct shim *s, const struct spec_info *si, struct runm_vm_config *vc, runm_error_t *err);
/* Connects CNI's interface to the VM and configures the guest's NIC.
 * after_create: called after the guest's Create (its createRuntime and
 * prestart hooks, which run CNI, have run) or, false, just before it; it
 * acts at the one of the two that fits the spec (with such hooks: after;
 * a namespace the spec names and no hooks: before). */
int task_net_configure(struct shim *s, bool after_create, runm_error_t *err);
/* After the VM is gone: poststop hooks the guest could not run, then the
 * tc filters, the TAP and a namespace of the shim's go. */
void task_net_teardown(struct shim *s);
/* `shim delete` after the shim died (its QEMU gone): the same from the
 * task's network record, with the spec's poststop hooks from the bundle. */
void task_net_delete(const char *state_dir, const char *vm_id, const char *id, const char *bundle);

#endif

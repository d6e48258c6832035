/* OCI hooks on the host: the shim's runm.v1.Host service. The guest asks
 * (through runm-fork-exec-proxy) to run a hook; the shim runs it only if the
 * task's own spec lists it. See docs/hooks.md. */
#ifndef SHIM_HOOKS_H
#define SHIM_HOOKS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "log.h"

/* Caps on what the guest can make the shim take or hold. */
#define HOOK_MAX_STATE (1024 * 1024)
#define HOOK_MAX_ARGS 4096
#define HOOK_MAX_ARGS_BYTES (1024 * 1024)

/* Which lifecycle call is in flight: a hook runs only while runc could be
 * running it (runc 1.1: prestart, createRuntime, createContainer and
 * poststart during create; poststart from runc 1.2 during start; poststop
 * when a container is destroyed, which a failed create or start also
 * does). startContainer hooks never run on the host (guest_spec.h). */
enum hook_phase { HOOK_PHASE_NONE = 0, HOOK_PHASE_CREATE, HOOK_PHASE_START, HOOK_PHASE_DELETE };

struct hooks;
struct runm_vm_plan;

/* The service, with no hook allowed yet: it lives as long as the VM's
 * channel (a pooled VM's from its boot). `log` must outlive it. */
int hooks_new(const struct runm_logger *log, struct hooks **out, runm_error_t *err);
/* The allow-list, from the task's spec (host_spec is only read), once. `id`
 * and `bundle` are the task's. */
int hooks_load(struct hooks *h, json_object *host_spec, const char *id, const char *bundle,
               runm_error_t *err);
/* A runm_vm_config.host_listen: serves runm.v1.Host on plan->host_sock
 * (and relays the host vsock port to it on vsock hosts). */
int hooks_listen(void *opaque, const struct runm_vm_plan *plan, runm_error_t *err);
/* Stops serving the channel of a VM that is gone (a pooled VM the task did
 * not fit); the allow-list stays for hooks_listen on the next VM. */
void hooks_unlisten(struct hooks *h);
void hooks_set_phase(struct hooks *h, enum hook_phase phase);
/* The pid hooks get in their state: the task's QEMU, a host process of
 * this task (the guest's own pid never reaches host hooks); 0 = none. */
void hooks_set_pid(struct hooks *h, pid_t pid);
/* The namespace mode: the state's annotation nerdctl/network-namespace
 * (the task's host network namespace); NULL = none. */
void hooks_set_netns(struct hooks *h, const char *path);
/* The VM id under which each hook's run is marked in the shim's timing
 * records (hook.KIND.begin/end, timing.h): what a hook costs a start. */
void hooks_set_timing_id(struct hooks *h, const char *vm_id);
/* The poststop hooks runc in the guest did not run (its VM is gone, or
 * the shim skipped its `runc delete`: task.c), run by the host with status "stopped" and the pid set (0 = none): always
 * with `force`, else only if a prestart or createRuntime hook ran (the
 * network CNI set up must be torn down). Failures are logged, as runc
 * does for poststop. Returns how many ran. */
int hooks_run_poststop(struct hooks *h, bool force);
/* Whether the spec lists prestart or createRuntime hooks (those that set
 * up a network namespace: nerdctl's CNI hook). */
bool hooks_network_kinds(struct hooks *h);
/* The VM's state dir, where each running hook's process group is recorded
 * (hook-<pgid>) for hooks_kill_orphans. hooks_listen sets it from the plan;
 * a VM renamed afterwards (a pooled one) must say so here. */
void hooks_set_state_dir(struct hooks *h, const char *dir);
/* `shim delete`, after the shim died: kills the process groups of the hooks
 * it was running (as recorded in the VM's state dir). Returns how many. */
int hooks_kill_orphans(const char *vm_dir);
/* Hooks the spec lists, all kinds. */
size_t hooks_count(const struct hooks *h);
/* Stops serving: calls in flight are cancelled and their hooks' process
 * groups killed and reaped before it returns. NULL is a no-op. */
void hooks_free(struct hooks *h);

#endif

/* Task.Create (create.h). The first container of a shim boots the VM from
 * its spec; when that spec makes it a pod's (pod.h), the VM keeps room for
 * the pod's other containers, and each of those joins it: its exports are
 * attached under a pod slot of the first container's share, the guest binds
 * them in place (a shares-only Prepare), and its spec's namespace paths
 * become the sandbox's in the guest. */
#include "create.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "exports.h"
#include "forward.h"
#include "fusebind.h"
#include "guest_spec.h"
#include "hooks.h"
#include "task_net.h"
#include "lifecycle.h"
#include "pb.h"
#include "pod.h"
#include "publish.h"
#include "resolv.h"
#include "rlimits.h"
#include "rootfs.h"
#include "runm/v1/guest.pb-c.h"
#include "spec.h"
#include "stdio_relay.h"
#include "task_net.h"
#include "task_vm.h"
#include "timing.h"
#include "vm.h"
#include "xalloc.h"

typedef Containerd__Task__V2__CreateTaskRequest CreateReq;

/* Room the guest itself needs next to a container's memory limit. */
#define GUEST_RESERVE_MIB 128

int task_start_io(struct shim *s, struct shim_process *p, runm_error_t *err)
{
  struct io_config ic = {
      .ns = s->ns,
      .id = p->c->id,
      .exec_id = p->exec_id,
      .stdin_path = p->stdin_path,
      .stdout_path = p->stdout_path,
      .stderr_path = p->stderr_path,
      .terminal = p->terminal,
      .on_exit = proc_exited,
      .opaque = p,
      .log = &s->log,
  };
  p->io = io_relay_start(s->vm->client, &ic, err);
  return p->io ? 0 : -1;
}

/* The runm-bindfs context for Create, unless binds are the kernel's only. */
static int fuse_prepare(struct shim *s, struct shim_container *c, runm_error_t *err)
{
  if (s->cfg.bind_mode == SHIM_BIND_KERNEL || c->fuse) return 0;
  c->fuse = malloc(sizeof(*c->fuse));
  if (c->fuse == NULL) return runm_make_error(err, ENOMEM, "runm-bindfs context");
  return fusebind_init(c->fuse, s->cfg.state_dir, c->export_id, s->exe_dir, &s->log, err);
}

/* A pod member: of this pod, without hooks, in the pod's namespaces, and
 * small enough for the pod's VM. */
static int member_check(struct shim *s, struct shim_container *c, json_object *spec, const struct pod_info *pod,
                        const struct spec_info *si, runm_error_t *err)
{
  if (strcmp(pod->group, s->group) != 0)
    return runm_make_error(err, EINVAL, "container `%s` belongs to pod `%s`; this shim serves pod `%s`", c->id,
                           pod->group, s->group);
  if (pod_spec_has_hooks(spec))
    return runm_make_error(err, EINVAL,
                           "container `%s` lists OCI hooks: in a runm pod only the first container's hooks run", c->id);
  if (si->memory_limit > 0 && (uint64_t)(si->memory_limit >> 20) + GUEST_RESERVE_MIB > s->vm_mem_mib)
    return runm_make_error(err, ENOSPC,
                           "container `%s` does not fit in pod `%s`: its memory limit is %lld MiB and the pod's VM "
                           "has %u MiB (%d MiB of them the guest's); give the pod more memory "
                           "(io.kubernetes.cri.sandbox-memory, from the pod's limits) or runm's memory_mib",
                           c->id, s->group, (long long)(si->memory_limit >> 20), s->vm_mem_mib, GUEST_RESERVE_MIB);
  if (si->cpus > (double)s->vm_vcpus + 1e-9)
    return runm_make_error(err, ENOSPC,
                           "container `%s` does not fit in pod `%s`: it asks for %.2f CPUs and the pod's VM has %u",
                           c->id, s->group, si->cpus, s->vm_vcpus);
  return pod_rewrite_namespaces(spec, s->vm_pid, (int)s->leader->guest_pid, err);
}

/* From the one parse of c's config.json: what sizes the VM (si), the pod
 * (s->group and the rest, for the first container), the hooks' allow-list
 * (the first container's), c's export plan and the guest copy of the
 * spec. */
static int prepare_spec(struct shim *s, struct shim_container *c, bool member, struct spec_info *si,
                        struct guest_spec *gs, runm_error_t *err)
{
  json_object *spec = NULL;
  struct pod_info pod;
  int ret;
  if (spec_json_load(c->bundle, &spec, err) < 0) return -1;
  ret = spec_parse(spec, c->bundle, si, err);
  if (ret == 0) ret = pod_info_read(spec, c->id, &pod, err);
  if (ret == 0 && member) ret = member_check(s, c, spec, &pod, si, err);
  if (ret == 0 && !member) {
    snprintf(s->group, sizeof(s->group), "%s", pod.group);
    s->pod = pod.grouped || pod.sandbox;
    s->pod_mem_mib = (unsigned)(pod.memory_bytes >> 20);
    s->pod_cpus = pod.cpus;
    /* A pooled VM's shim made the hooks' channel when it booted the VM. */
    if (s->hooks == NULL) ret = hooks_new(&s->log, &s->hooks, err);
    if (ret == 0) ret = hooks_load(s->hooks, spec, c->id, c->bundle, err);
    if (ret == 0) hooks_set_timing_id(s->hooks, s->vm_id);
  }
  /* On the parsed copy only: the bundle's config.json is never written.
   * The container's export dir: its resolv.conf under user networking
   * (docs/networking.md) is written there, and the spec's root and bind
   * sources become the guest paths of their exports. */
  if (ret == 0 && c->exports == NULL && (c->exports = calloc(1, sizeof(*c->exports))) == NULL)
    ret = runm_make_error(err, ENOMEM, "exports");
  if (ret == 0) ret = exports_init(c->exports, s->cfg.state_dir, c->export_id, err);
  if (ret == 0 && member) snprintf(c->exports->guest_dir, sizeof(c->exports->guest_dir), "%s/p%d", GUEST_EXPORTS_DIR, c->slot);
  if (ret == 0 && !member && s->pod) c->exports->pod_slots = EXPORTS_POD_SLOTS;
  if (ret == 0) ret = resolv_apply(spec, c->exports->dir, err);
  if (ret == 0) ret = exports_plan(c->exports, spec, c->bundle, err);
  if (ret == 0) ret = guest_spec_build(spec, c->bundle, gs, err);
  json_object_put(spec);
  if (ret < 0) spec_free(si);
  return ret;
}

/* A member's exports, attached under its pod slot and bound by the guest. */
static int member_share(struct shim *s, struct shim_container *c, runm_error_t *err)
{
  struct runm_vm_share shares[RUNM_VM_MAX_SHARES], root;
  size_t n = 0;
  char groot[64];

  if (exports_mount(c->exports, s->cfg.bind_mode == SHIM_BIND_FUSE ? c->fuse : NULL, &root, shares, &n, err) < 0 ||
      exports_attach(s->leader->exports, (unsigned)c->slot, c->exports, err) < 0)
    return -1;
  exports_slot_guest_root((unsigned)c->slot, groot, sizeof(groot));
  return exports_guest_bind(s->vm->client, NULL, groot, shares, n, err);
}

/* Which container c is to the shim: the first (it boots the VM) or a pod
 * member (it joins it; its slot taken). Anything else is refused. */
static struct shim_container *create_entry(struct shim *s, const CreateReq *r, bool *member, runm_error_t *err)
{
  struct shim_container *c;
  unsigned live;
  int slot = -1;

  pthread_mutex_lock(&s->lock);
  live = container_count_locked(s);
  *member = s->pod && s->vm && s->leader;
  if (*member) {
    for (int k = 0; k < EXPORTS_POD_SLOTS && slot < 0; k++)
      if (!(s->slots_used & (1u << k))) slot = k;
    if (slot >= 0) s->slots_used |= 1u << slot;
  }
  pthread_mutex_unlock(&s->lock);
  if (*member && slot < 0)
    return runm_make_error(err, ENOSPC, "pod `%s` already runs %d containers besides its first: no room for `%s`",
                           s->group, EXPORTS_POD_SLOTS, r->id ? r->id : ""),
           NULL;
  if (!*member) {
    /* One container per shim (the one it was started for), but in a pod. */
    if (r->id == NULL || strcmp(r->id, s->id) != 0)
      return runm_make_error(err, ENOENT, "task `%s` not found in this shim (it serves `%s`)", r->id ? r->id : "",
                             s->id),
             NULL;
    if (live > 0) return runm_make_error(err, EEXIST, "task `%s` already exists", s->id), NULL;
  }
  /* A member's bundle is its own; the first's is where the shim runs. */
  c = container_add(s, r->id, *member ? r->bundle : s->bundle, err);
  if (c == NULL) {
    pthread_mutex_lock(&s->lock);
    if (slot >= 0) s->slots_used &= ~(1u << slot);
    pthread_mutex_unlock(&s->lock);
    return NULL;
  }
  c->slot = slot;
  if (*member) shim_vm_id(s->ns, c->id, c->export_id, sizeof(c->export_id));
  else snprintf(c->export_id, sizeof(c->export_id), "%s", s->vm_id);
  if (c->export_id[0] == '\0') {
    runm_make_error(err, ENOMEM, "no export name for `%s`", c->id);
    pthread_mutex_lock(&s->lock);
    c->deleted = true;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&s->teardown);
    container_release_host(c);
    pthread_mutex_unlock(&s->teardown);
    return NULL;
  }
  return c;
}

/* Create's failure after c entered the table: c is gone for containerd
 * (deleted, kept until exit like every deleted record); with it the VM it
 * would have booted, or (a member) only what it took. */
static void create_failed(struct shim *s, struct shim_container *c, bool member)
{
  pthread_mutex_lock(&s->teardown);
  pthread_mutex_lock(&s->lock);
  c->deleted = true;
  pthread_mutex_unlock(&s->lock);
  if (member) container_release_host(c);
  else {
    task_vm_pid_forget(s);
    task_cleanup(s);
  }
  pthread_mutex_unlock(&s->teardown);
}

static void publish_create(struct shim *s, struct shim_container *c, struct shim_process *p, const CreateReq *r)
{
  Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
  Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
  tio.stdin = p->stdin_path;
  tio.stdout = p->stdout_path;
  tio.stderr = p->stderr_path;
  tio.terminal = p->terminal;
  ev.container_id = c->id;
  ev.bundle = c->bundle;
  ev.n_rootfs = r->n_rootfs;
  ev.rootfs = r->rootfs;
  ev.io = &tio;
  ev.pid = p->pid;
  publisher_publish(s->pub, "/tasks/create", &ev.base);
}

int t_create(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err)
{
  const CreateReq *r = (const CreateReq *)rq;
  struct spec_info si;
  struct shim_container *c;
  struct shim_process *p = NULL;
  Runm__V1__CreateRequest gr = RUNM__V1__CREATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__CreateTaskResponse *out;
  struct rootfs_mount mounts[8];
  size_t nm = r->n_rootfs;
  struct guest_spec gs = {0};
  struct shim_rlimits rl;
  bool member;

  if (r->checkpoint && r->checkpoint[0])
    return runm_make_error(err, ENOSYS, "restoring from a checkpoint is not supported by runm");
  if (nm > sizeof(mounts) / sizeof(mounts[0]))
    return runm_make_error(err, E2BIG, "%zu rootfs mounts; runm takes at most 8", nm);
  c = create_entry(s, r, &member, err);
  if (c == NULL) return -1;

  if (!member) shim_timing_mark(s->vm_id, "create.begin", 0);
  if (prepare_spec(s, c, member, &si, &gs, err) < 0) goto fail;
  for (size_t i = 0; i < nm; i++)
    mounts[i] = (struct rootfs_mount){r->rootfs[i]->type, r->rootfs[i]->source,
                                      (const char *const *)r->rootfs[i]->options, r->rootfs[i]->n_options};
  if (fuse_prepare(s, c, err) < 0 || rootfs_mount(c->bundle, mounts, nm, s->cfg.bind_mode, c->fuse, err) < 0) {
    spec_free(&si);
    goto fail;
  }
  c->rootfs_mounted = nm > 0;
  if (member) {
    spec_free(&si);
    if (member_share(s, c, err) < 0) goto fail;
  } else {
    shim_timing_mark(s->vm_id, "rootfs.mounted", 0);
    if (task_vm_boot(s, c, &si, err) < 0) {
      spec_free(&si);
      goto fail;
    }
    spec_free(&si);
    /* From here the VM's host identity is its QEMU: what containerd and
     * host hooks get as the pid of every container in it (the guest's
     * choice never reaches them). */
    task_vm_pid_set(s);
    hooks_set_pid(s->hooks, s->vm_pid);
    shim_timing_mark(s->vm_id, "vm.spawn", s->vm->spawn_ns);
    shim_timing_mark(s->vm_id, "vm.ready", s->vm->ready_ns);
    shim_timing_mark(s->vm_id, "vm.owned", 0);
  }

  gr.id = c->id;
  gr.bundle = c->bundle;
  gr.terminal = r->terminal;
  gr.stdin = r->stdin && r->stdin[0];
  gr.config_json.data = (uint8_t *)gs.json;
  gr.config_json.len = gs.len;
  shim_rlimits_get(&rl);
  gr.n_rlimits = rl.n;
  gr.rlimits = rl.ptrs;
  /* runc runs the create-time hooks (and poststop, if it fails) now. */
  if (!member) hooks_set_phase(s->hooks, HOOK_PHASE_CREATE);
  /* The namespace mode: CNI's interface reaches the guest before runc
   * starts the container (a spec-named namespace: before Create; after
   * it when Create's hooks run CNI). The VM's network is its first
   * container's: a pod member has it already. */
  if (!member && task_net_configure(s, false, err) < 0) goto fail;
  if (guest_call(s, "Create", &gr.base, &gresp, -1, err) < 0) goto fail;
  guest_spec_free(&gs);
  if (!member) shim_timing_mark(s->vm_id, "guest.created", 0);
  p = proc_new(c, "", r->stdin, r->stdout, r->stderr, r->terminal);
  p->pid = (uint32_t)s->vm_pid;
  c->guest_pid = ((Runm__V1__CreateResponse *)gresp)->pid;
  runm_log(&s->log, RUNM_LOG_DEBUG, "%s: init created (guest pid %u; containerd sees QEMU's, %u)", c->id,
           c->guest_pid, p->pid);
  runm_pb_free(gresp);
  gresp = NULL;
  if ((!member && task_net_configure(s, true, err) < 0) || task_start_io(s, p, err) < 0) goto fail_guest;
  pthread_mutex_lock(&s->lock);
  p->next = c->procs;
  c->procs = p;
  if (!member) s->leader = c;
  publish_create(s, c, p, r);
  pthread_mutex_unlock(&s->lock);
  if (!member) {
    shim_timing_mark(s->vm_id, "create.end", 0);
    hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
  } else {
    runm_log(&s->log, RUNM_LOG_INFO, "container %s joined pod %s (slot %d)", c->id, s->group, c->slot);
  }
  out = (void *)runm_pb_new(&containerd__task__v2__create_task_response__descriptor);
  out->pid = p->pid;
  *resp = &out->base;
  return 0;

fail_guest : {
  Runm__V1__DeleteRequest dr = RUNM__V1__DELETE_REQUEST__INIT;
  ProtobufCMessage *dresp = NULL;
  cleanup_error runm_error_t e2 = NULL;
  dr.id = c->id;
  dr.force = true;
  /* Best effort, bounded: the VM is stopped right after anyway, or (a
   * member) the pod's VM goes on without it. */
  guest_call(s, "Delete", &dr.base, &dresp, LIFE_GUEST_CONTROL_MS, &e2);
  runm_pb_free(dresp);
  proc_free(p);
}
fail:
  runm_pb_free(gresp);
  guest_spec_free(&gs);
  create_failed(s, c, member);
  return -1;
}

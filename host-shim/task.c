/* containerd's Task service on top of the guest service: each method maps
 * onto one or two runm.v1 calls; events follow in containerd's order. */
#include "task.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "containerd/cgroups/v2/metrics.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "publish.h"
#include "exports.h"
#include "fusebind.h"
#include "guest_spec.h"
#include "resolv.h"
#include "rlimits.h"
#include "hooks.h"
#include "stdio_relay.h"
#include "lifecycle.h"
#include "rootfs.h"
#include "pb.h"
#include "rpc.h"
#include "xalloc.h"
#include "runm/v1/guest.pb-c.h"
#include "spec.h"
#include "timing.h"
#include "ttrpc.h"
#include "vm.h"
#include "vm_info.h"

#define VERSION "runm 0.1.0"
/* A guest call waits for containerd's deadline when its request has one,
 * at most this long, and this long when it has none. */
#define GUEST_TIMEOUT_MS 120000

typedef Containerd__Task__V2__CreateTaskRequest CreateReq;

static struct shim_process *find_proc(struct shim *s, const char *exec_id)
{
  const char *e = exec_id ? exec_id : "";
  for (struct shim_process *p = s->procs; p; p = p->next)
    if (strcmp(p->exec_id, e) == 0) return p;
  return NULL;
}

static int check_id(struct shim *s, const char *id, runm_error_t *err)
{
  if (id == NULL || strcmp(id, s->id) != 0)
    return runm_make_error(err, ENOENT, "task `%s` not found in this shim (it serves `%s`)",
                           id ? id : "", s->id);
  return 0;
}

/* runc-v2's words for a failed runtime call (containerd's pkg/process). */
static const char *oci_failure(const char *method, const ProtobufCMessage *req)
{
  static const char *const words[][2] = {
      {"Create", "OCI runtime create failed"}, {"Pause", "OCI runtime pause failed"},
      {"Resume", "OCI runtime resume failed"}, {"Update", "OCI runtime update failed"},
      {"Delete", "failed to delete task"},
  };
  if (strcmp(method, "Start") == 0) {
    const char *e = ((const Runm__V1__StartRequest *)req)->exec_id;
    return e && e[0] ? "OCI runtime exec failed" : "OCI runtime start failed";
  }
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if (strcmp(method, words[i][0]) == 0) return words[i][1];
  return NULL;
}

/* A guest call's error as containerd gets it, shaped like runc-v2's: the
 * guest's text (escaped by the rpc layer) after runc-v2's words, the RPC
 * path only in the debug log. runc's failures (the guest's INVALID_ARGUMENT
 * or INTERNAL) go out as Unknown, as runc-v2's do, except a missing file
 * (NotFound); the guest's other codes (NotFound for a process gone, ...)
 * stay. */
static int guest_error(struct shim *s, const char *method, const ProtobufCMessage *req,
                       runm_error_t *err)
{
  char full[96];
  const char *det, *words = oci_failure(method, req);
  static const char enoent[] = "no such file or directory";
  size_t dl;
  int status;
  bool runtime = false; /* runc failed: runc-v2 puts its words first */

  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", method);
  det = runm_rpc_error_details(*err, full);
  if (det == NULL) return -1; /* not the guest's answer: keep it as it is */
  runm_log(&s->log, RUNM_LOG_DEBUG, "%s", (*err)->msg);
  dl = strlen(det);
  status = (*err)->status;
  /* The guest rendered its errno after its text (": Invalid argument"):
   * the code says it, runc-v2 does not write it. */
  if (status > 0) {
    const char *e = strerror(status);
    size_t el = strlen(e);
    if (dl >= el + 2 && strcmp(det + dl - el, e) == 0 && strncmp(det + dl - el - 2, ": ", 2) == 0)
      dl -= el + 2;
  }
  if (status == EINVAL || status == EIO) {
    runtime = true;
    status = 0;
  }
  if (dl >= strlen(enoent) && strncasecmp(det + dl - strlen(enoent), enoent, strlen(enoent)) == 0)
    status = ENOENT;
  {
    cleanup_free char *text = strndup(det, dl);
    if (text == NULL) return -1;
    if (words && runtime) return runm_make_error(err, status, "%s: %s", words, text);
    return runm_make_error(err, status, "%s", text);
  }
}

/* The guest call, with the shim lock NOT held (calls can take a second):
 * bounded by max_ms and by containerd's deadline for the request. */
static int guest_within(struct shim *s, const char *method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp, int64_t max_ms,
                        runm_error_t *err)
{
  char full[96];
  struct runm_rpc_client *cl;
  int64_t ms = runm_ttrpc_current_timeout_ms();
  pthread_mutex_lock(&s->lock);
  cl = s->vm ? s->vm->client : NULL;
  pthread_mutex_unlock(&s->lock);
  if (cl == NULL) return runm_make_error(err, ENOENT, "task `%s` has no VM", s->id);
  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", method);
  if (ms == 0) return runm_make_error(err, ETIMEDOUT, "%s: containerd's deadline has passed", full);
  if (ms < 0 || ms > max_ms) ms = max_ms;
  if (runm_rpc_client_unary(cl, full, req, rd, resp, ms, false, err) == 0) return 0;
  return guest_error(s, method, req, err);
}

static int guest(struct shim *s, const char *method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp, runm_error_t *err)
{
  return guest_within(s, method, req, rd, resp, GUEST_TIMEOUT_MS, err);
}

static void proc_free(struct shim_process *p)
{
  if (p == NULL) return;
  io_relay_free(p->io);
  free(p->exec_id);
  free(p->stdin_path);
  free(p->stdout_path);
  free(p->stderr_path);
  free(p);
}

static int start_io(struct shim *s, struct shim_process *p, runm_error_t *err)
{
  struct io_config ic = {
      .ns = s->ns,
      .id = s->id,
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

static unsigned host_cpus(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

void shim_vm_config_base(const struct shim_config *cfg, struct runm_vm_config *vc)
{
  vc->state_root = cfg->state_dir;
  vc->kernel = cfg->kernel;
  vc->initrd = cfg->initrd;
  vc->mbin = cfg->mbin;
  vc->accel = cfg->accel;
  vc->transport = cfg->transport;
  vc->backend = cfg->vm_backend;
  vc->libvirt_uri = cfg->libvirt_uri;
  vc->mem_mib = cfg->memory_mib;
  vc->vcpus = cfg->vcpus > host_cpus() ? host_cpus() : cfg->vcpus;
  vc->boot_timeout_ms = (int64_t)cfg->boot_timeout_s * 1000;
  vc->debug = cfg->debug;
}

static void stop_vm(struct shim *s);

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
  stop_vm(s);
  /* The hooks' allow-list stays; the fresh VM gets a channel of its own. */
  hooks_unlisten(s->hooks);
  return 0;
}

static int boot_vm(struct shim *s, const struct spec_info *si, runm_error_t *err)
{
  struct runm_vm_share shares[RUNM_VM_MAX_SHARES], root;
  struct runm_vm_config vc = {0};
  struct runm_vm *vm = NULL;
  size_t n = 0;
  unsigned mem = s->cfg.memory_mib, cpus = s->cfg.vcpus;

  /* Exactly the rootfs and the bind sources, each through the task's
   * export dir (exports.h); in bind mode fuse, volume dirs are runm-bindfs
   * mirrors. Never the bundle. */
  if (exports_mount(s->exports, s->cfg.bind_mode == SHIM_BIND_FUSE ? s->fuse : NULL, &root, shares, &n, err) < 0)
    return -1;
  /* Size the VM to the container's limits, plus room for the guest itself. */
  if (si->memory_limit > 0 && (unsigned)(si->memory_limit >> 20) + 128 > mem)
    mem = (unsigned)(si->memory_limit >> 20) + 128;
  if (si->cpus > cpus) cpus = (unsigned)(si->cpus + 0.999);
  if (cpus > host_cpus()) cpus = host_cpus();
  if (s->pooled && s->vm && use_pooled_vm(s, si, mem, cpus, shares, n, err)) return 0;
  shim_vm_config_base(&s->cfg, &vc);
  vc.id = s->vm_id;
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

static void stop_vm(struct shim *s)
{
  cleanup_error runm_error_t err = NULL;
  if (s->debug_proxy) {
    runm_rpc_server_free(s->debug_proxy);
    s->debug_proxy = NULL;
  }
  if (s->vm) {
    if (runm_vm_stop(s->vm, 2000, &err) < 0) runm_log_error(&s->log, err, "stop VM");
    runm_error_release(&err);
    runm_vm_free(s->vm);
    s->vm = NULL;
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
  cleanup_error runm_error_t err = NULL;
  struct shim_process *p, *next;
  /* Relays first: they use the VM's client. */
  pthread_mutex_lock(&s->lock);
  p = s->procs;
  s->procs = NULL;
  pthread_mutex_unlock(&s->lock);
  for (; p; p = next) {
    next = p->next;
    proc_free(p);
  }
  stop_vm(s);
  /* After the VM: nothing can ask for a hook any more; one still running
   * is killed. */
  hooks_free(s->hooks);
  s->hooks = NULL;
  /* QEMU is gone: the export dir's binds go before what they bind. */
  if (s->exports) {
    if (exports_remove(s->cfg.state_dir, s->vm_id, &err) < 0) runm_log_error(&s->log, err, "exports");
    runm_error_release(&err);
    exports_free(s->exports);
    free(s->exports);
    s->exports = NULL;
  }
  if (s->rootfs_mounted && rootfs_unmount(s->bundle, &err) < 0) runm_log_error(&s->log, err, "rootfs");
  s->rootfs_mounted = false;
  runm_error_release(&err);
  /* QEMU is gone: the runm-bindfs mounts (rootfs, volumes) can go. */
  if (s->fuse && fusebind_cleanup(s->cfg.state_dir, s->vm_id, &s->log, &err) < 0)
    runm_log_error(&s->log, err, "runm-bindfs");
  free(s->fuse);
  s->fuse = NULL;
}

/* The runm-bindfs context for Create, unless binds are the kernel's only. */
static int fuse_prepare(struct shim *s, runm_error_t *err)
{
  if (s->cfg.bind_mode == SHIM_BIND_KERNEL || s->fuse) return 0;
  s->fuse = malloc(sizeof(*s->fuse));
  if (s->fuse == NULL) return runm_make_error(err, ENOMEM, "runm-bindfs context");
  return fusebind_init(s->fuse, s->cfg.state_dir, s->vm_id, s->exe_dir, &s->log, err);
}

/* One parse of config.json gives the hooks' allow-list (s->hooks) and the
 * guest copy of the spec. */
static int prepare_spec(struct shim *s, struct guest_spec *gs, runm_error_t *err)
{
  json_object *spec = NULL;
  int ret;
  if (spec_json_load(s->bundle, &spec, err) < 0) return -1;
  /* A pooled VM's shim made it when it booted the VM. */
  ret = s->hooks ? 0 : hooks_new(&s->log, &s->hooks, err);
  if (ret == 0) ret = hooks_load(s->hooks, spec, s->id, s->bundle, err);
  /* On the parsed copy only: the bundle's config.json is never written.
   * The task's export dir: the container's resolv.conf under user
   * networking (docs/networking.md) is written there, and the spec's root
   * and bind sources become the guest paths of their exports. */
  if (ret == 0 && s->exports == NULL && (s->exports = calloc(1, sizeof(*s->exports))) == NULL)
    ret = runm_make_error(err, ENOMEM, "exports");
  if (ret == 0) ret = exports_init(s->exports, s->cfg.state_dir, s->vm_id, err);
  if (ret == 0) ret = resolv_apply(spec, s->exports->dir, err);
  if (ret == 0) ret = exports_plan(s->exports, spec, s->bundle, err);
  if (ret == 0) ret = guest_spec_build(spec, s->bundle, gs, err);
  json_object_put(spec);
  return ret;
}

static int t_create(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const CreateReq *r = (const CreateReq *)rq;
  struct spec_info si;
  struct shim_process *p = NULL;
  Runm__V1__CreateRequest gr = RUNM__V1__CREATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__CreateTaskResponse *out;
  struct rootfs_mount mounts[8];
  size_t nm = r->n_rootfs;
  struct guest_spec gs = {0};
  struct shim_rlimits rl;

  if (check_id(s, r->id, err) < 0) return -1;
  if (r->checkpoint && r->checkpoint[0])
    return runm_make_error(err, ENOSYS, "restoring from a checkpoint is not supported by runm");
  if (nm > sizeof(mounts) / sizeof(mounts[0]))
    return runm_make_error(err, E2BIG, "%zu rootfs mounts; runm takes at most 8", nm);
  pthread_mutex_lock(&s->lock);
  if (s->created) {
    pthread_mutex_unlock(&s->lock);
    return runm_make_error(err, EEXIST, "task `%s` already exists", s->id);
  }
  s->created = true;
  pthread_mutex_unlock(&s->lock);

  shim_timing_mark(s->vm_id, "create.begin", 0);
  if (spec_read(s->bundle, &si, err) < 0) goto fail;
  if (prepare_spec(s, &gs, err) < 0) {
    spec_free(&si);
    goto fail;
  }
  for (size_t i = 0; i < nm; i++)
    mounts[i] = (struct rootfs_mount){r->rootfs[i]->type, r->rootfs[i]->source,
                                      (const char *const *)r->rootfs[i]->options,
                                      r->rootfs[i]->n_options};
  if (fuse_prepare(s, err) < 0 || rootfs_mount(s->bundle, mounts, nm, s->cfg.bind_mode, s->fuse, err) < 0) {
    spec_free(&si);
    goto fail;
  }
  s->rootfs_mounted = nm > 0;
  shim_timing_mark(s->vm_id, "rootfs.mounted", 0);
  if (boot_vm(s, &si, err) < 0) {
    spec_free(&si);
    goto fail;
  }
  spec_free(&si);
  /* From here the task's host identity is its QEMU: what containerd and
   * host hooks get as the pid (the guest's choice never reaches them). */
  task_vm_pid_set(s);
  hooks_set_pid(s->hooks, s->vm_pid);
  shim_timing_mark(s->vm_id, "vm.spawn", s->vm->spawn_ns);
  shim_timing_mark(s->vm_id, "vm.ready", s->vm->ready_ns);
  shim_timing_mark(s->vm_id, "vm.owned", 0);

  gr.id = s->id;
  gr.bundle = s->bundle;
  gr.terminal = r->terminal;
  gr.stdin = r->stdin && r->stdin[0];
  gr.config_json.data = (uint8_t *)gs.json;
  gr.config_json.len = gs.len;
  shim_rlimits_get(&rl);
  gr.n_rlimits = rl.n;
  gr.rlimits = rl.ptrs;
  /* runc runs the create-time hooks (and poststop, if it fails) now. */
  hooks_set_phase(s->hooks, HOOK_PHASE_CREATE);
  if (guest(s, "Create", &gr.base, &runm__v1__create_response__descriptor, &gresp, err) < 0) goto fail;
  guest_spec_free(&gs);
  shim_timing_mark(s->vm_id, "guest.created", 0);
  p = runm_xcalloc(1, sizeof(*p));
  p->shim = s;
  p->exec_id = runm_xstrdup("");
  p->stdin_path = runm_xstrdup(r->stdin);
  p->stdout_path = runm_xstrdup(r->stdout);
  p->stderr_path = runm_xstrdup(r->stderr);
  p->terminal = r->terminal;
  p->pid = (uint32_t)s->vm_pid;
  runm_log(&s->log, RUNM_LOG_DEBUG, "init created (guest pid %u; containerd sees QEMU's, %u)",
           ((Runm__V1__CreateResponse *)gresp)->pid, p->pid);
  runm_pb_free(gresp);
  gresp = NULL;
  if (start_io(s, p, err) < 0) goto fail_guest;
  pthread_mutex_lock(&s->lock);
  p->next = s->procs;
  s->procs = p;
  {
    Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
    Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
    tio.stdin = p->stdin_path;
    tio.stdout = p->stdout_path;
    tio.stderr = p->stderr_path;
    tio.terminal = p->terminal;
    ev.container_id = s->id;
    ev.bundle = s->bundle;
    ev.n_rootfs = r->n_rootfs;
    ev.rootfs = r->rootfs;
    ev.io = &tio;
    ev.pid = p->pid;
    publisher_publish(s->pub, "/tasks/create", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  shim_timing_mark(s->vm_id, "create.end", 0);
  hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
  out = (void *)runm_pb_new(&containerd__task__v2__create_task_response__descriptor);
  out->pid = p->pid;
  *resp = &out->base;
  return 0;

fail_guest : {
  Runm__V1__DeleteRequest dr = RUNM__V1__DELETE_REQUEST__INIT;
  ProtobufCMessage *dresp = NULL;
  cleanup_error runm_error_t e2 = NULL;
  dr.id = s->id;
  dr.force = true;
  /* Best effort, bounded: the VM is stopped right after anyway. */
  guest_within(s, "Delete", &dr.base, &runm__v1__delete_response__descriptor, &dresp,
                  LIFE_GUEST_CONTROL_MS, &e2);
  runm_pb_free(dresp);
  proc_free(p);
}
fail:
  runm_pb_free(gresp);
  guest_spec_free(&gs);
  task_vm_pid_forget(s);
  task_cleanup(s);
  pthread_mutex_lock(&s->lock);
  s->created = false;
  pthread_mutex_unlock(&s->lock);
  return -1;
}

static int t_start(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StartRequest *r = (const void *)rq;
  Runm__V1__StartRequest gr = RUNM__V1__START_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StartResponse *out;
  struct shim_process *p;
  uint32_t pid;

  if (check_id(s, r->id, err) < 0) return -1;
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  if (p->exec_id[0] == '\0') shim_timing_mark(s->vm_id, "start.begin", 0);
  /* runc runs startContainer hooks (and poststop, if it fails) now. */
  if (p->exec_id[0] == '\0') hooks_set_phase(s->hooks, HOOK_PHASE_START);
  {
    int gret = guest(s, "Start", &gr.base, &runm__v1__start_response__descriptor, &gresp, err);
    if (p->exec_id[0] == '\0') hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
    if (gret < 0) return -1;
  }
  if (p->exec_id[0] == '\0') shim_timing_mark(s->vm_id, "start.end", 0);
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  /* Execs too: as Kata does, every process of the task is its VMM to the
   * host (containerd keys processes by exec id, not by pid). */
  pid = (uint32_t)s->vm_pid;
  p->pid = pid;
  p->started = true;
  if (p->exec_id[0]) {
    Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
    ev.container_id = s->id;
    ev.exec_id = p->exec_id;
    ev.pid = pid;
    publisher_publish(s->pub, "/tasks/exec-started", &ev.base);
  } else {
    Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
    ev.container_id = s->id;
    ev.pid = pid;
    publisher_publish(s->pub, "/tasks/start", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  out = (void *)runm_pb_new(&containerd__task__v2__start_response__descriptor);
  out->pid = pid;
  *resp = &out->base;
  return 0;
}

static int t_exec(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__ExecProcessRequest *r = (const void *)rq;
  Runm__V1__ExecRequest gr = RUNM__V1__EXEC_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_process *p;

  if (check_id(s, r->id, err) < 0) return -1;
  if (r->exec_id == NULL || r->exec_id[0] == '\0') return runm_make_error(err, EINVAL, "exec id is empty");
  if (r->spec == NULL || r->spec->value.len == 0)
    return runm_make_error(err, EINVAL, "exec `%s` has no process spec", r->exec_id);
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p) return runm_make_error(err, EEXIST, "exec `%s` already exists", r->exec_id);
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  gr.process_json = r->spec->value;
  gr.terminal = r->terminal;
  gr.stdin = r->stdin && r->stdin[0];
  if (guest(s, "Exec", &gr.base, &runm__v1__empty__descriptor, &gresp, err) < 0) return -1;
  runm_pb_free(gresp);
  p = runm_xcalloc(1, sizeof(*p));
  p->shim = s;
  p->exec_id = runm_xstrdup(r->exec_id);
  p->stdin_path = runm_xstrdup(r->stdin);
  p->stdout_path = runm_xstrdup(r->stdout);
  p->stderr_path = runm_xstrdup(r->stderr);
  p->terminal = r->terminal;
  if (start_io(s, p, err) < 0) {
    Runm__V1__DeleteRequest dr = RUNM__V1__DELETE_REQUEST__INIT;
    cleanup_error runm_error_t e2 = NULL;
    dr.id = s->id;
    dr.exec_id = r->exec_id;
    dr.force = true;
    guest(s, "Delete", &dr.base, &runm__v1__delete_response__descriptor, &gresp, &e2);
    runm_pb_free(gresp);
    proc_free(p);
    return -1;
  }
  pthread_mutex_lock(&s->lock);
  /* Execs go after the init, which stays first. */
  struct shim_process **tail = &s->procs;
  while (*tail) tail = &(*tail)->next;
  *tail = p;
  {
    Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
    ev.container_id = s->id;
    ev.exec_id = p->exec_id;
    publisher_publish(s->pub, "/tasks/exec-added", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_kill(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__KillRequest *r = (const void *)rq;
  Runm__V1__KillRequest gr = RUNM__V1__KILL_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_process *p = NULL;
  bool enforce = r->signal == SIGKILL && (r->exec_id == NULL || r->exec_id[0] == '\0');
  struct timespec t0, t1;
  int64_t left_ms;
  int ret;

  if (check_id(s, r->id, err) < 0) return -1;
  /* SIGKILL of a running init is the host's to carry out: the guest gets
   * LIFE_KILL_GRACE_MS to report the exit, then QEMU is killed. */
  if (enforce) {
    pthread_mutex_lock(&s->lock);
    p = find_proc(s, "");
    enforce = p && p->started && !p->exited;
    if (enforce) p->waiters++;
    pthread_mutex_unlock(&s->lock);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  gr.signal = r->signal;
  gr.all = r->all;
  ret = guest_within(s, "Kill", &gr.base, &runm__v1__empty__descriptor, &gresp,
                        enforce ? LIFE_KILL_GRACE_MS : LIFE_GUEST_CONTROL_MS, err);
  runm_pb_free(gresp);
  if (!enforce) {
    if (ret < 0) return -1;
    *resp = runm_pb_new(&google__protobuf__empty__descriptor);
    return 0;
  }
  if (ret < 0) {
    cleanup_free char *msg = runm_error_string(*err);
    runm_log(&s->log, RUNM_LOG_WARN, "SIGKILL: the guest's Kill failed (%s); the host ends the task",
             msg ? msg : "error");
    runm_error_release(err);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  left_ms = LIFE_KILL_GRACE_MS - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
  pthread_mutex_lock(&s->lock);
  if (!proc_wait_exit_locked(s, p, left_ms > 0 ? left_ms : 0))
    proc_end_locked(s, p, "SIGKILL: the guest did not end the task in time");
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_delete(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__DeleteRequest *r = (const void *)rq;
  Runm__V1__DeleteRequest gr = RUNM__V1__DELETE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__DeleteResponse *out;
  struct shim_process *p;
  bool init = r->exec_id == NULL || r->exec_id[0] == '\0';
  uint32_t pid, status;
  int64_t at;

  if (check_id(s, r->id, err) < 0) return -1;
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", init ? s->id : r->exec_id);
  if (init) shim_timing_mark(s->vm_id, "delete.begin", 0);
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  /* A created-but-never-started process is killed, as runc-v2 does. */
  gr.force = !p->started;
  /* runc runs poststop hooks when it deletes the container. */
  if (init) hooks_set_phase(s->hooks, HOOK_PHASE_DELETE);
  if (guest_within(s, "Delete", &gr.base, &runm__v1__delete_response__descriptor, &gresp,
                      LIFE_GUEST_CONTROL_MS, err) < 0) {
    if (init) hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
    /* The VM is gone, or its guest does not answer: deleting must still
     * work (the host ends the VM below). */
    if (!(init && ((*err)->status == ECONNREFUSED || (*err)->status == ETIMEDOUT))) return -1;
    {
      cleanup_free char *msg = runm_error_string(*err);
      runm_log(&s->log, RUNM_LOG_WARN, "Delete: %s; the host ends the task", msg ? msg : "error");
    }
    runm_error_release(err);
  }
  if (init) hooks_set_phase(s->hooks, HOOK_PHASE_NONE);
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  if (p->started || !init) {
    /* Output drained and exit published first, so that Delete never
     * overtakes TaskExit; but only for so long. */
    if (!proc_wait_exit_locked(s, p, LIFE_GUEST_CONTROL_MS) &&
        proc_end_locked(s, p, "Delete: the process did not exit") < 0) {
      pthread_mutex_unlock(&s->lock);
      return runm_make_error(err, EBUSY, "exec `%s` is still running in the guest", p->exec_id);
    }
  } else if (!p->exited) {
    p->exited = true;
    p->exit_status = LIFE_KILLED_STATUS;
    p->exited_at_ns = runm_realtime_ns();
  }
  /* Waits and Kills that hold p let go of it once it has exited. */
  while (p->waiters > 0) pthread_cond_wait(&s->changed, &s->lock);
  pid = p->pid;
  status = p->exit_status;
  at = p->exited_at_ns;
  for (struct shim_process **pp = &s->procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  if (init) {
    Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    runm_pb_timestamp_set(&ts, at);
    ev.container_id = s->id;
    ev.pid = pid;
    ev.exit_status = status;
    ev.exited_at = &ts;
    ev.id = s->id;
    publisher_publish(s->pub, "/tasks/delete", &ev.base);
    s->deleted = true;
  }
  pthread_mutex_unlock(&s->lock);
  proc_free(p);
  if (init) {
    /* Execs left behind end with the VM; their waiters answer first. */
    task_abort(s);
    pthread_mutex_lock(&s->lock);
    for (struct shim_process *q = s->procs; q; q = q->next)
      while (q->waiters > 0) pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    task_vm_pid_forget(s);
    task_cleanup(s);
  }
  if (init) shim_timing_mark(s->vm_id, "delete.end", 0);
  out = (void *)runm_pb_new(&containerd__task__v2__delete_response__descriptor);
  out->pid = pid;
  out->exit_status = status;
  out->exited_at = runm_pb_timestamp_new(at);
  *resp = &out->base;
  return 0;
}

static int t_state(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StateRequest *r = (const void *)rq;
  Runm__V1__StateRequest gr = RUNM__V1__STATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StateResponse *out;
  struct shim_process *p;
  Containerd__V1__Types__Status st = CONTAINERD__V1__TYPES__STATUS__UNKNOWN;

  if (check_id(s, r->id, err) < 0) return -1;
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  if (p) p->waiters++; /* a Delete does not free it under us */
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  out = (void *)runm_pb_new(&containerd__task__v2__state_response__descriptor);
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  pthread_mutex_lock(&s->lock);
  bool exited = p->exited;
  pthread_mutex_unlock(&s->lock);
  if (!exited && guest_within(s, "State", &gr.base, &runm__v1__state_response__descriptor, &gresp,
                                 LIFE_GUEST_CONTROL_MS, err) == 0) {
    const char *g = ((Runm__V1__StateResponse *)gresp)->status;
    if (strcmp(g, "created") == 0) st = CONTAINERD__V1__TYPES__STATUS__CREATED;
    else if (strcmp(g, "running") == 0) st = CONTAINERD__V1__TYPES__STATUS__RUNNING;
    else if (strcmp(g, "paused") == 0) st = CONTAINERD__V1__TYPES__STATUS__PAUSED;
    else if (strcmp(g, "pausing") == 0) st = CONTAINERD__V1__TYPES__STATUS__PAUSING;
    else if (strcmp(g, "stopped") == 0) st = CONTAINERD__V1__TYPES__STATUS__STOPPED;
    runm_pb_free(gresp);
  } else {
    /* A guest that does not answer has not told us the process ended. */
    st = !exited && *err && (*err)->status == ETIMEDOUT ? CONTAINERD__V1__TYPES__STATUS__UNKNOWN
                                                        : CONTAINERD__V1__TYPES__STATUS__STOPPED;
    runm_error_release(err);
  }
  pthread_mutex_lock(&s->lock);
  if (p->exited) st = CONTAINERD__V1__TYPES__STATUS__STOPPED;
  out->id = runm_xstrdup(p->exec_id[0] ? p->exec_id : s->id);
  out->exec_id = runm_xstrdup(p->exec_id);
  out->bundle = runm_xstrdup(s->bundle);
  out->pid = p->pid;
  out->status = st;
  out->stdin = runm_xstrdup(p->stdin_path);
  out->stdout = runm_xstrdup(p->stdout_path);
  out->stderr = runm_xstrdup(p->stderr_path);
  out->terminal = p->terminal;
  out->exit_status = p->exit_status;
  if (p->exited) out->exited_at = runm_pb_timestamp_new(p->exited_at_ns);
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = &out->base;
  return 0;
}

static int t_pids(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__PidsRequest *r = (const void *)rq;
  Runm__V1__PidsRequest gr = RUNM__V1__PIDS_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__PidsResponse *out;
  Runm__V1__PidsResponse *g;

  if (check_id(s, r->id, err) < 0) return -1;
  gr.id = s->id;
  /* Guest pids, as `ctr task ps` lists them: informational only, never a
   * host process (runc-v2 gives container pids here; Kata its VMM's). */
  if (guest(s, "Pids", &gr.base, &runm__v1__pids_response__descriptor, &gresp, err) < 0) return -1;
  g = (Runm__V1__PidsResponse *)gresp;
  out = (void *)runm_pb_new(&containerd__task__v2__pids_response__descriptor);
  out->processes = runm_xcalloc(g->n_processes + 1, sizeof(*out->processes));
  for (size_t i = 0; i < g->n_processes; i++) {
    Containerd__V1__Types__ProcessInfo *pi = (void *)runm_pb_new(&containerd__v1__types__process_info__descriptor);
    pi->pid = g->processes[i]->pid;
    out->processes[out->n_processes++] = pi;
  }
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

static int pause_resume(struct shim *s, const char *id, bool pause, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  if (check_id(s, id, err) < 0) return -1;
  gr.id = s->id;
  if (guest(s, pause ? "Pause" : "Resume", &gr.base, &runm__v1__empty__descriptor, &gresp, err) < 0)
    return -1;
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  if (pause) {
    Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
    ev.container_id = s->id;
    publisher_publish(s->pub, "/tasks/paused", &ev.base);
  } else {
    Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
    ev.container_id = s->id;
    publisher_publish(s->pub, "/tasks/resumed", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_pause(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__PauseRequest *)rq)->id, true, resp, err);
}

static int t_resume(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__ResumeRequest *)rq)->id, false, resp, err);
}

static int t_checkpoint(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  return runm_make_error(err, ENOSYS,
                         "checkpoint is not supported by runm: the container's state lives in "
                         "its VM, and runc's CRIU checkpointing is not available there");
}

static int t_resize(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__ResizePtyRequest *r = (const void *)rq;
  Runm__V1__ResizePtyRequest gr = RUNM__V1__RESIZE_PTY_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  if (check_id(s, r->id, err) < 0) return -1;
  gr.id = s->id;
  gr.exec_id = r->exec_id;
  gr.rows = r->height;
  gr.cols = r->width;
  if (guest(s, "ResizePty", &gr.base, &runm__v1__empty__descriptor, &gresp, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_closeio(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__CloseIORequest *r = (const void *)rq;
  struct shim_process *p;
  if (check_id(s, r->id, err) < 0) return -1;
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  if (p && r->stdin && p->io) io_relay_close_stdin(p->io);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_update(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)rq;
  Runm__V1__UpdateRequest gr = RUNM__V1__UPDATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  if (check_id(s, r->id, err) < 0) return -1;
  if (r->resources == NULL || r->resources->value.len == 0)
    return runm_make_error(err, EINVAL, "update without resources");
  gr.id = s->id;
  gr.resources_json = r->resources->value;
  if (guest(s, "Update", &gr.base, &runm__v1__empty__descriptor, &gresp, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

static int t_wait(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__WaitRequest *r = (const void *)rq;
  Containerd__Task__V2__WaitResponse *out;
  struct shim_process *p;
  if (check_id(s, r->id, err) < 0) return -1;
  pthread_mutex_lock(&s->lock);
  p = find_proc(s, r->exec_id);
  if (p == NULL) {
    pthread_mutex_unlock(&s->lock);
    return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  }
  /* No limit: a process may run for ever. What ends a wait is its exit,
   * which a SIGKILL, Delete or shutdown makes sure of (lifecycle.h). */
  p->waiters++;
  proc_wait_exit_locked(s, p, -1);
  out = (void *)runm_pb_new(&containerd__task__v2__wait_response__descriptor);
  out->exit_status = p->exit_status;
  out->exited_at = runm_pb_timestamp_new(p->exited_at_ns);
  p->waiters--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  *resp = &out->base;
  return 0;
}

static void *pack_any(const ProtobufCMessage *m, const char *url, Google__Protobuf__Any **out)
{
  Google__Protobuf__Any *a = (void *)runm_pb_new(&google__protobuf__any__descriptor);
  a->type_url = runm_xstrdup(url);
  a->value.len = protobuf_c_message_get_packed_size(m);
  a->value.data = runm_xmalloc(a->value.len);
  protobuf_c_message_pack(m, a->value.data);
  *out = a;
  return a;
}

static int t_stats(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StatsRequest *r = (const void *)rq;
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StatsResponse *out;
  Runm__V1__StatsResponse *g;
  Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
  Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
  Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryEvents mev = IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
  Io__Containerd__Cgroups__V2__IOStat io = IO__CONTAINERD__CGROUPS__V2__IOSTAT__INIT;
  Io__Containerd__Cgroups__V2__IOEntry ioe = IO__CONTAINERD__CGROUPS__V2__IOENTRY__INIT;
  Io__Containerd__Cgroups__V2__IOEntry *ioes[1] = {&ioe};

  if (check_id(s, r->id, err) < 0) return -1;
  gr.id = s->id;
  if (guest(s, "Stats", &gr.base, &runm__v1__stats_response__descriptor, &gresp, err) < 0) return -1;
  g = (Runm__V1__StatsResponse *)gresp;
  pids.current = g->pids_current;
  pids.limit = g->pids_max;
  cpu.usage_usec = g->cpu_usage_usec;
  cpu.user_usec = g->cpu_user_usec;
  cpu.system_usec = g->cpu_system_usec;
  cpu.nr_periods = g->cpu_nr_periods;
  cpu.nr_throttled = g->cpu_nr_throttled;
  cpu.throttled_usec = g->cpu_throttled_usec;
  mem.anon = g->memory_anon;
  mem.file = g->memory_file;
  mem.usage = g->memory_current;
  mem.usage_limit = g->memory_max;
  mem.swap_usage = g->memory_swap_current;
  mev.max = g->memory_events_max;
  mev.oom = g->memory_events_oom;
  mev.oom_kill = g->memory_events_oom_kill;
  ioe.rbytes = g->io_rbytes;
  ioe.wbytes = g->io_wbytes;
  ioe.rios = g->io_rios;
  ioe.wios = g->io_wios;
  io.n_usage = 1;
  io.usage = ioes;
  m.pids = &pids;
  m.cpu = &cpu;
  m.memory = &mem;
  m.memory_events = &mev;
  m.io = &io;
  out = (void *)runm_pb_new(&containerd__task__v2__stats_response__descriptor);
  pack_any(&m.base, "io.containerd.cgroups.v2.Metrics", &out->stats);
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

static int t_connect(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__ConnectRequest *r = (const void *)rq;
  Containerd__Task__V2__ConnectResponse *out;
  if (check_id(s, r->id, err) < 0) return -1;
  out = (void *)runm_pb_new(&containerd__task__v2__connect_response__descriptor);
  out->shim_pid = (uint32_t)getpid();
  pthread_mutex_lock(&s->lock);
  /* The task's QEMU, like every pid the host is given. */
  out->task_pid = (uint32_t)s->vm_pid;
  pthread_mutex_unlock(&s->lock);
  out->version = runm_xstrdup(VERSION);
  *resp = &out->base;
  return 0;
}

static int t_shutdown(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                      runm_error_t *err)
{
  const Containerd__Task__V2__ShutdownRequest *r = (const void *)rq;
  pthread_mutex_lock(&s->lock);
  /* Like runc-v2: a shim with a live task stays unless told `now`. */
  if (r->now || s->procs == NULL) {
    s->shutdown_requested = true;
    pthread_cond_broadcast(&s->changed);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

const struct task_method task_methods[] = {
    {"State", t_state},
    {"Create", t_create},
    {"Start", t_start},
    {"Delete", t_delete},
    {"Pids", t_pids},
    {"Pause", t_pause},
    {"Resume", t_resume},
    {"Checkpoint", t_checkpoint},
    {"Kill", t_kill},
    {"Exec", t_exec},
    {"ResizePty", t_resize},
    {"CloseIO", t_closeio},
    {"Update", t_update},
    {"Wait", t_wait},
    {"Stats", t_stats},
    {"Connect", t_connect},
    {"Shutdown", t_shutdown},
};
const size_t n_task_methods = sizeof(task_methods) / sizeof(task_methods[0]);

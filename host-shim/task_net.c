/* The namespace mode in the Task calls (task_net.h). */
#include "task_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "guest_spec.h"
#include "forward.h"
#include "guest_reply.h"
#include "hooks.h"
#include "net_guest.h"
#include "netns.h"
#include "pb.h"
#include "rpc.h"
#include "shim.h"
#include "spec.h"
#include "timing.h"
#include "vm.h"

/* ConfigureNetwork is a few netlink calls in the guest. */
#define NET_GUEST_TIMEOUT_MS 30000

int task_net_prepare(struct shim *s, const struct spec_info *si, struct runm_vm_config *vc, runm_error_t *err)
{
  if (si->net != RUNM_NET_TAP) return 0;
  shim_timing_mark(s->vm_id, "net.begin", 0);
  if (s->net == NULL && (s->net = calloc(1, sizeof(*s->net))) == NULL) return runm_make_error(err, ENOMEM, "network");
  if (task_net_open(s->net, s->cfg.state_dir, s->vm_id, si->netns_path, err) < 0) return -1;
  if (s->cfg.vm_backend == RUNM_BACKEND_LIBVIRT) {
    /* libvirt opens the TAP by name in the namespace (vm.h, tap_name). */
    if (task_net_persist_tap(s->net, err) < 0) return -1;
    vc->tap_name = NETNS_TAP_NAME;
  }
  vc->tap_fd = s->net->tap_fd;
  vc->netns_fd = s->net->ns_fd;
  hooks_set_netns(s->hooks, s->net->ns_path);
  shim_timing_mark(s->vm_id, "net.ready", 0);
  runm_log(&s->log, RUNM_LOG_INFO, "network: namespace mode in %s (%s), TAP %s", s->net->ns_path,
           s->net->own_ns ? "made for the task" : "the spec's", NETNS_TAP_NAME);
  return 0;
}

int task_net_configure(struct shim *s, bool after_create, runm_error_t *err)
{
  struct net_guest_config *gc = NULL;
  ProtobufCMessage *resp = NULL;
  bool found;
  int ret;

  if (s->net == NULL || !s->net->active || s->net->connected) return 0;
  if (hooks_network_kinds(s->hooks) != after_create) return 0;
  shim_timing_mark(s->vm_id, "net.connect", 0);
  /* QEMU holds the TAP: the device ends with it. */
  task_net_drop_tap(s->net);
  if (task_net_connect(s->net, &found, err) < 0) return -1;
  shim_timing_mark(s->vm_id, "net.connected", 0);
  if (!found) {
    runm_log(&s->log, RUNM_LOG_INFO, "network: %s has no interface but lo: the container has lo only",
             s->net->ns_path);
    return 0;
  }
  gc = malloc(sizeof(*gc));
  if (gc == NULL) return runm_make_error(err, ENOMEM, "network");
  net_guest_config_build(gc, &s->net->cni);
  ret = guest_call(s, "ConfigureNetwork", &gc->msg.base, &resp, NET_GUEST_TIMEOUT_MS, err);
  free(gc);
  if (ret < 0) return runm_error_wrap(err, "configure the VM's network");
  {
    /* The guest's words: logged only, printable and bounded. */
    char shown[200];
    guest_reply_shown(shown, sizeof(shown), ((Runm__V1__NetworkStatus *)resp)->status);
    runm_log(&s->log, RUNM_LOG_INFO, "network: %s bridged to the VM; guest: %s", s->net->cni.name, shown);
  }
  runm_pb_free(resp);
  shim_timing_mark(s->vm_id, "net.configured", 0);
  return 0;
}

void task_net_teardown(struct shim *s)
{
  cleanup_error runm_error_t err = NULL;
  if (s->net == NULL) return;
  if (s->net->active) {
    /* QEMU is gone: the state names no pid, the namespace by its path. */
    hooks_set_pid(s->hooks, 0);
    hooks_run_poststop(s->hooks, false);
    if (task_net_close(s->net, &err) < 0) runm_log_error(&s->log, err, "network teardown");
  }
  free(s->net);
  s->net = NULL;
}

void task_net_delete(const char *state_dir, const char *vm_id, const char *id, const char *bundle)
{
  cleanup_error runm_error_t err = NULL;
  char ns[PATH_MAX];
  struct hooks *h = NULL;
  json_object *spec = NULL;

  if (task_net_recorded_ns(state_dir, vm_id, ns, sizeof(ns), &err) < 0) {
    runm_log_error(NULL, err, "delete: network record");
    return;
  }
  if (ns[0] == '\0') return;
  /* The shim died before its teardown: the poststop hooks (CNI DEL) have
   * not run, or not all; they run here, in the namespace still there. */
  if (bundle && spec_json_load(bundle, &spec, &err) == 0 && hooks_new(NULL, &h, &err) == 0 &&
      hooks_load(h, spec, id, bundle, &err) == 0) {
    hooks_set_netns(h, ns);
    hooks_run_poststop(h, true);
  } else if (err) {
    runm_log_error(NULL, err, "delete: poststop hooks");
  }
  runm_error_release(&err);
  hooks_free(h);
  if (spec) json_object_put(spec);
  if (task_net_cleanup(state_dir, vm_id, &err) < 0) runm_log_error(NULL, err, "delete: network");
}

/* The namespace mode of a task's network (docs/networking.md): a host
 * network namespace per task (made by the shim and bind-mounted under its
 * state dir, or the one the spec names), a TAP device in it that QEMU uses
 * as its NIC, and, once CNI has configured the namespace, tc redirects
 * between CNI's interface and the TAP (Kata's tcfilter model). Everything
 * made here is written down in <state>/net/<vm id>/record first, so that
 * `shim delete` can remove it after the shim died. */
#ifndef SHIM_NETNS_H
#define SHIM_NETNS_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

#include "error.h"
#include "netlink_if.h"

struct mnl_socket;

/* The TAP device's name in the task's namespace. */
#define NETNS_TAP_NAME "tap0_runm"

struct task_net {
  bool active;             /* namespace mode: the rest is set */
  bool own_ns;             /* the shim made the namespace (and removes it) */
  char dir[PATH_MAX];      /* <state>/net/<vm id> */
  char ns_path[PATH_MAX];  /* <dir>/netns, or the spec's path */
  int ns_fd;               /* the namespace, for QEMU's setns */
  int tap_fd;              /* the TAP device, until QEMU has its copy */
  struct mnl_socket *nl;   /* rtnetlink inside the namespace */
  int tap_index;
  /* Set by task_net_connect: CNI's interface the TAP is bridged to. */
  bool connected;
  struct netif cni;
  bool cni_qdisc; /* its ingress qdisc is ours */
};

/* Namespace mode for a task: spec_ns_path NULL = a new namespace made here
 * (<state>/net/<vm id>/netns), else the spec's namespace (never deleted).
 * Opens the TAP device in it. On failure nothing is left. */
int task_net_open(struct task_net *n, const char *state_dir, const char *vm_id, const char *spec_ns_path,
                  runm_error_t *err);
/* After CNI ran in the namespace: finds its interface (every link but lo
 * and the TAP: none = *found false, nothing to do; more than one = an
 * error naming them), redirects each way with tc and brings the TAP up
 * with that interface's MTU. n->cni then says what the guest must copy. */
int task_net_connect(struct task_net *n, bool *found, runm_error_t *err);
/* The libvirt backend (libvirt opens the TAP by name, and a TAP without
 * IFF_MULTI_QUEUE takes one fd): the TAP made persistent and the shim's
 * fd closed. */
int task_net_persist_tap(struct task_net *n, runm_error_t *err);
/* QEMU holds the TAP now: the shim's copy goes, so the device ends with
 * QEMU. */
void task_net_drop_tap(struct task_net *n);
/* Removes what task_net_open/connect made: the tc filters, the TAP, a
 * namespace of the shim's, the record. Safe on an inactive one. */
int task_net_close(struct task_net *n, runm_error_t *err);
/* `shim delete`: the same from the record alone (the shim died). The
 * namespace path named there, "" when none (for the hooks' state). */
int task_net_cleanup(const char *state_dir, const char *vm_id, runm_error_t *err);
/* The namespace a dead shim's record names, "" when there is no record. */
int task_net_recorded_ns(const char *state_dir, const char *vm_id, char *out, size_t len,
                         runm_error_t *err);

#endif

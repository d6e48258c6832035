/* The hooks service's state, shared by hooks.c (the guest's requests),
 * hooks_allow.c (the allow-list), hooks_state.c (the state JSON),
 * hooks_orphans.c (records of running hooks) and hooks_host.c (hooks the
 * host runs by itself). Private to those. */
#ifndef SHIM_HOOKS_PRIV_H
#define SHIM_HOOKS_PRIV_H

#include <json-c/json.h>
#include <limits.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_spec.h"
#include "hooks.h"

struct hook {
  char *path;
  char **args; /* NULL-terminated; [path] when the spec gives none */
  size_t n_args;
  char **env;        /* NULL-terminated, maybe empty */
  int64_t timeout_s; /* 0 = none */
  bool ran;          /* guarded by hooks.lock */
};

struct hooks {
  const struct runm_logger *log;
  struct runm_rpc_method *methods; /* the runm.v1.Host table, built once */
  /* Set once by hooks_load (under the lock, with `loaded`), then read-only. */
  char *id, *bundle;
  char *root; /* root.path, absolute: createContainer hooks run there */
  json_object *annotations; /* the host spec's, or NULL */
  struct hook *list[SPEC_N_HOOK_KINDS];
  size_t n[SPEC_N_HOOK_KINDS];
  pthread_mutex_t lock; /* guards loaded, phase, state_dir and every hook's `ran` */
  bool loaded;
  char state_dir[PATH_MAX]; /* the VM's; "" until known */
  enum hook_phase phase;
  pid_t pid; /* the state's pid: the task's QEMU (hooks_set_pid) */
  char *netns; /* nerdctl/network-namespace for the state (hooks_set_netns), or NULL */
  char timing_id[128]; /* the task's VM id for shim_timing_mark; "" = none */
  struct runm_rpc_server *srv;
  struct host_vsock *vsock;
};

/* The state JSON a host hook reads: id, status, pid (when set), bundle,
 * the host spec's annotations plus nerdctl/network-namespace when set. */
int hooks_state_json(struct hooks *h, const char *oci_version, const char *status, char **out,
                     runm_error_t *err);
/* The state the guest's runc wrote (in), checked and rebuilt by the host
 * (hooks_state.c): *out for the hook's stdin. */
int hooks_fix_state(struct hooks *h, const ProtobufCBinaryData *in, char **out, runm_error_t *err);
/* Frees the allow-list hooks_load made (hooks_allow.c). */
void hooks_lists_free(struct hooks *h);
/* Guest-supplied text in a log line: printable, bounded (hooks.c). */
void hooks_printable(const char *in, char *out, size_t cap);
/* hook_run's started/ended callbacks (the orphan records). */
void hooks_started(void *arg, pid_t pgid);
void hooks_ended(void *arg, pid_t pgid);

#endif

/* The libvirt backend's internals shared by vm_libvirt.c (the backend)
 * and vm_libvirt_conn.c (connections, the embed helper). */
#ifndef RUNM_VM_LIBVIRT_H
#define RUNM_VM_LIBVIRT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vm_backend.h"

#define CONNECT_TIMEOUT_MS 30000
/* How long the owner waits for a destroy helper, and the helpers' own
 * bounds (alarm), a little past their callers' deadlines. */
#define DESTROY_TIMEOUT_MS 15000
#define HELPER_DESTROY_ALARM_S (DESTROY_TIMEOUT_MS / 1000 + 5)
#define HELPER_CREATE_ALARM_S (CONNECT_TIMEOUT_MS / 1000 + 10)

struct runm_libvirt_vm {
  virConnectPtr conn; /* held (daemon URIs) or NULL (embed: a helper destroys) */
  char uri[PATH_MAX];
  char name[RUNM_VM_ID_MAX + 8];
  bool destroyed;   /* libvirt has ended the domain (term) */
  char cgroup[512]; /* libvirt's cgroup for the domain, relative ("" unknown) */
  pid_t keeper;     /* embed: the create helper reaping QEMU, or 0 */
  struct runm_vm_tidy *tidy; /* the config's: the stop leaves the tidy to it */
};

/* qemu:///embed?...: the in-process driver (calls go through a helper). */
bool runm_lv_is_embed(const char *uri);
/* libvirt's message for the last failed call of this thread. */
const char *runm_lv_last_error(void);
/* Opens uri within timeout_ms (an embed root locked by another process is
 * retried until then); starts libvirt's event loop on first use. */
virConnectPtr runm_lv_open(const char *uri, int64_t timeout_ms, runm_error_t *err);
/* Destroys domain `name` on c; 0 when it is gone or was not there. */
int runm_lv_destroy_on(virConnectPtr c, const char *uri, const char *name, runm_error_t *err);
/* The create helper's network namespace (the namespace mode): the fd it
 * finds it at, and the last argument that says so. */
#define HELPER_NETNS_FD 3
#define HELPER_NETNS_ARG "netns"
/* One call (create | destroy) in a helper process, for embed
 * URIs; `in` goes to its stdin; netns_fd (create, or -1): the network
 * namespace the helper, and so QEMU, joins; *answer gets its "OK ..." line. With
 * `keeper` (create): the helper stays, as the reaper of the QEMU it
 * started, and *keeper gets its pid (runm_lv_reap_keeper). */
int runm_lv_helper_call(const char *uri, const char *op, const char *name, const char *in, int netns_fd,
                        int64_t timeout_ms, char *answer, size_t alen, pid_t *keeper,
                        runm_error_t *err);
/* Starts a helper destroying domain `name` at an embed URI and then
 * removing its cgroup (relative, as vm.info's cgroup=; "" none), without
 * waiting: *pid is the helper, *answer the read end of its answer line.
 * The helper ends by itself within HELPER_DESTROY_ALARM_S. */
int runm_lv_destroy_start(const char *uri, const char *name, const char *cgroup, pid_t *pid, int *answer,
                          runm_error_t *err);
/* Waits up to wait_ms for a keeper to end (its QEMU has), then kills
 * and reaps it. */
void runm_lv_reap_keeper(pid_t keeper, int wait_ms);

#endif

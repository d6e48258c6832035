/* How a VM's QEMU is started, waited for and ended. vm.c does everything
 * else (state dir, channel sockets, the boot Ping, teardown order) the same
 * for each backend:
 *  - qemu (vm_qemu.c, vm_qemu_run.c): runm builds QEMU's command line and
 *    runs it confined as its own child (vm_spawn.c);
 *  - libvirt (vm_libvirt.c, vm_libvirt_xml.c): a transient libvirt domain
 *    whose QEMU libvirt starts and confines; runm only finds its pid. */
#ifndef RUNM_VM_BACKEND_H
#define RUNM_VM_BACKEND_H

#include <stdio.h>

#include "vm.h"

struct runm_vm_backend {
  const char *name;
  /* qemu only: QEMU's argv (NULL-terminated, heap) for the plan; pure,
   * unit-tested. NULL for libvirt. */
  int (*build_argv)(const struct runm_vm_config *cfg, const struct runm_vm_plan *plan,
                    int rpc_listen_fd, char ***argv, runm_error_t *err);
  /* true: vm.c binds plan.rpc_sock and hands the listening fd to spawn;
   * false: the backend's QEMU binds it (spawn gets -1). */
  bool takes_rpc_fd;
  /* Starts QEMU: on success vm->pid is the host's QEMU process, vm->pidfd
   * (or -1), vm->spawn_ns, vm->console (and vm->netfilter with user
   * networking) are set. rpc_listen_fd is closed by spawn. On failure
   * nothing runs and nothing of the backend's is left. */
  int (*spawn)(const struct runm_vm_config *cfg, struct runm_vm *vm, int rpc_listen_fd,
               runm_error_t *err);
  /* Asks QEMU to end (TERM); kill makes sure it has, waits for it, and
   * releases the backend's part. Both tolerate a QEMU already gone. */
  void (*term)(struct runm_vm *vm);
  void (*kill)(struct runm_vm *vm);
  /* Blocks until QEMU exits; *status is a wait status (libvirt: 0, QEMU
   * is not runm's child). */
  int (*wait)(struct runm_vm *vm, int *status, runm_error_t *err);
};
extern const struct runm_vm_backend runm_vm_backend_qemu;
extern const struct runm_vm_backend runm_vm_backend_libvirt;
const struct runm_vm_backend *runm_vm_backend_get(enum runm_vm_backend_kind kind);
void runm_argv_free(char **argv);
/* TCG translation cache size (MiB), both backends: see vm_qemu.c. */
#define RUNM_VM_TCG_TB_MIB 96
/* vm_qemu.c: QEMU's -netdev for user networking (shared by both backends). */
int runm_qemu_user_netdev(const struct runm_vm_config *cfg, char **out, runm_error_t *err);
/* vm_qemu_run.c: the qemu backend's process side. */
int runm_qemu_spawn(const struct runm_vm_config *cfg, struct runm_vm *vm, int rpc_listen_fd,
                    runm_error_t *err);
void runm_qemu_term(struct runm_vm *vm);
void runm_qemu_kill(struct runm_vm *vm);
int runm_qemu_wait(struct runm_vm *vm, int *status, runm_error_t *err);

/* vm_virtiofsd.c: share_fs = virtiofs. start spawns one virtiofsd per
 * share on <dir>/vfsN.sock (its stdout and stderr on out_fd) and records
 * them in vm->fsd_pid; on failure nothing of it is left. stop kills and
 * reaps them (after QEMU: they serve until it is gone). */
#define RUNM_VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd"
const char *runm_virtiofsd_path(void); /* $RUNM_VIRTIOFSD or the default */
void runm_virtiofsd_sock(const struct runm_vm_plan *plan, size_t i, char *out, size_t len);
int runm_virtiofsd_start(const struct runm_vm_config *cfg, struct runm_vm *vm, int out_fd,
                         runm_error_t *err);
void runm_virtiofsd_stop(struct runm_vm *vm);

/* vm_libvirt_xml.c: the transient domain for the plan; pure, unit-tested.
 * Every string from cfg/plan is XML-escaped; a control character is an
 * error (XML 1.0 cannot carry it). */
int runm_libvirt_domain_xml(const struct runm_vm_config *cfg, const struct runm_vm_plan *plan,
                            const char *name, const char *emulator, char **xml, runm_error_t *err);
/* Appends s to f escaped for XML text and attribute values (' and ").
 * -1 (nothing written) when s holds a control character. */
int runm_xml_escape(FILE *f, const char *s);

/* vm_libvirt.c: releases the backend's part (a held connection closes:
 * its AUTODESTROY domain ends). */
void runm_libvirt_vm_free(struct runm_libvirt_vm *lv);
/* The URI and libvirt's cgroup of a libvirt-backed VM ("" for the qemu
 * backend), for vm.info. */
void runm_vm_libvirt_uri(const struct runm_vm *vm, char *uri, size_t ulen, char *cgroup, size_t clen);
/* Removes what is left of a dead domain's cgroup (rel as vm.info's
 * cgroup=): libvirt leaves it when the domain's QEMU was gone before
 * libvirt looked (and, measured, for long domain names even when not). */
void runm_libvirt_remove_cgroup(const char *rel);
/* vm_libvirt_conn.c: ends domain `name` at uri (destroy) wherever it runs; 0
 * when it is gone or was never there. Bounded by timeout_ms. Used by the
 * shim's `delete` after a crashed shim and by `runmctl vm stop`. */
int runm_libvirt_destroy(const char *uri, const char *name, int64_t timeout_ms,
                         runm_error_t *err);
/* Whether uri is libvirt's embed driver (qemu:///embed?root=DIR), whose
 * domains outlive their owner, against a daemon's AUTODESTROY ones. */
bool runm_libvirt_is_embed(const char *uri);
/* The embed driver's helper process (vm_libvirt_conn.c): every binary that
 * links lib/vm and may start libvirt-backed VMs (the shim, runmctl) runs
 * runm_libvirt_helper_main(argc - 1, argv + 1) first thing when argv[1] is
 * RUNM_LIBVIRT_HELPER_ARG. */
#define RUNM_LIBVIRT_HELPER_ARG "__runm-libvirt-helper"
int runm_libvirt_helper_main(int argc, char **argv);

#endif

/* The VM launcher: boots a runm guest, waits for its first Ping, and on every
 * error path kills the VM and removes its state dir. How QEMU is started and
 * ended lives behind `struct runm_vm_backend` (vm_backend.h): QEMU directly
 * (vm_qemu.c, vm_qemu_run.c) or a libvirt domain (vm_libvirt*.c). */
#ifndef RUNM_VM_H
#define RUNM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "log.h"
#include "ports.h"

enum runm_accel { RUNM_ACCEL_AUTO = 0, RUNM_ACCEL_KVM, RUNM_ACCEL_TCG };
enum runm_transport { RUNM_TRANSPORT_AUTO = 0, RUNM_TRANSPORT_SERIAL, RUNM_TRANSPORT_VSOCK };
/* Who starts QEMU: runm itself, or libvirt as a transient domain. */
enum runm_vm_backend_kind { RUNM_BACKEND_QEMU = 0, RUNM_BACKEND_LIBVIRT };
/* How the shares reach the guest: QEMU's virtio-9p server, or virtio-fs
 * served by one virtiofsd per share (vm_virtiofsd.c; qemu backend only). */
enum runm_share_fs { RUNM_SHARE_9P = 0, RUNM_SHARE_VIRTIOFS };
#define RUNM_LIBVIRT_URI_DEFAULT "qemu:///system"

#define RUNM_VM_ID_MAX 64
#define RUNM_VM_RPC_PORT_NAME "runm.rpc"
#define RUNM_VM_VSOCK_PORT 1024
/* The guest-to-host channel's virtio-serial port (docs/hooks.md). */
#define RUNM_VM_HOST_PORT_NAME "runm.host"

/* A host directory shared into the guest at the same absolute path (9p),
 * or at guest_path when set (a runm-bindfs mirror of that path). */
struct runm_vm_share {
  const char *path;
  bool readonly;
  const char *guest_path; /* NULL: path */
  /* A share whose mounts carry their own ro/rw (the shim's export dir: a
   * read-only root holding ro and rw binds): QEMU's mount namespace makes
   * exactly these paths writable (with what is below each), not the whole
   * share. NULL: the share itself when !readonly. */
  const char *const *rw_paths;
  size_t n_rw_paths;
};
#define RUNM_VM_MAX_SHARES 16

struct runm_vm_plan;
struct runm_vm_config {
  const char *id;         /* required, see runm_vm_id_valid */
  const char *state_root; /* runm's state dir; VMs live in <root>/vm/<id> */
  const char *kernel, *initrd, *mbin;
  const char *qemu; /* NULL = qemu-system-x86_64 from PATH */
  enum runm_accel accel;
  enum runm_transport transport;
  unsigned mem_mib, vcpus;
  const char *extra_append; /* appended to the kernel command line */
  const struct runm_vm_share *shares;
  size_t n_shares;
  int64_t boot_timeout_ms;
  bool debug;
  enum runm_net_mode net;
  /* Host ports forwarded into the guest (user networking only). Each must be
   * free on the host, else the start fails naming it and leaves nothing. */
  const struct runm_port_forward *ports;
  size_t n_ports;
  /* The guest-to-host channel (runm.v1.Host), when set: called once the
   * state dir exists and before QEMU starts; it must leave a listening
   * socket at plan->host_sock (QEMU connects to it as a client), and on
   * vsock hosts serve plan->host_vsock_port. On failure the start fails. */
  int (*host_listen)(void *opaque, const struct runm_vm_plan *plan, runm_error_t *err);
  void *host_opaque;
  /* Where that socket goes; NULL = <dir>/host.sock. A pooled VM's lives
   * outside its dir: runm_vm_rename moves the dir, and QEMU reconnects to
   * the path it was given. */
  const char *host_sock;
  /* The shares receive mounts after QEMU starts (a pooled VM's binds at
   * claim). Such host mounts reach another mount namespace only through
   * shared propagation, which hosts with a private / do not have: QEMU then
   * stays in the host's mount namespace (no read-only/nodev view); its
   * capabilities, no_new_privs and seccomp are the same. */
  bool late_mounts;
  /* User networking: the guest may reach the host's 127.0.0.1 as 10.0.2.2
   * (annotation io.runm.host-loopback=true, runmctl --host-loopback).
   * Off: vm_netfilter.c drops new connections to it. */
  bool host_loopback;
  enum runm_vm_backend_kind backend;
  const char *libvirt_uri; /* NULL: RUNM_LIBVIRT_URI_DEFAULT */
  enum runm_share_fs share_fs;
  /* net == RUNM_NET_TAP: an open TAP device (TUNSETIFF IFF_TAP|IFF_NO_PI|
   * IFF_VNET_HDR) QEMU gets as its NIC's backend (its fd 6), and the host
   * network namespace QEMU runs in (setns before exec; -1 = the caller's).
   * Both stay the caller's: it closes them. The libvirt backend (embed
   * URIs) takes the TAP by name instead (tap_name, tap_fd -1): libvirt
   * opens it itself, so it must be persistent with no fd held on it; its
   * create helper joins netns_fd first, and so does the QEMU it starts. */
  int tap_fd;
  int netns_fd;
  const char *tap_name;
  /* Where a stop leaves the backend's tidy that may run on its own after
   * QEMU ended (runm_vm_tidy below); NULL: the stop does it all. */
  struct runm_vm_tidy *tidy;
};
/* The fd QEMU finds its TAP device at (net == RUNM_NET_TAP). */
#define RUNM_VM_TAP_FD 6

/* What the environment offers, probed once (paths injectable for tests). */
struct runm_host_caps {
  bool kvm_usable;  /* /dev/kvm opens, API 12, and the CPU shows vmx/svm */
  bool vsock;       /* /dev/vhost-vsock opens */
  char kvm_why[160];   /* why KVM is not used, for `runmctl info` and the log */
};
void runm_host_caps_probe(struct runm_host_caps *caps, const char *dev_kvm, const char *cpuinfo,
                          const char *dev_vsock);
enum runm_accel runm_accel_choose(enum runm_accel want, const struct runm_host_caps *caps);
enum runm_transport runm_transport_choose(enum runm_transport want,
                                          const struct runm_host_caps *caps);
const char *runm_accel_name(enum runm_accel a);
const char *runm_transport_name(enum runm_transport t);
int runm_accel_parse(const char *s, enum runm_accel *out, runm_error_t *err);
int runm_transport_parse(const char *s, enum runm_transport *out, runm_error_t *err);
const char *runm_backend_name(enum runm_vm_backend_kind b);
int runm_backend_parse(const char *s, enum runm_vm_backend_kind *out, runm_error_t *err);
const char *runm_share_fs_name(enum runm_share_fs f);
int runm_share_fs_parse(const char *s, enum runm_share_fs *out, runm_error_t *err);

bool runm_vm_id_valid(const char *id);
/* A share path must be absolute, normalised, and free of characters that
 * the kernel command line or QEMU's option syntax would split on. */
int runm_vm_share_check(const char *path, runm_error_t *err);

/* Paths and choices fixed before the backend spawns anything. */
struct runm_vm_plan {
  char dir[256];
  char rpc_sock[300];  /* QEMU's end of the channel: one connection at a time */
  char api_sock[300];  /* the owner's proxy: any number of clients */
  char console_log[300];
  char host_sock[300]; /* the owner's runm.v1.Host server ("" = no host channel) */
  enum runm_accel accel;
  enum runm_transport transport;
  unsigned vsock_cid;
  unsigned host_vsock_port; /* vsock: the port the guest dials on the host CID */
  char append[2048];
};

/* vm_console.c: the console and QEMU's own output reach files of bounded
 * size through pipes a thread drains (the newest bytes are kept). */
#define RUNM_VM_CONSOLE_MAX (1u << 20) /* console.log: at most 1 MiB */
#define RUNM_VM_QEMU_LOG_MAX (64u << 10) /* qemu.log: at most 64 KiB */
struct runm_vm_console;
/* Creates console.log and qemu.log in dir and the pipes QEMU writes
 * (*console_wr is its stdout, *log_wr its stderr; the caller closes them
 * once QEMU has them). */
int runm_vm_console_start(const char *dir, struct runm_vm_console **out, int *console_wr,
                          int *log_wr, runm_error_t *err);
/* The same fed by one readable fd (the libvirt backend's console socket,
 * taken over); QEMU's own output then goes to libvirt's log, not qemu.log. */
int runm_vm_console_start_fd(const char *dir, int console_rd, struct runm_vm_console **out,
                             runm_error_t *err);
/* Keeps what the pipes hold now, ends the thread, closes everything. */
void runm_vm_console_stop(struct runm_vm_console *c);

/* vm_netfilter.c: guest frames to slirp pass through a thread of the owner
 * (QEMU's filter-redirector): no host loopback (10.0.2.2, unless
 * host_loopback), 127/8, 0/8, 169.254/16 or multicast. */
struct runm_vm_netfilter;
bool runm_netfilter_allow(const uint8_t *frame, size_t len, bool host_loopback,
                          const uint16_t *udp_ports, size_t n_udp);
/* *qemu_out: QEMU writes the guest's frames there (its fd 4); *qemu_in:
 * QEMU reads the allowed ones (its fd 5). The caller closes both once QEMU
 * has them. */
int runm_vm_netfilter_start(bool host_loopback, const struct runm_port_forward *ports,
                            size_t n_ports, struct runm_vm_netfilter **out, int *qemu_out,
                            int *qemu_in, runm_error_t *err);
/* The same over two connected sockets the caller made (the libvirt
 * backend: QEMU dialled them), taken over even on failure. */
int runm_vm_netfilter_start_fds(bool host_loopback, const struct runm_port_forward *ports,
                                size_t n_ports, int from_qemu, int to_qemu,
                                struct runm_vm_netfilter **out, runm_error_t *err);
void runm_vm_netfilter_stop(struct runm_vm_netfilter *nf);
#define RUNM_VM_NETFILTER_OUT_FD 4
#define RUNM_VM_NETFILTER_IN_FD 5

/* vm_spawn.c: QEMU's confinement (see there). */
struct runm_vm_spawn {
  int stdin_fd, stdout_fd, stderr_fd;
  int rpc_fd; /* becomes fd 3, or -1 */
  int nf_out_fd, nf_in_fd; /* become fds 4 and 5, or -1 */
  int tap_fd;   /* becomes RUNM_VM_TAP_FD, or -1 */
  int netns_fd; /* the network namespace QEMU joins, or -1 */
  bool own_mount_ns; /* root only: a read-only, nodev view of the host */
  const char *const *rw; /* the rw shares: writable in QEMU's namespace */
  size_t n_rw;
  int cap_last;
};
int runm_vm_spawn_confined(char **argv, const struct runm_vm_spawn *in, pid_t *pid,
                           runm_error_t *err);

/* What stopped VMs left running on their own, which their owner waits
 * for before it exits: the libvirt backend's tidy after QEMU ended (a
 * helper destroying the dead domain and removing its cgroup, QEMU's
 * keeper ending), off the stop's path (docs/libvirt.md, "Stop"). Each
 * process is bounded: killed at its deadline. */
struct runm_vm_tidy_proc {
  pid_t pid;
  int answer_fd;      /* a helper's answer ("OK" / "ERR ..."), or -1 */
  int64_t deadline_ns; /* CLOCK_REALTIME, as runm_now_ns */
  char what[160];
};
#define RUNM_VM_TIDY_MAX 8 /* a VM's stop leaves 2 */
struct runm_vm_tidy {
  pthread_mutex_t lock;
  struct runm_vm_tidy_proc procs[RUNM_VM_TIDY_MAX];
  size_t n;
};
void runm_vm_tidy_init(struct runm_vm_tidy *t);
/* -1 when t is full (the caller then waits itself). */
int runm_vm_tidy_add(struct runm_vm_tidy *t, pid_t pid, int answer_fd, int64_t deadline_ns,
                     const char *what);
/* Waits for child `pid` until deadline_ns (CLOCK_REALTIME, as
 * runm_now_ns), kills it then, and reaps it: 0 when it ended in time. */
int runm_vm_child_end(pid_t pid, int64_t deadline_ns);
/* Waits for each process until its deadline (then kills it), reaps it,
 * logs a helper's failure; t is empty after. */
void runm_vm_tidy_wait(struct runm_vm_tidy *t, const struct runm_logger *log);

struct runm_libvirt_vm;
/* A running VM. */
struct runm_vm {
  struct runm_vm_plan plan;
  char id[RUNM_VM_ID_MAX + 1];
  char qemu_name[RUNM_VM_ID_MAX + 8]; /* QEMU's -name: runm-<id it booted as> */
  pid_t pid;
  int pidfd;         /* -1 where the kernel has no pidfd_open */
  int64_t spawn_ns;  /* host CLOCK_REALTIME */
  int64_t ready_ns;  /* first Ping answered */
  struct runm_rpc_client *client; /* connected; NULL after runm_vm_drop_client */
  struct runm_vm_console *console;
  struct runm_vm_netfilter *netfilter;
  const struct runm_vm_backend *backend;
  struct runm_libvirt_vm *lv; /* the libvirt backend's part, else NULL */
  /* share_fs == virtiofs: each share's virtiofsd (runm's children), or -1. */
  pid_t fsd_pid[RUNM_VM_MAX_SHARES];
  size_t n_fsd;
};

/* Boot, wait for the first Ping. On failure nothing is left: no process, no
 * socket, no state dir; the error carries the console's last lines. */
int runm_vm_start(const struct runm_vm_config *cfg, const struct runm_logger *log,
                  struct runm_vm **out, runm_error_t *err);
/* Close the host's connection (a virtio-serial port carries one at a time). */
void runm_vm_drop_client(struct runm_vm *vm);
/* Kill the VM (TERM, then KILL after grace_ms), reap it, remove its state dir. */
int runm_vm_stop(struct runm_vm *vm, int64_t grace_ms, runm_error_t *err);
/* Waits for the VM process to exit (reaping it); returns its wait status. */
int runm_vm_wait(struct runm_vm *vm, int *status, runm_error_t *err);
void runm_vm_free(struct runm_vm *vm);
/* Gives a running VM a new id (a pooled VM becoming a container's): its
 * state dir is renamed and the plan's paths follow. QEMU and the owner keep
 * working: their sockets and files are open or bound, not looked up again.
 * QEMU keeps its -name (runm-<first id>); vm->qemu_name says what it is. */
int runm_vm_rename(struct runm_vm *vm, const char *new_id, runm_error_t *err);

/* Remove a VM state dir and what it holds (files only, one level). */
int runm_vm_remove_dir(const char *dir, runm_error_t *err);
/* Last `max` bytes of the console log, trimmed to whole lines. */
char *runm_vm_console_tail(const char *console_log, size_t max);

int64_t runm_now_ns(void);

/* state_dir.c: a state dir must be a directory (not a symlink) owned by the
 * effective uid that neither group nor others may write; else a clear
 * error. create: mkdir it (0700) first when missing. */
int runm_state_dir_check(const char *path, bool create, runm_error_t *err);
/* The same for one VM's dir, which must also be 0700. */
int runm_vm_dir_check(const char *path, runm_error_t *err);

/* A listening unix socket at path, mode 0600 (the path must not exist). */
int runm_listen_unix(const char *path, int backlog, runm_error_t *err);

/* vm_owner.c: serve the API proxy on plan.api_sock and write vm.info. */
struct runm_rpc_server;
int runm_vm_own(struct runm_vm *vm, const char *owner, struct runm_rpc_server **proxy,
                runm_error_t *err);

#endif

/* Starting QEMU confined. The guest is hostile and QEMU is the first thing
 * it attacks (device emulation, 9p, slirp), so QEMU runs with:
 *  - only the capabilities 9p passthrough needs to keep the guest's owners
 *    and modes (RUNM_VM_QEMU_CAPS); the bounding set is cut to the same, so
 *    exec as root gives exactly those, nothing can regain the rest;
 *  - no_new_privs (set-id and file capabilities do nothing);
 *  - QEMU's own seccomp policy (-sandbox, in vm_qemu.c);
 *  - its own mount namespace, a slave of the host's (host mounts made later,
 *    e.g. a pooled VM's binds, still reach it; nothing it mounts reaches the
 *    host), where every mount is read-only but the rw shares, and nodev but
 *    /dev: a QEMU taken over by the guest writes no host file outside the
 *    rw shares (not even its own state dir: vm.info names the pids the
 *    owner kills), and a device node in a share (from an image or planted)
 *    opens nothing on the host when the guest sends a raw 9p open for it.
 *    Mounts the host makes after QEMU started arrive with the host's flags
 *    where the host propagates them at all (a shared /); where it does not,
 *    a VM whose shares get mounts later (the pool) keeps the host's mount
 *    namespace (runm_vm_config.late_mounts);
 *  - in the namespace mode, the task's network namespace (setns first,
 *    while it still has CAP_SYS_ADMIN), so that /proc/<QEMU>/ns/net is the
 *    namespace CNI configures and hooks are given.
 *
 * Why a hand-written fork and not posix_spawn or setpriv/unshare: the parent
 * runs gRPC threads, so the child may only make raw system calls before exec
 * (no malloc, no locks). _Fork skips the atfork handlers (gRPC's among
 * them); everything the child needs (argv, the binary's path, the fds) is
 * prepared before it. util-linux's setpriv/unshare would do the same work in
 * two more execs and give no error detail back; a pipe closed by exec does:
 * the child writes the failing step and errno on it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm.h"

extern char **environ;
pid_t _Fork(void);

/* Measured with the e2e suites (docs/security.md): runc in
 * the guest chowns and chmods files of any owner in the rootfs and volumes,
 * and writes files it does not own; FSETID keeps set-id bits as the image
 * has them. Not MKNOD: a device node created through 9p would be a host
 * device node. Not DAC_READ_SEARCH/SYS_ADMIN/NET_*: nothing in QEMU needs
 * them. */
static const int qemu_caps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID};

/* The steps the child reports on failure. */
static const char *const step_names[] = {
    "setsid", "signals", "stdio", "network namespace", "mount namespace", "mount propagation", "read-only mounts",
    "rw share mount", "bounding set", "capabilities", "no_new_privs", "exec"};
enum { ST_SETSID, ST_SIGNALS, ST_STDIO, ST_NETNS, ST_UNSHARE, ST_SLAVE, ST_RDONLY, ST_RWSHARE, ST_BSET,
       ST_CAPS, ST_NNP, ST_EXEC };

struct child_report {
  int step, err;
};

/* Resolves argv0 like execvp would, before the fork (the child may not
 * allocate). */
static int resolve(const char *argv0, char *out, size_t len, runm_error_t *err)
{
  const char *path = getenv("PATH");
  if (strchr(argv0, '/')) {
    snprintf(out, len, "%s", argv0);
    return 0;
  }
  if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    if (n > 0 && snprintf(out, len, "%.*s/%s", (int)n, path, argv0) < (int)len &&
        access(out, X_OK) == 0)
      return 0;
    path += n;
    if (*path == ':') path++;
  }
  return runm_make_error(err, ENOENT, "start `%s`: not found in PATH", argv0);
}

static void child_fail(int fd, int step)
{
  struct child_report r = {.step = step, .err = errno};
  ssize_t w = write(fd, &r, sizeof(r));
  (void)w;
  _exit(127);
}

/* Runs in the child between _Fork and exec: raw system calls only. */
static void child(const char *path, char **argv, const struct runm_vm_spawn *sp, int report_fd)
{
  sigset_t none;
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
  struct __user_cap_data_struct data[2] = {{0}};
  bool root = geteuid() == 0;

  /* Own session: a terminal's ^C goes to runm, which then stops the VM. */
  if (setsid() < 0) child_fail(report_fd, ST_SETSID);
  for (int s = 1; s < 65; s++) {
    struct sigaction sa = {.sa_handler = SIG_DFL};
    if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33) continue;
    (void)sigaction(s, &sa, NULL); /* some numbers are the C library's own */
  }
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) child_fail(report_fd, ST_SIGNALS);
  /* fds 0-2, the channel socket at 3, the network filter's at 4 and 5,
   * the TAP device at 6;
   * everything else is O_CLOEXEC. The sources sit above 9 (moved there by the parent), so no dup2 here
   * overwrites another's source. */
  if (dup2(sp->stdin_fd, 0) < 0 || dup2(sp->stdout_fd, 1) < 0 || dup2(sp->stderr_fd, 2) < 0 ||
      (sp->rpc_fd >= 0 && dup2(sp->rpc_fd, 3) < 0) ||
      (sp->nf_out_fd >= 0 && dup2(sp->nf_out_fd, RUNM_VM_NETFILTER_OUT_FD) < 0) ||
      (sp->nf_in_fd >= 0 && dup2(sp->nf_in_fd, RUNM_VM_NETFILTER_IN_FD) < 0) ||
      (sp->tap_fd >= 0 && dup2(sp->tap_fd, RUNM_VM_TAP_FD) < 0))
    child_fail(report_fd, ST_STDIO);
  if (sp->netns_fd >= 0 && setns(sp->netns_fd, CLONE_NEWNET) < 0) child_fail(report_fd, ST_NETNS);

  if (root && sp->own_mount_ns) {
    if (unshare(CLONE_NEWNS) < 0) child_fail(report_fd, ST_UNSHARE);
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) child_fail(report_fd, ST_SLAVE);
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV};
    struct mount_attr dev = {.attr_clr = MOUNT_ATTR_NODEV};
    struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) < 0)
      child_fail(report_fd, ST_RDONLY);
    /* /dev/kvm, /dev/vhost-vsock, /dev/null: device nodes open read-write
     * on a read-only mount; only nodev must go. */
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/dev", AT_RECURSIVE, &dev, sizeof(dev)) < 0)
      child_fail(report_fd, ST_RDONLY);
    /* The rw shares become mounts of their own (a bind onto themselves,
     * slaves like their source) and writable again, still nodev. */
    for (size_t i = 0; i < sp->n_rw; i++) {
      if (mount(sp->rw[i], sp->rw[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
          syscall(SYS_mount_setattr, AT_FDCWD, sp->rw[i], AT_RECURSIVE, &rw, sizeof(rw)) < 0)
        child_fail(report_fd, ST_RWSHARE);
    }
  }
  if (root) {
    /* Cut the bounding set: exec as uid 0 then grants exactly this set. */
    for (int c = 0; c <= sp->cap_last; c++) {
      bool keep = false;
      for (size_t i = 0; i < sizeof(qemu_caps) / sizeof(qemu_caps[0]); i++)
        if (qemu_caps[i] == c) keep = true;
      if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) child_fail(report_fd, ST_BSET);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) child_fail(report_fd, ST_CAPS);
    for (size_t i = 0; i < sizeof(qemu_caps) / sizeof(qemu_caps[0]); i++) {
      data[qemu_caps[i] / 32].effective |= 1u << (qemu_caps[i] % 32);
      data[qemu_caps[i] / 32].permitted |= 1u << (qemu_caps[i] % 32);
    }
    if (syscall(SYS_capset, &hdr, data) < 0) child_fail(report_fd, ST_CAPS);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(report_fd, ST_NNP);
  execve(path, argv, environ);
  child_fail(report_fd, ST_EXEC);
}

/* fd moved to >= 10 with O_CLOEXEC (dup'd), so the child's dup2 targets
 * 0-3 never collide with a source. Returns the new fd or -1. */
static int high_fd(int fd)
{
  return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

int runm_vm_spawn_confined(char **argv, const struct runm_vm_spawn *in, pid_t *pid,
                           runm_error_t *err)
{
  char path[4096];
  int rp[2];
  struct runm_vm_spawn sp = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .rpc_fd = -1,
                             .nf_out_fd = -1, .nf_in_fd = -1, .tap_fd = -1, .netns_fd = -1};
  struct child_report r;
  ssize_t n;
  cleanup_file FILE *f = NULL;

  *pid = -1;
  if (resolve(argv[0], path, sizeof(path), err) < 0) return -1;
  /* The running kernel may know more capabilities than our headers. */
  f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f == NULL || fscanf(f, "%d", &sp.cap_last) != 1 || sp.cap_last < 0 || sp.cap_last > 63)
    sp.cap_last = CAP_LAST_CAP;
  sp.stdin_fd = high_fd(in->stdin_fd);
  sp.stdout_fd = high_fd(in->stdout_fd);
  sp.stderr_fd = high_fd(in->stderr_fd);
  sp.rpc_fd = high_fd(in->rpc_fd);
  sp.nf_out_fd = high_fd(in->nf_out_fd);
  sp.nf_in_fd = high_fd(in->nf_in_fd);
  sp.tap_fd = high_fd(in->tap_fd);
  sp.netns_fd = high_fd(in->netns_fd);
  sp.rw = in->rw;
  sp.n_rw = in->n_rw;
  sp.own_mount_ns = in->own_mount_ns;
  if (sp.stdin_fd < 0 || sp.stdout_fd < 0 || sp.stderr_fd < 0 || (in->rpc_fd >= 0 && sp.rpc_fd < 0) ||
      (in->nf_out_fd >= 0 && sp.nf_out_fd < 0) || (in->nf_in_fd >= 0 && sp.nf_in_fd < 0) ||
      (in->tap_fd >= 0 && sp.tap_fd < 0) || (in->netns_fd >= 0 && sp.netns_fd < 0) ||
      pipe2(rp, O_CLOEXEC) < 0) {
    runm_make_error(err, errno, "prepare QEMU's fds");
    goto out;
  }
  *pid = _Fork();
  if (*pid == 0) child(path, argv, &sp, rp[1]);
  close(rp[1]);
  if (*pid < 0) {
    runm_make_error(err, errno, "fork for `%s`", argv[0]);
    close(rp[0]);
    goto out;
  }
  do
    n = read(rp[0], &r, sizeof(r));
  while (n < 0 && errno == EINTR);
  close(rp[0]);
  if (n == (ssize_t)sizeof(r)) {
    int status;
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
    *pid = -1;
    runm_make_error(err, r.err, "start `%s`: confine (%s)", argv[0],
                    r.step >= 0 && r.step <= ST_EXEC ? step_names[r.step] : "?");
    goto out;
  }
out:
  if (sp.stdin_fd >= 0) close(sp.stdin_fd);
  if (sp.stdout_fd >= 0) close(sp.stdout_fd);
  if (sp.stderr_fd >= 0) close(sp.stderr_fd);
  if (sp.rpc_fd >= 0) close(sp.rpc_fd);
  if (sp.nf_out_fd >= 0) close(sp.nf_out_fd);
  if (sp.nf_in_fd >= 0) close(sp.nf_in_fd);
  if (sp.tap_fd >= 0) close(sp.tap_fd);
  if (sp.netns_fd >= 0) close(sp.netns_fd);
  return *pid > 0 ? 0 : -1;
}

/* virtio-fs shares (share_fs = virtiofs): one Debian virtiofsd per share,
 * runm's child, started before QEMU and ended with it. runm binds the
 * vhost-user socket (<vm dir>/vfsN.sock, 0700 dir) and hands the listening
 * fd to virtiofsd (--fd), so QEMU's connect never races virtiofsd's start.
 * Confinement (docs/security.md "virtio-fs shares"):
 *  - sandbox=namespace: its own mount, pid and net namespaces, pivot_root
 *    into the share (the export dir, whose ro items are read-only binds on
 *    the host); sandbox=chroot when mounts arrive after the start (a pooled
 *    VM: a private host / does not propagate them into a new namespace);
 *  - its built-in seccomp filter; capabilities cut to its default set less
 *    mknod and setfcap (no device node, no file capability from the guest);
 *  - no xattrs, no remote locks, bounded fds (--rlimit-nofile) and no
 *    thread pool (the virtqueue thread serves requests: bounded threads);
 *  - its stderr goes to QEMU's capped log pipe (vm_console.c), errors only. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm_backend.h"

extern char **environ;

/* Each looked-up inode holds an O_PATH fd in virtiofsd until the guest
 * forgets it: the cap bounds what a guest walking a huge tree can pin. */
#define VIRTIOFSD_NOFILE "65536"

const char *runm_virtiofsd_path(void)
{
  const char *p = getenv("RUNM_VIRTIOFSD");
  return p && *p ? p : RUNM_VIRTIOFSD_DEFAULT;
}

void runm_virtiofsd_sock(const struct runm_vm_plan *plan, size_t i, char *out, size_t len)
{
  snprintf(out, len, "%s/vfs%zu.sock", plan->dir, i);
}

static int spawn_one(const char *bin, const char *source, bool chroot_sandbox, int lfd,
                     int out_fd, pid_t *pid, runm_error_t *err)
{
  char src_opt[1100], fd_opt[32];
  char *argv[] = {(char *)bin, fd_opt, "-o", src_opt, "-o",
                  chroot_sandbox ? "sandbox=chroot" : "sandbox=namespace",
                  "-o", "cache=auto", "-o", "no_xattr", "-o", "no_posix_lock", "-o", "no_flock",
                  "-o", "announce_submounts", "-o", "modcaps=-mknod:-setfcap",
                  "-o", "log_level=err", "--rlimit-nofile=" VIRTIOFSD_NOFILE,
                  "--thread-pool-size=0", NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  int r, hl = fcntl(lfd, F_DUPFD_CLOEXEC, 10), ho = fcntl(out_fd, F_DUPFD_CLOEXEC, 10);

  if (hl < 0 || ho < 0) {
    r = errno;
    if (hl >= 0) close(hl);
    if (ho >= 0) close(ho);
    return runm_make_error(err, r, "prepare virtiofsd's fds");
  }
  snprintf(fd_opt, sizeof(fd_opt), "--fd=3");
  if ((size_t)snprintf(src_opt, sizeof(src_opt), "source=%s", source) >= sizeof(src_opt)) {
    close(hl);
    close(ho);
    return runm_make_error(err, ENAMETOOLONG, "share `%s`", source);
  }
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  /* Own session (a terminal's ^C goes to runm, which stops the VM), no
   * inherited mask or handlers. */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, ho, 1);
  posix_spawn_file_actions_adddup2(&fa, ho, 2);
  posix_spawn_file_actions_adddup2(&fa, hl, 3);
  r = posix_spawn(pid, bin, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(hl);
  close(ho);
  if (r != 0) {
    *pid = -1;
    return runm_make_error(err, r, "start virtiofsd `%s` for share `%s`", bin, source);
  }
  return 0;
}

int runm_virtiofsd_start(const struct runm_vm_config *cfg, struct runm_vm *vm, int out_fd,
                         runm_error_t *err)
{
  const char *bin = runm_virtiofsd_path();

  vm->n_fsd = 0;
  if (cfg->share_fs != RUNM_SHARE_VIRTIOFS) return 0;
  if (access(bin, X_OK) < 0)
    return runm_make_error(err, errno, "share_fs = virtiofs needs virtiofsd at `%s` "
                                       "(Debian's qemu-system-common; or set RUNM_VIRTIOFSD)", bin);
  for (size_t i = 0; i < cfg->n_shares && i < RUNM_VM_MAX_SHARES; i++) {
    char sock[320];
    int lfd;
    pid_t pid;

    runm_virtiofsd_sock(&vm->plan, i, sock, sizeof(sock));
    lfd = runm_listen_unix(sock, 1, err);
    if (lfd < 0) goto fail;
    if (spawn_one(bin, cfg->shares[i].path, cfg->late_mounts, lfd, out_fd, &pid, err) < 0) {
      close(lfd);
      goto fail;
    }
    close(lfd);
    vm->fsd_pid[vm->n_fsd++] = pid;
  }
  return 0;
fail:
  runm_virtiofsd_stop(vm);
  return -1;
}

void runm_virtiofsd_stop(struct runm_vm *vm)
{
  for (size_t i = 0; i < vm->n_fsd; i++) {
    int status;
    if (vm->fsd_pid[i] <= 0) continue;
    /* It exits by itself when QEMU's connection closes; this covers a
     * QEMU that never connected. */
    kill(vm->fsd_pid[i], SIGKILL);
    while (waitpid(vm->fsd_pid[i], &status, 0) < 0 && errno == EINTR) {
    }
    vm->fsd_pid[i] = -1;
  }
  vm->n_fsd = 0;
}

/* The qemu backend's process side: QEMU as runm's own confined child
 * (vm_spawn.c) with the argv of vm_qemu.c, its console and QEMU's stderr
 * on pipes the owner drains, the network filter on socket pairs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm_backend.h"

int runm_qemu_spawn(const struct runm_vm_config *cfg, struct runm_vm *vm, int lfd,
                    runm_error_t *err)
{
  char **argv = NULL;
  struct runm_vm_spawn sp = {.rpc_fd = lfd, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                            .nf_out_fd = -1, .nf_in_fd = -1, .tap_fd = -1, .netns_fd = -1};
  const char *rw[2 * RUNM_VM_MAX_SHARES];
  int ret;

  /* virtio-fs: virtiofsd opens the share's files, QEMU none; its view of
   * the host stays read-only throughout. */
  for (size_t i = 0; cfg->share_fs == RUNM_SHARE_9P && i < cfg->n_shares && i < RUNM_VM_MAX_SHARES; i++) {
    const struct runm_vm_share *s = &cfg->shares[i];
    if (s->rw_paths) {
      for (size_t k = 0; k < s->n_rw_paths; k++) {
        if (sp.n_rw >= sizeof(rw) / sizeof(rw[0]))
          return runm_make_error(err, E2BIG, "more than %zu writable paths in the shares", sizeof(rw) / sizeof(rw[0]));
        rw[sp.n_rw++] = s->rw_paths[k];
      }
    } else if (!s->readonly && sp.n_rw < sizeof(rw) / sizeof(rw[0])) {
      rw[sp.n_rw++] = s->path;
    }
  }
  sp.rw = rw;
  sp.own_mount_ns = !cfg->late_mounts;
  if (cfg->net == RUNM_NET_TAP) {
    sp.tap_fd = cfg->tap_fd;
    sp.netns_fd = cfg->netns_fd;
  }

  ret = runm_vm_backend_qemu.build_argv(cfg, &vm->plan,
                                        vm->plan.transport == RUNM_TRANSPORT_SERIAL ? 3 : -1,
                                        &argv, err);
  if (ret == 0) ret = runm_vm_console_start(vm->plan.dir, &vm->console, &sp.stdout_fd,
                                            &sp.stderr_fd, err);
  if (ret == 0 && cfg->net == RUNM_NET_USER)
    ret = runm_vm_netfilter_start(cfg->host_loopback, cfg->ports, cfg->n_ports, &vm->netfilter,
                                  &sp.nf_out_fd, &sp.nf_in_fd, err);
  if (ret == 0) {
    sp.stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (sp.stdin_fd < 0) ret = runm_make_error(err, errno, "open /dev/null");
  }
  if (ret == 0) ret = runm_virtiofsd_start(cfg, vm, sp.stderr_fd, err);
  if (ret == 0) {
    vm->spawn_ns = runm_now_ns();
    ret = runm_vm_spawn_confined(argv, &sp, &vm->pid, err);
    if (ret < 0) runm_virtiofsd_stop(vm);
  }
  if (sp.stdin_fd >= 0) close(sp.stdin_fd);
  if (sp.stdout_fd >= 0) close(sp.stdout_fd);
  if (sp.stderr_fd >= 0) close(sp.stderr_fd);
  if (sp.nf_out_fd >= 0) close(sp.nf_out_fd);
  if (sp.nf_in_fd >= 0) close(sp.nf_in_fd);
  if (lfd >= 0) close(lfd);
  runm_argv_free(argv);
  if (ret < 0) return -1;
  vm->pidfd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
  return 0;
}


void runm_qemu_kill(struct runm_vm *vm)
{
  int status;
  if (vm->pid <= 0) return;
  kill(vm->pid, SIGKILL);
  while (waitpid(vm->pid, &status, 0) < 0 && errno == EINTR) {
  }
  vm->pid = -1;
  runm_virtiofsd_stop(vm);
  /* QEMU is gone: keep its last words, then the files are complete. */
  runm_vm_console_stop(vm->console);
  vm->console = NULL;
  runm_vm_netfilter_stop(vm->netfilter);
  vm->netfilter = NULL;
}

void runm_qemu_term(struct runm_vm *vm)
{
  if (vm->pid > 0) kill(vm->pid, SIGTERM);
}

int runm_qemu_wait(struct runm_vm *vm, int *status, runm_error_t *err)
{
  while (waitpid(vm->pid, status, 0) < 0) {
    if (errno != EINTR) return runm_make_error(err, errno, "wait for VM `%s`", vm->id);
  }
  runm_virtiofsd_stop(vm);
  return 0;
}

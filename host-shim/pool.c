/* The VM pool (docs/pool.md). Layout under the state dir:
 *   pool/<hash of containerd's address>/pool_<pid>.boot  an idle shim, from spawn to claim
 *   pool/<hash>/pool_<pid>.sock   its claim socket (SOCK_SEQPACKET), once its VM answers
 *   pool/<hash>/last-error        why the last idle shim failed to boot
 *   shares/<boot id>/             a pooled VM's files that must keep their names when
 *                                 the VM takes the task's (QEMU holds their paths):
 *   shares/<boot id>/host.sock    the runm.v1.Host socket QEMU reconnects to
 *   shares/<boot id>/x/           the VM's one 9p export: a read-only bind of
 *                                 itself holding empty dirs 0..15, made before boot
 *   shares/<boot id>/x/N          the task's exports (exports.h), bound at Prepare
 * A claim is one message: the task's identity (NUL-separated fields) with
 * the task's listening socket attached; the answer is "ok" or an error. An
 * idle shim takes one claim and then is that task's shim, like any other. */
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cleanup.h"
#include "exports.h"
#include "hooks.h"
#include "pool_claim.h"
#include "rpc.h"
#include "config.h"
#include "names.h"
#include "vm_info.h"
#include "unix_socket.h"

extern char **environ;

#define POOL_NICE 19

static bool pid_alive(pid_t pid)
{
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Idle shims of this pool that still run; stale records are removed. */
static unsigned count_live(const char *dir)
{
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  unsigned n = 0;

  if (d == NULL) return 0;
  while ((de = readdir(d))) {
    char path[PATH_MAX + 300], buf[32] = "";
    size_t l = strlen(de->d_name);
    cleanup_close int fd = -1;
    if (l < 6 || strcmp(de->d_name + l - 5, ".boot") != 0) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && pid_alive((pid_t)atoi(buf))) {
      n++;
      continue;
    }
    unlink(path);
    snprintf(path + strlen(path) - 5, 8, ".sock");
    unlink(path);
  }
  return n;
}

int pool_refill(const struct shim_config *cfg, const struct pool_claim *c, runm_error_t *err)
{
  char dir[PATH_MAX], lock[PATH_MAX + 8];
  cleanup_close int lfd = -1;
  unsigned live;

  if (cfg->pool_size == 0) return 0;
  if (pool_dir_of(cfg, c->address, dir, sizeof(dir), err) < 0) return -1;
  /* Two starts at once must not both fill the same gap. */
  snprintf(lock, sizeof(lock), "%s/.lock", dir);
  lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0 || lockf(lfd, F_LOCK, 0) < 0) return runm_make_error(err, errno, "lock `%s`", lock);
  live = count_live(dir);
  for (; live < cfg->pool_size; live++) {
    char *argv[16];
    int a = 0, r;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char rec[PATH_MAX + 64], pidbuf[24];
    cleanup_close int rfd = -1;

    argv[a++] = "containerd-shim-runm-v1";
    argv[a++] = "-namespace";
    argv[a++] = (char *)c->ns;
    argv[a++] = "-address";
    argv[a++] = (char *)c->address;
    argv[a++] = "-publish-binary";
    argv[a++] = (char *)c->publish_binary;
    argv[a++] = "-id";
    argv[a++] = "pool";
    if (c->debug) argv[a++] = "-debug";
    argv[a++] = "pool";
    argv[a] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    r = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0) return runm_make_error(err, r, "spawn a pooled shim");
    /* Recorded here, under the lock, so the next count sees it at once. */
    snprintf(rec, sizeof(rec), "%s/pool_%d.boot", dir, (int)pid);
    snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)pid);
    rfd = open(rec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (rfd < 0 || write(rfd, pidbuf, strlen(pidbuf)) < 0) {
      kill(pid, SIGTERM);
      return runm_make_error(err, errno, "write `%s`", rec);
    }
  }
  return 0;
}

/* ---- the idle shim ------------------------------------------------------- */

static void set_error_note(const char *dir, runm_error_t e)
{
  char path[PATH_MAX + 16];
  cleanup_free char *msg = runm_error_string(e);
  cleanup_close int fd = -1;
  snprintf(path, sizeof(path), "%s/last-error", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0 && msg && write(fd, msg, strlen(msg)) < 0) {
    /* a note only */
  }
}

/* Every thread of pid to nice n (nice is per thread on Linux). */
static void renice_all(pid_t pid, int n)
{
  char path[64];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  d = opendir(path);
  if (d == NULL) return;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') setpriority(PRIO_PROCESS, (id_t)atoi(de->d_name), n);
}

/* Removes <state>/shares/<name> and whatever is mounted in it; never
 * follows a symlink (exports_remove_at). */
static int shares_remove(const char *state_dir, const char *name, runm_error_t *err)
{
  char parent[PATH_MAX], dir[PATH_MAX + 300];
  cleanup_close int pfd = -1;

  if (name[0] == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return runm_make_error(err, EINVAL, "pool share name `%s`", name);
  snprintf(parent, sizeof(parent), "%s/shares", state_dir);
  snprintf(dir, sizeof(dir), "%s/%s", parent, name);
  pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open `%s`", parent);
  /* D, D/x, D/x/N: two levels. */
  return exports_remove_at(pfd, name, dir, 2, err);
}

static void remove_share_dir(const struct pool_vm *pv)
{
  cleanup_error runm_error_t err = NULL;
  if (pv->state_dir[0] && pv->boot_id[0]) shares_remove(pv->state_dir, pv->boot_id, &err);
}

/* D/x with its mount points 0..RUNM_VM_MAX_SHARES-1, then read-only: the
 * guest can write only inside what Prepare binds there, never next to it
 * (no planted names, nothing stored on the state dir's tmpfs). */
static int make_share_root(struct pool_vm *pv, runm_error_t *err)
{
  char d[PATH_MAX + 16];
  if (mkdir(pv->share_dir, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", pv->share_dir);
  for (int i = 0; i < RUNM_VM_MAX_SHARES; i++) {
    snprintf(d, sizeof(d), "%s/%d", pv->share_dir, i);
    if (mkdir(d, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", d);
  }
  if (mount(pv->share_dir, pv->share_dir, NULL, MS_BIND, NULL) < 0)
    return runm_make_error(err, errno, "bind `%s`", pv->share_dir);
  if (mount(NULL, pv->share_dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            NULL) < 0)
    return runm_make_error(err, errno, "remount `%s` read-only", pv->share_dir);
  return 0;
}

static int boot(const struct shim_config *cfg, const struct runm_logger *log, const char *vm_id,
                struct pool_vm *pv, runm_error_t *err)
{
  struct runm_vm_config vc = {0};
  struct runm_vm_share share;
  char sdir[PATH_MAX], d[PATH_MAX + 64];

  snprintf(pv->state_dir, sizeof(pv->state_dir), "%s", cfg->state_dir);
  snprintf(pv->boot_id, sizeof(pv->boot_id), "%s", vm_id);
  snprintf(sdir, sizeof(sdir), "%s/shares", cfg->state_dir);
  if (mkdir(sdir, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", sdir);
  snprintf(d, sizeof(d), "%s/%s", sdir, vm_id);
  if (snprintf(pv->share_dir, sizeof(pv->share_dir), "%s/x", d) >= (int)sizeof(pv->share_dir) ||
      snprintf(pv->host_sock, sizeof(pv->host_sock), "%s/host.sock", d) >= (int)sizeof(pv->host_sock))
    return runm_make_error(err, ENAMETOOLONG, "share dir for `%s`", vm_id);
  if (mkdir(d, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", d);
  if (make_share_root(pv, err) < 0) {
    remove_share_dir(pv);
    return -1;
  }
  snprintf(pv->share_guest, sizeof(pv->share_guest), "%s", pv->share_dir);
  share = (struct runm_vm_share){.path = pv->share_dir, .readonly = false};
  shim_vm_config_base(cfg, &vc);
  vc.id = vm_id;
  vc.shares = &share;
  vc.n_shares = 1;
  vc.late_mounts = true; /* the claim binds the task's dirs into the share */
  pv->mem_mib = vc.mem_mib;
  pv->vcpus = vc.vcpus;
  /* The hooks' channel is fixed at boot; its allow-list comes at Create.
   * Its socket stays where QEMU was told, whatever the VM is renamed to:
   * QEMU reconnects there after a disconnect. */
  if (hooks_new(log, &pv->hooks, err) < 0) {
    remove_share_dir(pv);
    return -1;
  }
  vc.host_listen = hooks_listen;
  vc.host_opaque = pv->hooks;
  vc.host_sock = pv->host_sock;
  if (runm_vm_start(&vc, log, &pv->vm, err) < 0) {
    hooks_free(pv->hooks);
    pv->hooks = NULL;
    remove_share_dir(pv);
    return -1;
  }
  if (runm_vm_own(pv->vm, "pool", &pv->proxy, err) < 0) {
    cleanup_error runm_error_t e2 = NULL;
    runm_vm_stop(pv->vm, 2000, &e2);
    runm_vm_free(pv->vm);
    pv->vm = NULL;
    hooks_free(pv->hooks);
    pv->hooks = NULL;
    remove_share_dir(pv);
    return -1;
  }
  return 0;
}

static void drop(struct pool_vm *pv)
{
  cleanup_error runm_error_t err = NULL;
  if (pv->proxy) runm_rpc_server_free(pv->proxy);
  pv->proxy = NULL;
  if (pv->vm) {
    runm_vm_stop(pv->vm, 2000, &err);
    runm_vm_free(pv->vm);
    pv->vm = NULL;
  }
  hooks_free(pv->hooks);
  pv->hooks = NULL;
  remove_share_dir(pv);
}

/* The claimed VM takes the task's name: `runmctl` and `delete` find it by
 * container id, like a VM booted for the task. */
static int adopt(struct pool_vm *pv, const struct pool_claim *c, runm_error_t *err)
{
  char vm_id[80];
  struct runm_vm_info info;

  shim_vm_id(c->ns, c->id, vm_id, sizeof(vm_id));
  /* The VM dir takes the task's name; shares/<boot id> keeps its own (a
   * mount point cannot be renamed, and QEMU holds host.sock's path).
   * `delete` finds it by vm.info's qemu_name. */
  if (runm_vm_rename(pv->vm, vm_id, err) < 0) return -1;
  hooks_set_state_dir(pv->hooks, pv->vm->plan.dir);
  if (runm_vm_info_read(pv->vm->plan.dir, &info, err) < 0) return -1;
  snprintf(info.id, sizeof(info.id), "%s", vm_id);
  snprintf(info.owner, sizeof(info.owner), "shim");
  snprintf(info.socket, sizeof(info.socket), "%s", pv->vm->plan.api_sock);
  snprintf(info.console, sizeof(info.console), "%s", pv->vm->plan.console_log);
  return runm_vm_info_write(pv->vm->plan.dir, &info, err);
}

int pool_idle_run(const struct shim_config *cfg, const char *address, const char *publish_binary,
                  const struct runm_logger *log, struct pool_vm *pv, struct pool_claim *c, int *lfd,
                  runm_error_t *err)
{
  char dir[PATH_MAX], vm_id[40], boot_rec[PATH_MAX + 64], sock[PATH_MAX + 64];
  cleanup_close int sfd = -1, cfd_listen = -1;
  sigset_t mask;
  int64_t deadline;
  int ret = 0;

  memset(pv, 0, sizeof(*pv));
  *lfd = -1;
  if (pool_dir_of(cfg, address, dir, sizeof(dir), err) < 0) return -1;
  /* `pool_<pid>`: no task's VM id (shim_vm_id) has this form, so a task
   * named `pool`/`<pid>` cannot share a spare's dir. */
  snprintf(vm_id, sizeof(vm_id), "pool_%d", (int)getpid());
  snprintf(boot_rec, sizeof(boot_rec), "%s/%s.boot", dir, vm_id);
  snprintf(sock, sizeof(sock), "%s/%s.sock", dir, vm_id);
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) {
    ret = runm_make_error(err, errno, "signalfd");
    goto out;
  }
  /* A spare VM boots in the CPU time nobody else wants; the claim gives
   * it (and this shim) normal priority back. */
  renice_all(getpid(), POOL_NICE);
  if (boot(cfg, log, vm_id, pv, err) < 0) {
    set_error_note(dir, *err);
    ret = -1;
    goto out;
  }
  /* runm_unix_listen makes the socket 0600 itself: the shim's umask stays
   * as it came, so what it makes later (resolv.conf, files hooks write)
   * keeps its mode (a umask of 077 once made resolv.conf 0600). */
  cfd_listen = runm_unix_listen(sock, SOCK_SEQPACKET, 8, err);
  if (cfd_listen < 0) {
    ret = runm_error_wrap(err, "claim socket");
    goto out;
  }
  runm_log(log, RUNM_LOG_INFO, "pooled VM %s ready in %.3f s", vm_id,
           (pv->vm->ready_ns - pv->vm->spawn_ns) / 1e9);
  deadline = runm_now_ns() + (int64_t)cfg->pool_idle_timeout_s * 1000000000LL;
  for (;;) {
    struct pollfd p[3] = {{.fd = cfd_listen, .events = POLLIN},
                          {.fd = sfd, .events = POLLIN},
                          {.fd = pv->vm->pidfd, .events = POLLIN}};
    int64_t left = (deadline - runm_now_ns()) / 1000000;
    int r;
    if (left <= 0) {
      runm_log(log, RUNM_LOG_INFO, "pooled VM %s unused for %u s: stopping it", vm_id,
               cfg->pool_idle_timeout_s);
      goto out;
    }
    r = poll(p, pv->vm->pidfd >= 0 ? 3 : 2, left > 60000 ? 60000 : (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ret = runm_make_error(err, errno, "poll");
      goto out;
    }
    if (p[1].revents) goto out; /* SIGTERM/SIGINT: stop the spare */
    if (p[2].revents) {
      ret = runm_make_error(err, EPIPE, "pooled VM %s exited while idle", vm_id);
      set_error_note(dir, *err);
      goto out;
    }
    if (p[0].revents & POLLIN) {
      cleanup_close int cfd = accept4(cfd_listen, NULL, NULL, SOCK_CLOEXEC);
      if (cfd < 0) continue;
      if (!pool_claim_take(cfd, address, c, lfd, log)) continue;
      /* Off the market before answering: nobody else can claim it. */
      unlink(sock);
      close(cfd_listen);
      cfd_listen = -1;
      if (adopt(pv, c, err) < 0) {
        pool_claim_reply(cfd, "error: cannot adopt the VM");
        close(*lfd);
        *lfd = -1;
        ret = -1;
        goto out;
      }
      renice_all(getpid(), 0);
      renice_all(pv->vm->pid, 0);
      /* Before the answer: `start` refills the pool as soon as it has it,
       * and must not count this shim as a spare any more. */
      unlink(boot_rec);
      if (pool_claim_reply(cfd, "ok") < 0) {
        /* `start` gave up waiting and started a shim of its own. */
        close(*lfd);
        *lfd = -1;
        ret = runm_make_error(err, EPIPE, "claim for %s/%s abandoned", c->ns, c->id);
        goto out;
      }
      (void)publish_binary;
      return 1;
    }
  }
out:
  if (cfd_listen >= 0) unlink(sock);
  unlink(boot_rec);
  drop(pv);
  return ret;
}

/* ---- the claimed shim ---------------------------------------------------- */

bool pool_vm_fits(const struct pool_vm *pv, unsigned mem_mib, unsigned vcpus)
{
  return pv->vm != NULL && mem_mib <= pv->mem_mib && vcpus <= pv->vcpus;
}

int pool_vm_prepare(struct pool_vm *pv, const char *hostname, const struct runm_vm_share *shares,
                    size_t n, runm_error_t *err)
{
  uint8_t seed[64];
  struct exports_prepare pr = {0};

  if (n > RUNM_VM_MAX_SHARES) return runm_make_error(err, E2BIG, "%zu shares; at most %d", n, RUNM_VM_MAX_SHARES);
  for (size_t i = 0; i < n; i++) {
    char dst[PATH_MAX + 16], proc[64];
    unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
    cleanup_close int dfd = -1;
    const char *gp = shares[i].guest_path ? shares[i].guest_path : shares[i].path;
    if (runm_vm_share_check(shares[i].path, err) < 0 || runm_vm_share_check(gp, err) < 0) return -1;
    snprintf(dst, sizeof(dst), "%s/%zu", pv->share_dir, i);
    /* Made before boot, in a dir the guest cannot write: still, mount on
     * the directory itself, never through a symlink. */
    dfd = open(dst, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return runm_make_error(err, errno, "open `%s`", dst);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
    if (mount(shares[i].path, proc, NULL, MS_BIND | MS_REC, NULL) < 0)
      return runm_make_error(err, errno, "bind `%s` into the pooled VM's share", shares[i].path);
    pv->n_binds = (unsigned)i + 1;
    /* Read-only at the share as well as in the guest. */
    if (shares[i].readonly && mount(NULL, dst, NULL, ro, NULL) < 0)
      return runm_make_error(err, errno, "remount `%s` read-only", dst);
  }
  /* A fresh clock, entropy and hostname with the binds: one call. */
  if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) return runm_make_error(err, errno, "getrandom");
  pr.hostname = hostname;
  pr.realtime_ns = runm_clock_ns(CLOCK_REALTIME);
  pr.entropy = seed;
  pr.entropy_len = sizeof(seed);
  if (exports_guest_bind(pv->vm->client, &pr, pv->share_guest, shares, n, err) < 0)
    return runm_error_wrap(err, "prepare the pooled VM");
  return 0;
}

int pool_vm_release(struct pool_vm *pv, runm_error_t *err)
{
  int ret = 0;
  for (unsigned i = pv->n_binds; i-- > 0;) {
    char dst[PATH_MAX + 16];
    snprintf(dst, sizeof(dst), "%s/%u", pv->share_dir, i);
    if (umount2(dst, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT && ret == 0)
      ret = runm_make_error(err, errno, "unmount `%s`", dst);
  }
  pv->n_binds = 0;
  if (ret == 0 && pv->boot_id[0]) ret = shares_remove(pv->state_dir, pv->boot_id, err);
  return ret;
}

int pool_shares_remove(const char *state_dir, const char *name, runm_error_t *err)
{
  return shares_remove(state_dir, name, err);
}

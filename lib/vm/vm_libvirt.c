/* The libvirt backend: each VM is a transient libvirt domain named after
 * the VM (runm-<id it booted as>, as QEMU's -name in the qemu backend),
 * created from vm_libvirt_xml.c's XML. libvirt starts and confines QEMU;
 * runm finds that QEMU's host pid (a real process: the shim reports it,
 * pidfd watches it) and keeps the console and the network filter, which
 * QEMU dials on sockets the owner listens on in the VM's state dir.
 *
 * Connections. A daemon URI (qemu:///system, qemu:///session, remote): the
 * owner holds one connection for the VM's life and starts the domain
 * AUTODESTROY, so a crashed owner takes its domain with it. The embed
 * driver (qemu:///embed?root=DIR) runs inside the process that opens it
 * and locks its root to that process until it exits (closing the
 * connection does not unlock it): were the shim to open it, every other
 * shim, `runmctl` and `virsh` would be locked out. So each embed call runs
 * in a short helper process, this very binary re-executed with
 * RUNM_LIBVIRT_HELPER_ARG (runm_libvirt_helper_main), which exits when the
 * call is done; the domain is not AUTODESTROY (its QEMU outlives the
 * helper; `shim delete` destroys it by name after a crash). A root locked
 * by another process is waited for, and retried in a fresh image of the
 * helper (the embed driver cannot start twice in one process).
 *
 * Every libvirt call that may wait runs against a deadline: a helper
 * process is killed when it passes; an in-process connection is opened by
 * a thread that is abandoned (and closes what it gets) then. A libvirt that
 * does not answer is an error naming the URI, not a hang. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "proc_find.h"
#include "vm_libvirt.h"

#define ACCEPT_TIMEOUT_MS 10000

/* The QEMU libvirt started for domain `name` of state dir `dir`: the
 * process whose arguments hold both `guest=<name>,` (libvirt's -name) and
 * runm's fw_cfg naming the dir. */
struct qemu_want {
  char name[RUNM_VM_ID_MAX + 16], dir[320];
};

static bool is_qemu(const char *args, size_t len, void *arg)
{
  const struct qemu_want *w = arg;
  bool has_name = false, has_dir = false;
  for (size_t i = 0; i < len; i += strlen(args + i) + 1) {
    if (strncmp(args + i, w->name, strlen(w->name)) == 0) has_name = true;
    if (strcmp(args + i, w->dir) == 0) has_dir = true;
  }
  return has_name && has_dir;
}

static pid_t find_qemu(const char *name, const char *dir)
{
  struct qemu_want w;
  snprintf(w.name, sizeof(w.name), "guest=%s,", name);
  snprintf(w.dir, sizeof(w.dir), "name=opt/runm/state-dir,string=%s", dir);
  return runm_proc_find(65536, is_qemu, &w);
}

/* One connection QEMU made to a socket the owner listens on. */
static int accept_one(int lfd, const char *what, runm_error_t *err)
{
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  int r, fd;
  do
    r = poll(&p, 1, ACCEPT_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return runm_make_error(err, r == 0 ? ETIMEDOUT : errno, "QEMU did not connect its %s", what);
  fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "accept QEMU's %s", what);
  return fd;
}

static int emulator_path(const struct runm_vm_config *cfg, char *out, size_t len, runm_error_t *err)
{
  const char *q = cfg->qemu ? cfg->qemu : "qemu-system-x86_64";
  const char *path = getenv("PATH");
  if (strchr(q, '/')) {
    if (q[0] != '/') return runm_make_error(err, EINVAL, "QEMU `%s`: libvirt needs an absolute path", q);
    snprintf(out, len, "%s", q);
    return 0;
  }
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");
    if (n > 0 && p[0] == '/' && snprintf(out, len, "%.*s/%s", (int)n, p, q) < (int)len &&
        access(out, X_OK) == 0)
      return 0;
    p += n;
    if (*p == ':') p++;
  }
  return runm_make_error(err, ENOENT, "`%s` not found in PATH", q);
}

void runm_libvirt_vm_free(struct runm_libvirt_vm *lv)
{
  if (lv == NULL) return;
  /* A held connection's domain is AUTODESTROY: closing ends it. */
  if (lv->conn) virConnectClose(lv->conn);
  /* A keeper whose QEMU is gone has ended: collected. One whose QEMU runs
   * on (the VM handed to another owner) keeps reaping it. */
  if (lv->keeper > 0) (void)waitpid(lv->keeper, NULL, WNOHANG);
  free(lv);
}

void runm_vm_libvirt_uri(const struct runm_vm *vm, char *uri, size_t ulen, char *cgroup, size_t clen)
{
  snprintf(uri, ulen, "%s", vm->lv ? vm->lv->uri : "");
  snprintf(cgroup, clen, "%s", vm->lv ? vm->lv->cgroup : "");
}

static void read_cgroup(pid_t pid, char *out, size_t len);

/* Signals QEMU (through its pidfd when there is one: no pid reuse) and
 * waits up to wait_ms for it to end. Its keeper (embed) reaps it. */
static void end_qemu(pid_t pid, int pidfd, int sig, int wait_ms)
{
  int own = -1, r;
  struct pollfd p;
  if (pid <= 0) return;
  if (pidfd < 0) pidfd = own = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd >= 0) r = (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
  else r = kill(pid, sig);
  if (r == 0 && pidfd >= 0) {
    p = (struct pollfd){.fd = pidfd, .events = POLLIN};
    while (poll(&p, 1, wait_ms) < 0 && errno == EINTR) {
    }
  }
  if (own >= 0) close(own);
}

/* late_mounts (a pool's spare, a pod): the owner binds directories into
 * the shares after QEMU started. The qemu backend's QEMU then stays in the
 * host's mount namespace; libvirt always starts QEMU in a mount namespace
 * of its own, a recursive slave of its parent's, which receives later
 * mounts only under a mount that is shared in the parent (a host whose `/`
 * is shared, as systemd makes it, has that already; this test machine's is
 * private). So each such share is made a shared mount first: a self-bind
 * when it is no mount point yet (the owner's teardown unmounts the share
 * dir itself, exports_remove_at). Nothing else is shared: QEMU's copies of
 * the rest stay as libvirt made them. */
static int share_propagate(const struct runm_vm_config *cfg, runm_error_t *err)
{
  for (size_t i = 0; cfg->late_mounts && i < cfg->n_shares; i++) {
    const char *p = cfg->shares[i].path;
    if (mount(NULL, p, NULL, MS_SHARED, NULL) == 0) continue;
    if (errno != EINVAL) return runm_make_error(err, errno, "share `%s`: make it a shared mount", p);
    if (mount(p, p, NULL, MS_BIND, NULL) < 0 || mount(NULL, p, NULL, MS_SHARED, NULL) < 0)
      return runm_make_error(err, errno, "share `%s`: bind it on itself as a shared mount", p);
  }
  return 0;
}

static int lv_spawn(const struct runm_vm_config *cfg, struct runm_vm *vm, int lfd, runm_error_t *err)
{
  struct runm_libvirt_vm *lv = calloc(1, sizeof(*lv));
  const char *uri = cfg->libvirt_uri && *cfg->libvirt_uri ? cfg->libvirt_uri : RUNM_LIBVIRT_URI_DEFAULT;
  bool embed = runm_lv_is_embed(uri), user_net = cfg->net == RUNM_NET_USER;
  char emulator[PATH_MAX], sock[3][320];
  int lfds[3] = {-1, -1, -1}, fds[3] = {-1, -1, -1}, ret = -1;
  static const char *const names[3] = {"console.sock", "nf-out.sock", "nf-in.sock"};
  static const char *const whats[3] = {"console", "network filter (out)", "network filter (in)"};
  cleanup_free char *xml = NULL;
  virDomainPtr dom = NULL;
  bool created = false;
  pid_t pid = -1;

  if (lfd >= 0) close(lfd);
  if (lv == NULL) return runm_make_error(err, ENOMEM, "allocate VM");
  snprintf(lv->uri, sizeof(lv->uri), "%s", uri);
  snprintf(lv->name, sizeof(lv->name), "%s", vm->qemu_name);
  lv->tidy = cfg->tidy;
  if (emulator_path(cfg, emulator, sizeof(emulator), err) < 0 ||
      runm_libvirt_domain_xml(cfg, &vm->plan, lv->name, emulator, &xml, err) < 0 || share_propagate(cfg, err) < 0)
    goto out;
  for (int i = 0; i < (user_net ? 3 : 1); i++) {
    snprintf(sock[i], sizeof(sock[i]), "%s/%s", vm->plan.dir, names[i]);
    lfds[i] = runm_listen_unix(sock[i], 1, err);
    if (lfds[i] < 0) goto out;
  }
  /* share_fs = virtiofs: runm's own confined virtiofsd per share, as in
   * the qemu backend; libvirt's QEMU connects to its socket. Its stderr:
   * none here (the qemu backend gives it QEMU's capped log pipe, which
   * libvirt's QEMU does not have; nothing unbounded is written). */
  if (cfg->share_fs == RUNM_SHARE_VIRTIOFS) {
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int r = devnull < 0 ? runm_make_error(err, errno, "open /dev/null")
                        : runm_virtiofsd_start(cfg, vm, devnull, err);
    if (devnull >= 0) close(devnull);
    if (r < 0) goto out;
  }
  vm->spawn_ns = runm_now_ns();
  if (embed) {
    char answer[1024];
    int r;
    r = runm_lv_helper_call(uri, "create", lv->name, xml, cfg->net == RUNM_NET_TAP ? cfg->netns_fd : -1,
                            CONNECT_TIMEOUT_MS, answer, sizeof(answer),
                            &lv->keeper, err);
    if (r < 0) goto out;
    created = true;
  } else {
    lv->conn = runm_lv_open(uri, CONNECT_TIMEOUT_MS, err);
    if (lv->conn == NULL) goto out;
    dom = virDomainCreateXML(lv->conn, xml, VIR_DOMAIN_START_AUTODESTROY);
    if (dom == NULL) {
      runm_make_error(err, EIO, "libvirt `%s`: create domain `%s`: %s", uri, lv->name, runm_lv_last_error());
      goto out;
    }
    created = true;
  }
  for (int i = 0; i < 50 && (pid = find_qemu(lv->name, vm->plan.dir)) < 0; i++) usleep(20000);
  if (pid < 0) {
    runm_make_error(err, ESRCH, "libvirt `%s`: no QEMU process found for domain `%s`", uri, lv->name);
    goto out;
  }
  for (int i = 0; i < (user_net ? 3 : 1); i++)
    if ((fds[i] = accept_one(lfds[i], whats[i], err)) < 0) goto out;
  if (runm_vm_console_start_fd(vm->plan.dir, fds[0], &vm->console, err) < 0) {
    fds[0] = -1;
    goto out;
  }
  fds[0] = -1;
  if (user_net) {
    ret = runm_vm_netfilter_start_fds(cfg->host_loopback, cfg->ports, cfg->n_ports, fds[1], fds[2],
                                      &vm->netfilter, err);
    fds[1] = fds[2] = -1;
    if (ret < 0) goto out;
  }
  vm->pid = pid;
  vm->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  read_cgroup(pid, lv->cgroup, sizeof(lv->cgroup));
  ret = 0;
out:
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0) close(fds[i]);
    if (lfds[i] >= 0) {
      close(lfds[i]);
      unlink(sock[i]);
    }
  }
  if (ret < 0 && created) {
    cleanup_error runm_error_t e2 = NULL;
    if (pid > 0) end_qemu(pid, -1, SIGKILL, 5000);
    if (lv->conn) runm_lv_destroy_on(lv->conn, uri, lv->name, &e2);
    else runm_libvirt_destroy(uri, lv->name, 10000, &e2);
  }
  if (ret < 0) runm_lv_reap_keeper(lv->keeper, 5000);
  if (ret < 0) runm_virtiofsd_stop(vm);
  if (dom) virDomainFree(dom);
  if (lv->conn && ret < 0) {
    virConnectClose(lv->conn);
    lv->conn = NULL;
  }
  if (ret < 0) {
    ret = -1;
    free(lv);
  } else {
    vm->lv = lv;
  }
  return ret;
}

/* The domain's cgroup as QEMU's /proc/<pid>/cgroup names it (the part up
 * to `.libvirt-qemu`), "" when it has none. */
static void read_cgroup(pid_t pid, char *out, size_t len)
{
  char path[64], line[1024];
  cleanup_file FILE *f = NULL;
  out[0] = '\0';
  snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
  f = fopen(path, "re");
  while (f && fgets(line, sizeof(line), f)) {
    char *rel = strchr(line, ':'), *end;
    if (rel == NULL || (rel = strchr(rel + 1, ':')) == NULL) continue;
    rel++;
    end = strstr(rel, ".libvirt-qemu");
    if (end && strstr(rel, "/qemu-") && rel[0] == '/') {
      snprintf(out, len, "%.*s", (int)(end + strlen(".libvirt-qemu") - rel), rel);
      return;
    }
  }
}

/* libvirt removes a domain's cgroup when it sees the domain end; a QEMU
 * that ended while no libvirt process of the embed driver was connected
 * (a guest poweroff, a crash) leaves it. Removes that cgroup's empty dirs
 * (its per-thread children, then itself) in every hierarchy; a cgroup
 * that still holds a process is left alone (rmdir fails). */
void runm_libvirt_remove_cgroup(const char *rel)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  if (rel[0] != '/' || strstr(rel, "/..")) return;
  d = opendir("/sys/fs/cgroup");
  while (d && (de = readdir(d))) {
    char dir[PATH_MAX];
    cleanup_dir DIR *sub = NULL;
    struct dirent *se;
    if (de->d_name[0] == '.') continue;
    if (snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s", de->d_name, rel) >= (int)sizeof(dir)) continue;
    sub = opendir(dir);
    while (sub && (se = readdir(sub))) {
      char child[PATH_MAX + 256];
      if (se->d_type != DT_DIR || se->d_name[0] == '.') continue;
      snprintf(child, sizeof(child), "%s/%s", dir, se->d_name);
      rmdir(child);
    }
    if (sub) rmdir(dir);
  }
  /* cgroup v2 alone: the hierarchy is /sys/fs/cgroup itself */
  {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", rel);
    rmdir(dir);
  }
}

/* Ends the domain through libvirt, which stops QEMU (TERM, then KILL) and
 * releases what it made for it (its cgroup, its runtime files); a QEMU that
 * ended on its own is cleaned by the same call. libvirt unreachable: end
 * the QEMU it started ourselves (the next connection finds it gone). */
static void lv_destroy(struct runm_vm *vm)
{
  struct runm_libvirt_vm *lv = vm->lv;
  cleanup_error runm_error_t e = NULL;
  int r;
  if (lv == NULL || lv->destroyed) return;
  r = lv->conn ? runm_lv_destroy_on(lv->conn, lv->uri, lv->name, &e)
               : runm_libvirt_destroy(lv->uri, lv->name, DESTROY_TIMEOUT_MS, &e);
  /* Through the pidfd: QEMU may be gone already, its pid free. */
  if (r < 0 && vm->pid > 0 && vm->pidfd >= 0) (void)syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0);
  lv->destroyed = true;
}

/* QEMU ends on SIGTERM as in the qemu backend (a host signal powers it
 * off despite libvirt's -no-shutdown). Not through libvirt: its destroy
 * sends the same signal and then polls every 200 ms; lv_kill has libvirt
 * tidy up after QEMU is gone. */
static void lv_term(struct runm_vm *vm)
{
  if (vm->pid <= 0) return;
  if (vm->lv && vm->pidfd >= 0 && vm->lv->cgroup[0] == '\0') {
    /* The start's read found no cgroup: once more while QEMU lives (the
     * pidfd says the pid is still its), for the tidy after it. */
    struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
    char cg[sizeof(vm->lv->cgroup)];
    read_cgroup(vm->pid, cg, sizeof(cg));
    if (cg[0] && poll(&p, 1, 0) == 0) snprintf(vm->lv->cgroup, sizeof(vm->lv->cgroup), "%s", cg);
  }
  if (vm->pidfd >= 0) (void)syscall(SYS_pidfd_send_signal, vm->pidfd, SIGTERM, NULL, 0);
  else kill(vm->pid, SIGTERM);
}

/* With QEMU gone (embed URI, a config with a tidy): libvirt's part of
 * the stop, a helper destroying the dead domain and removing its cgroup,
 * and the keeper's end are left to run on their own, for the owner to wait
 * for before it exits (runm_vm_tidy_wait): its caller (containerd's
 * Delete) does not wait for them. The helper is bounded by its own alarm,
 * also when the owner is killed meanwhile. false: nothing was left. */
static bool lv_defer(struct runm_vm *vm)
{
  struct runm_libvirt_vm *lv = vm->lv;
  struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
  cleanup_error runm_error_t e = NULL;
  char what[96 + RUNM_VM_ID_MAX];
  pid_t pid;
  int answer;
  int64_t now = runm_now_ns();

  if (lv->tidy == NULL || lv->conn || lv->destroyed || vm->pidfd < 0 || poll(&p, 1, 0) != 1) return false;
  /* Two slots: the helper and the keeper. */
  pthread_mutex_lock(&lv->tidy->lock);
  bool room = lv->tidy->n + 2 <= RUNM_VM_TIDY_MAX;
  pthread_mutex_unlock(&lv->tidy->lock);
  if (!room || runm_lv_destroy_start(lv->uri, lv->name, lv->cgroup, &pid, &answer, &e) < 0) return false;
  snprintf(what, sizeof(what), "libvirt: destroy domain `%s`", lv->name);
  runm_vm_tidy_add(lv->tidy, pid, answer, now + DESTROY_TIMEOUT_MS * 1000000LL, what);
  if (lv->keeper > 0) {
    snprintf(what, sizeof(what), "libvirt: keeper of domain `%s`", lv->name);
    runm_vm_tidy_add(lv->tidy, lv->keeper, -1, now + 2000 * 1000000LL, what);
    lv->keeper = 0;
  }
  lv->destroyed = true;
  return true;
}

/* QEMU first, as the qemu backend does (SIGKILL, waited for; its keeper
 * reaps it), then
 * libvirt ends the domain: with QEMU gone, it only releases what it made
 * for it (its status, runtime files, cgroup). */
static void lv_kill(struct runm_vm *vm)
{
  bool deferred = false, daemon_ends = false;
  if (vm->pid > 0) end_qemu(vm->pid, vm->pidfd, SIGKILL, 5000);
  /* A daemon's domain: AUTODESTROY, and the daemon watches its QEMU. With
   * QEMU gone, closing the connection (runm_libvirt_vm_free) has the
   * daemon release the rest (status, runtime files, cgroup) on its own
   * time. A destroy here would wait for it: libvirt's polls a killed
   * QEMU's pid every 200 ms until its reaper has collected it. */
  if (vm->lv && vm->lv->conn && vm->pidfd >= 0) {
    struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
    daemon_ends = poll(&p, 1, 0) == 1;
    if (daemon_ends) vm->lv->destroyed = true;
  }
  if (vm->lv && !daemon_ends) deferred = lv_defer(vm);
  if (vm->lv && !deferred) lv_destroy(vm);
  if (vm->pid > 0 && vm->pidfd >= 0 && !deferred) {
    struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
    int r;
    do
      r = poll(&p, 1, 5000);
    while (r < 0 && errno == EINTR);
  }
  vm->pid = -1;
  /* virtiofsd ends when QEMU's connection closes; this covers one QEMU
   * never made. */
  runm_virtiofsd_stop(vm);
  if (vm->lv && !deferred) {
    runm_lv_reap_keeper(vm->lv->keeper, 2000);
    vm->lv->keeper = 0;
    if (vm->lv->cgroup[0] && !daemon_ends) runm_libvirt_remove_cgroup(vm->lv->cgroup);
  }
  runm_vm_console_stop(vm->console);
  vm->console = NULL;
  runm_vm_netfilter_stop(vm->netfilter);
  vm->netfilter = NULL;
  runm_libvirt_vm_free(vm->lv);
  vm->lv = NULL;
}

static int lv_wait(struct runm_vm *vm, int *status, runm_error_t *err)
{
  struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
  *status = 0;
  if (vm->pidfd < 0) return runm_make_error(err, ENOSYS, "wait for VM `%s`: no pidfd", vm->id);
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR) return runm_make_error(err, errno, "wait for VM `%s`", vm->id);
  return 0;
}

const struct runm_vm_backend runm_vm_backend_libvirt = {
    .name = "libvirt",
    .takes_rpc_fd = false,
    .spawn = lv_spawn,
    .term = lv_term,
    .kill = lv_kill,
    .wait = lv_wait,
};


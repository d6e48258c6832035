/* The VM pool (docs/pool.md). Layout under the state dir:
 *   pool/<hash of containerd's address>/pool_<pid>.boot  an idle shim, from spawn to claim
 *   pool/<hash>/pool_<pid>.sock   its claim socket (SOCK_SEQPACKET), once its VM answers
 *   pool/<hash>/last-error        why the last idle shim failed to boot
 *   shares/<vm id>/N              the task's dirs, bound into the VM's one 9p export
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

#include "cleanup.h"
#include "hooks.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"
#include "shim.h"
#include "vm_info.h"
#include "unix_socket.h"

extern char **environ;

#define CLAIM_MAX 16384
#define CLAIM_TIMEOUT_MS 5000
#define POOL_NICE 19
#define PREPARE_TIMEOUT_MS 10000

static int pool_dir(const struct shim_config *cfg, const char *address, char *out, size_t len,
                    runm_error_t *err)
{
  char parent[PATH_MAX];
  snprintf(parent, sizeof(parent), "%s/pool", cfg->state_dir);
  if (mkdir(cfg->state_dir, 0711) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir `%s`", cfg->state_dir);
  if (mkdir(parent, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", parent);
  /* One dir per containerd: its address's digest, never another's. */
  const char *parts[] = {address};
  char h[33];
  shim_digest_hex(parts, 1, h, 32);
  if (h[0] == '\0') return runm_make_error(err, ENOMEM, "pool dir name");
  if (snprintf(out, len, "%s/%s", parent, h) >= (int)len)
    return runm_make_error(err, ENAMETOOLONG, "pool dir under `%s`", parent);
  if (mkdir(out, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", out);
  return 0;
}

/* ---- the claim message ------------------------------------------------ */

static size_t claim_encode(const struct pool_claim *c, char *buf, size_t len)
{
  const char *f[] = {c->ns, c->id, c->address, c->publish_binary, c->ttrpc_address, c->bundle,
                     c->debug ? "1" : "0"};
  size_t off = 0;
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    size_t l = strlen(f[i]) + 1;
    if (off + l > len) return 0;
    memcpy(buf + off, f[i], l);
    off += l;
  }
  return off;
}

/* The peer is the same user (the socket is 0600), but it is still input:
 * exactly seven fields, each fitting its buffer. */
static int claim_decode(const char *buf, size_t len, struct pool_claim *c, runm_error_t *err)
{
  struct {
    char *dst;
    size_t size;
  } f[] = {{c->ns, sizeof(c->ns)},
           {c->id, sizeof(c->id)},
           {c->address, sizeof(c->address)},
           {c->publish_binary, sizeof(c->publish_binary)},
           {c->ttrpc_address, sizeof(c->ttrpc_address)},
           {c->bundle, sizeof(c->bundle)},
           {NULL, 0}};
  size_t off = 0, i;

  memset(c, 0, sizeof(*c));
  for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    const char *end = memchr(buf + off, '\0', len - off);
    size_t l;
    if (end == NULL) return runm_make_error(err, EPROTO, "claim: field %zu is not terminated", i);
    l = (size_t)(end - (buf + off));
    if (f[i].dst) {
      if (l >= f[i].size) return runm_make_error(err, EPROTO, "claim: field %zu is too long", i);
      memcpy(f[i].dst, buf + off, l + 1);
    } else {
      c->debug = l == 1 && buf[off] == '1';
    }
    off += l + 1;
  }
  if (off != len) return runm_make_error(err, EPROTO, "claim: trailing bytes");
  if (c->ns[0] == '\0' || c->id[0] == '\0' || c->bundle[0] != '/')
    return runm_make_error(err, EPROTO, "claim: namespace, id and an absolute bundle are required");
  return 0;
}

/* ---- `start`'s side ------------------------------------------------------ */

static int try_claim(const char *sock, const char *msg, size_t len, int lfd)
{
  cleanup_close int fd = runm_unix_connect(sock, SOCK_SEQPACKET, NULL);
  struct timeval tv = {.tv_sec = CLAIM_TIMEOUT_MS / 1000};
  char cbuf[CMSG_SPACE(sizeof(int))] = {0}, reply[512];
  struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *cm;
  ssize_t n;

  if (fd < 0) return 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)len) return 0;
  do
    n = recv(fd, reply, sizeof(reply) - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  reply[n] = '\0';
  return strcmp(reply, "ok") == 0;
}

int pool_claim(const struct shim_config *cfg, const struct pool_claim *c, int lfd, runm_error_t *err)
{
  char dir[PATH_MAX], msg[CLAIM_MAX];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  size_t len;

  if (cfg->pool_size == 0) return 0;
  if (pool_dir(cfg, c->address, dir, sizeof(dir), err) < 0) return -1;
  len = claim_encode(c, msg, sizeof(msg));
  if (len == 0) return runm_make_error(err, E2BIG, "claim: task identity too long");
  d = opendir(dir);
  if (d == NULL) return runm_make_error(err, errno, "open `%s`", dir);
  while ((de = readdir(d))) {
    char sock[PATH_MAX + 300];
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".sock") != 0) continue;
    snprintf(sock, sizeof(sock), "%s/%s", dir, de->d_name);
    if (try_claim(sock, msg, len, lfd)) return 1;
  }
  return 0;
}

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
  if (pool_dir(cfg, c->address, dir, sizeof(dir), err) < 0) return -1;
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

static void remove_share_dir(const char *dir)
{
  if (dir[0] && rmdir(dir) < 0 && errno != ENOENT) {
    /* left for `delete`; nothing is mounted in an idle VM's share */
  }
}

static int reply(int fd, const char *msg)
{
  return send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* One claim from a connected client: 1 = taken (c, *lfd filled). */
static int take_claim(int cfd, const char *address, struct pool_claim *c, int *lfd,
                      const struct runm_logger *log)
{
  char buf[CLAIM_MAX], cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  struct ucred cred;
  socklen_t cl = sizeof(cred);
  cleanup_error runm_error_t err = NULL;
  cleanup_close int fd = -1;
  struct cmsghdr *cm;
  ssize_t n;
  int type = 0;
  socklen_t tl = sizeof(type);

  if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
    reply(cfd, "error: not the same user");
    return 0;
  }
  n = recvmsg(cfd, &mh, MSG_CMSG_CLOEXEC);
  if (n <= 0) return 0;
  for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int))) {
      if (fd >= 0) close(fd);
      memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    reply(cfd, "error: claim truncated");
    return 0;
  }
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
    reply(cfd, "error: no listening socket attached");
    return 0;
  }
  if (claim_decode(buf, (size_t)n, c, &err) < 0) {
    runm_log_error(log, err, "pool claim");
    reply(cfd, "error: malformed claim");
    return 0;
  }
  if (strcmp(c->address, address) != 0) {
    reply(cfd, "error: this VM belongs to another containerd");
    return 0;
  }
  *lfd = fd;
  fd = -1;
  return 1;
}

static int boot(const struct shim_config *cfg, const struct runm_logger *log, const char *vm_id,
                struct pool_vm *pv, runm_error_t *err)
{
  struct runm_vm_config vc = {0};
  struct runm_vm_share share;
  char sdir[PATH_MAX];

  snprintf(sdir, sizeof(sdir), "%s/shares", cfg->state_dir);
  if (mkdir(sdir, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", sdir);
  if (snprintf(pv->share_dir, sizeof(pv->share_dir), "%s/%s", sdir, vm_id) >= (int)sizeof(pv->share_dir))
    return runm_make_error(err, ENAMETOOLONG, "share dir for `%s`", vm_id);
  if (mkdir(pv->share_dir, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", pv->share_dir);
  snprintf(pv->share_guest, sizeof(pv->share_guest), "%s", pv->share_dir);
  share = (struct runm_vm_share){.path = pv->share_dir, .readonly = false};
  shim_vm_config_base(cfg, &vc);
  vc.id = vm_id;
  vc.shares = &share;
  vc.n_shares = 1;
  vc.late_mounts = true; /* the claim binds the task's dirs into the share */
  pv->mem_mib = vc.mem_mib;
  pv->vcpus = vc.vcpus;
  /* The hooks' channel is fixed at boot; its allow-list comes at Create. */
  if (hooks_new(log, &pv->hooks, err) < 0) {
    remove_share_dir(pv->share_dir);
    return -1;
  }
  vc.host_listen = hooks_listen;
  vc.host_opaque = pv->hooks;
  if (runm_vm_start(&vc, log, &pv->vm, err) < 0) {
    hooks_free(pv->hooks);
    pv->hooks = NULL;
    remove_share_dir(pv->share_dir);
    return -1;
  }
  if (runm_vm_own(pv->vm, "pool", &pv->proxy, err) < 0) {
    cleanup_error runm_error_t e2 = NULL;
    runm_vm_stop(pv->vm, 2000, &e2);
    runm_vm_free(pv->vm);
    pv->vm = NULL;
    hooks_free(pv->hooks);
    pv->hooks = NULL;
    remove_share_dir(pv->share_dir);
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
  remove_share_dir(pv->share_dir);
}

/* The claimed VM takes the task's name: `runmctl` and `delete` find it by
 * container id, like a VM booted for the task. */
static int adopt(struct pool_vm *pv, const struct pool_claim *c, runm_error_t *err)
{
  char vm_id[80], new_share[PATH_MAX], *slash;
  struct runm_vm_info info;

  shim_vm_id(c->ns, c->id, vm_id, sizeof(vm_id));
  if (runm_vm_rename(pv->vm, vm_id, err) < 0) return -1;
  snprintf(new_share, sizeof(new_share), "%s", pv->share_dir);
  slash = strrchr(new_share, '/');
  snprintf(slash + 1, sizeof(new_share) - (size_t)(slash + 1 - new_share), "%s", vm_id);
  if (rename(pv->share_dir, new_share) < 0) return runm_make_error(err, errno, "rename `%s`", pv->share_dir);
  snprintf(pv->share_dir, sizeof(pv->share_dir), "%s", new_share);
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
  if (pool_dir(cfg, address, dir, sizeof(dir), err) < 0) return -1;
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
  umask(077);
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
      if (!take_claim(cfd, address, c, lfd, log)) continue;
      /* Off the market before answering: nobody else can claim it. */
      unlink(sock);
      close(cfd_listen);
      cfd_listen = -1;
      if (adopt(pv, c, err) < 0) {
        reply(cfd, "error: cannot adopt the VM");
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
      if (reply(cfd, "ok") < 0) {
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
  Runm__V1__PrepareRequest rq = RUNM__V1__PREPARE_REQUEST__INIT;
  Runm__V1__PrepareShare ps[RUNM_VM_MAX_SHARES], *pps[RUNM_VM_MAX_SHARES];
  char names[RUNM_VM_MAX_SHARES][12];
  uint8_t seed[64];
  ProtobufCMessage *resp = NULL;
  struct timespec now;

  if (n > RUNM_VM_MAX_SHARES) return runm_make_error(err, E2BIG, "%zu shares; at most %d", n, RUNM_VM_MAX_SHARES);
  for (size_t i = 0; i < n; i++) {
    char dst[PATH_MAX + 16];
    unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (runm_vm_share_check(shares[i].path, err) < 0) return -1;
    snprintf(names[i], sizeof(names[i]), "%zu", i);
    snprintf(dst, sizeof(dst), "%s/%zu", pv->share_dir, i);
    if (mkdir(dst, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", dst);
    if (mount(shares[i].path, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
      return runm_make_error(err, errno, "bind `%s` into the pooled VM's share", shares[i].path);
    pv->n_binds = (unsigned)i + 1;
    /* Read-only at the share as well as in the guest. */
    if (shares[i].readonly && mount(NULL, dst, NULL, ro, NULL) < 0)
      return runm_make_error(err, errno, "remount `%s` read-only", dst);
    runm__v1__prepare_share__init(&ps[i]);
    ps[i].source = names[i];
    ps[i].path = (char *)shares[i].path;
    ps[i].readonly = shares[i].readonly;
    pps[i] = &ps[i];
  }
  if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
    return runm_make_error(err, errno, "getrandom");
  clock_gettime(CLOCK_REALTIME, &now);
  rq.hostname = (char *)hostname;
  rq.realtime_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
  rq.entropy.data = seed;
  rq.entropy.len = sizeof(seed);
  rq.share_root = pv->share_guest;
  rq.n_shares = n;
  rq.shares = pps;
  if (runm_rpc_client_unary(pv->vm->client, "/runm.v1.Guest/Prepare", &rq.base,
                            &runm__v1__empty__descriptor, &resp, PREPARE_TIMEOUT_MS, false, err) < 0)
    return runm_error_wrap(err, "prepare the pooled VM");
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

int pool_vm_release(struct pool_vm *pv, runm_error_t *err)
{
  int ret = 0;
  for (unsigned i = pv->n_binds; i-- > 0;) {
    char dst[PATH_MAX + 16];
    snprintf(dst, sizeof(dst), "%s/%u", pv->share_dir, i);
    if (umount2(dst, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && ret == 0)
      ret = runm_make_error(err, errno, "unmount `%s`", dst);
    rmdir(dst);
  }
  pv->n_binds = 0;
  if (ret == 0 && pv->share_dir[0] && rmdir(pv->share_dir) < 0 && errno != ENOENT)
    ret = runm_make_error(err, errno, "remove `%s`", pv->share_dir);
  return ret;
}

int pool_shares_remove(const char *state_dir, const char *vm_id, runm_error_t *err)
{
  char dir[PATH_MAX];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  snprintf(dir, sizeof(dir), "%s/shares/%s", state_dir, vm_id);
  d = opendir(dir);
  if (d == NULL) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open `%s`", dir);
  while ((de = readdir(d))) {
    char p[PATH_MAX + 300];
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
    /* Only our numbered bind points live here. */
    if (strspn(de->d_name, "0123456789") != strlen(de->d_name)) continue;
    if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
      return runm_make_error(err, errno, "unmount `%s`", p);
    rmdir(p);
  }
  if (rmdir(dir) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", dir);
  return 0;
}

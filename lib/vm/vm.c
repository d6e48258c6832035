/* VM lifecycle, backend-independent: state dir, channel socket, spawn,
 * waiting for the first Ping while watching the VM process, teardown. */
#include "vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cleanup.h"
#include "cmdline_keys.h"
#include "rpc.h"
#include "vm_backend.h"
#include "runm/v1/guest.pb-c.h"

int64_t runm_now_ns(void)
{
  return runm_clock_ns(CLOCK_REALTIME);
}

static int check_file(const char *what, const char *path, runm_error_t *err)
{
  struct stat st;
  if (path == NULL || *path == '\0') return runm_make_error(err, EINVAL, "no %s given", what);
  if (stat(path, &st) < 0) return runm_make_error(err, errno, "%s `%s`", what, path);
  if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "%s `%s` is not a file", what, path);
  if (access(path, R_OK) < 0) return runm_make_error(err, errno, "%s `%s`", what, path);
  return 0;
}

int runm_vm_remove_dir(const char *dir, runm_error_t *err)
{
  cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (dfd < 0) {
    if (errno == ENOENT) return 0;
    return runm_make_error(err, errno, "open state dir `%s`", dir);
  }
  d = fdopendir(dfd);
  if (d == NULL) return runm_make_error(err, errno, "read state dir `%s`", dir);
  dfd = -1; /* owned by d now */
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
      return runm_make_error(err, errno, "remove `%s/%s`", dir, de->d_name);
  }
  if (rmdir(dir) < 0 && errno != ENOENT) return runm_make_error(err, errno, "rmdir `%s`", dir);
  return 0;
}

char *runm_vm_console_tail(const char *path, size_t max)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf, *start;
  ssize_t n;
  off_t off;

  if (fd < 0 || fstat(fd, &st) < 0) return NULL;
  off = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
  buf = calloc(1, max + 1);
  if (buf == NULL) return NULL;
  n = pread(fd, buf, max, off);
  if (n <= 0) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  start = buf;
  if (off > 0) {
    char *nl = strchr(buf, '\n');
    if (nl) start = nl + 1;
  }
  /* The guest is untrusted: keep printable text only. */
  {
    /* microvm keeps PCI for virtio-pci, and the kernel always says this;
     * it is noise in an error report. */
    static const char noise[] = "PCI: Fatal: No config space access function found";
    char *hit;
    while ((hit = strstr(start, noise))) {
      char *eol = strchr(hit, '\n');
      memmove(hit, eol ? eol + 1 : hit + strlen(hit), strlen(eol ? eol + 1 : hit + strlen(hit)) + 1);
    }
  }
  {
    char *w = start;
    for (char *p = start; *p; p++) {
      if (*p == '\r') continue; /* serial consoles end lines with \r\n */
      *w++ = ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) ? '?' : *p;
    }
    *w = '\0';
  }
  while (*start && (start[strlen(start) - 1] == '\n' || start[strlen(start) - 1] == '\r'))
    start[strlen(start) - 1] = '\0';
  memmove(buf, start, strlen(start) + 1);
  return buf;
}

/* Host TSC rate in kHz from /proc/cpuinfo's "cpu MHz", 0 when unknown. */
static unsigned long host_tsc_khz(void)
{
  cleanup_file FILE *f = fopen("/proc/cpuinfo", "re");
  char line[256];
  double mhz;
  if (f == NULL) return 0;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "cpu MHz : %lf", &mhz) == 1 && mhz > 100) return (unsigned long)(mhz * 1000);
  return 0;
}

/* Under TCG the guest often cannot calibrate its TSC (then it falls back to
 * a 4 ms jiffies clock) and spends ~0.25 s calibrating the local APIC timer:
 * tell it the rate, and with one vCPU skip the LAPIC timer. Measured: boot
 * to init 0.80-0.95 s -> 0.58 s. */
static void tcg_tuning(const struct runm_vm_config *cfg, char *out, size_t len)
{
  unsigned long khz = host_tsc_khz();
  out[0] = '\0';
  if (khz) snprintf(out, len, " tsc_early_khz=%lu tsc=reliable", khz);
  if ((cfg->vcpus ? cfg->vcpus : 1) == 1) strncat(out, " nolapic_timer", len - strlen(out) - 1);
  /* The kernel's IO-APIC timer check counts timer ticks in a short window
   * of busy-waiting; on a loaded host an emulated CPU misses it and the
   * kernel panics ("IO-APIC + timer doesn't work", seen at load 10-14).
   * QEMU's timer works; the check only costs a boot. */
  strncat(out, " no_timer_check", len - strlen(out) - 1);
}

static int plan_vm(const struct runm_vm_config *cfg, const struct runm_logger *log,
                   struct runm_vm_plan *plan, runm_error_t *err)
{
  struct runm_host_caps caps;
  struct timespec now;
  int n;

  memset(plan, 0, sizeof(*plan));
  runm_host_caps_probe(&caps, NULL, NULL, NULL);
  plan->accel = runm_accel_choose(cfg->accel, &caps);
  plan->transport = runm_transport_choose(cfg->transport, &caps);
  if (cfg->accel == RUNM_ACCEL_AUTO && plan->accel == RUNM_ACCEL_TCG)
    runm_log(log, RUNM_LOG_INFO, "using TCG: %s", caps.kvm_why);
  if (cfg->accel == RUNM_ACCEL_KVM && !caps.kvm_usable)
    runm_log(log, RUNM_LOG_WARN, "KVM forced although %s", caps.kvm_why);

  n = snprintf(plan->dir, sizeof(plan->dir), "%s/vm/%s", cfg->state_root, cfg->id);
  if (n < 0 || (size_t)n >= sizeof(plan->dir))
    return runm_make_error(err, ENAMETOOLONG, "state dir path for `%s` is too long", cfg->id);
  snprintf(plan->rpc_sock, sizeof(plan->rpc_sock), "%s/rpc.sock", plan->dir);
  snprintf(plan->api_sock, sizeof(plan->api_sock), "%s/api.sock", plan->dir);
  snprintf(plan->console_log, sizeof(plan->console_log), "%s/console.log", plan->dir);
  if (strlen(plan->rpc_sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return runm_make_error(err, ENAMETOOLONG,
                           "socket path `%s` exceeds the %zu-byte unix socket limit; use a "
                           "shorter state dir (RUNM_STATE_DIR)",
                           plan->rpc_sock, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
  /* CIDs 0-2 are reserved; derive one from the pid and time to avoid clashes. */
  plan->vsock_cid = 3 + (unsigned)((getpid() * 2654435761u) ^ (unsigned)time(NULL)) % 0x7ffffff0u;

  char tuning[128] = "";
  if (plan->accel == RUNM_ACCEL_TCG) tcg_tuning(cfg, tuning, sizeof(tuning));
  clock_gettime(CLOCK_REALTIME, &now);
  n = snprintf(plan->append, sizeof(plan->append),
               "console=ttyS0 reboot=t panic=-1 quiet%s " RUNM_KEY_ID "=%s " RUNM_KEY_TRANSPORT "=%s "
               RUNM_KEY_PORT "=%s " RUNM_KEY_VSOCK_PORT "=%u " RUNM_KEY_TIME "=%lld.%09ld%s%s%s",
               tuning, cfg->id, runm_transport_name(plan->transport), RUNM_VM_RPC_PORT_NAME,
               RUNM_VM_VSOCK_PORT, (long long)now.tv_sec, now.tv_nsec,
               cfg->debug ? " " RUNM_KEY_DEBUG "=1" : "", cfg->extra_append ? " " : "",
               cfg->extra_append ? cfg->extra_append : "");
  if (n < 0 || (size_t)n >= sizeof(plan->append))
    return runm_make_error(err, E2BIG, "kernel command line is too long");
  {
    /* guest/init/net.c reads it; slirp's addresses are the guest's defaults. */
    size_t used = strlen(plan->append);
    n = snprintf(plan->append + used, sizeof(plan->append) - used, " " RUNM_KEY_NET "=%s",
                 runm_net_mode_name(cfg->net));
    if (n < 0 || (size_t)n >= sizeof(plan->append) - used)
      return runm_make_error(err, E2BIG, "kernel command line is too long");
  }
  if (cfg->host_listen) {
    size_t used = strlen(plan->append);
    if (cfg->host_sock) snprintf(plan->host_sock, sizeof(plan->host_sock), "%s", cfg->host_sock);
    else snprintf(plan->host_sock, sizeof(plan->host_sock), "%s/host.sock", plan->dir);
    if (strlen(plan->host_sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
      return runm_make_error(err, ENAMETOOLONG, "socket path `%s` is too long", plan->host_sock);
    /* A host vsock port per VM: the CID is already unique among this
     * host's VMs. */
    plan->host_vsock_port = plan->vsock_cid;
    n = snprintf(plan->append + used, sizeof(plan->append) - used,
                 " " RUNM_KEY_HOST_PORT "=%s " RUNM_KEY_HOST_VSOCK_PORT "=%u", RUNM_VM_HOST_PORT_NAME,
                 plan->host_vsock_port);
    if (n < 0 || (size_t)n >= sizeof(plan->append) - used)
      return runm_make_error(err, E2BIG, "kernel command line is too long");
  }
  if (cfg->n_shares > RUNM_VM_MAX_SHARES)
    return runm_make_error(err, E2BIG, "%zu shares requested; at most %d", cfg->n_shares,
                           RUNM_VM_MAX_SHARES);
  if (cfg->share_fs == RUNM_SHARE_VIRTIOFS && cfg->n_shares > 0) {
    size_t used = strlen(plan->append);
    n = snprintf(plan->append + used, sizeof(plan->append) - used, " " RUNM_KEY_SHARE_FS "=virtiofs");
    if (n < 0 || (size_t)n >= sizeof(plan->append) - used)
      return runm_make_error(err, E2BIG, "kernel command line is too long");
  }
  for (size_t i = 0; i < cfg->n_shares; i++) {
    size_t used = strlen(plan->append);
    const char *gp = cfg->shares[i].guest_path ? cfg->shares[i].guest_path : cfg->shares[i].path;
    if (runm_vm_share_check(cfg->shares[i].path, err) < 0 || runm_vm_share_check(gp, err) < 0) return -1;
    n = snprintf(plan->append + used, sizeof(plan->append) - used, " " RUNM_KEY_SHARE "%zu=%s:%s", i,
                 cfg->shares[i].readonly ? "ro" : "rw", gp);
    if (n < 0 || (size_t)n >= sizeof(plan->append) - used)
      return runm_make_error(err, E2BIG, "kernel command line is too long for the shares");
  }
  return 0;
}

int runm_listen_unix(const char *path, int backlog, runm_error_t *err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0) return runm_make_error(err, errno, "socket");
  if (strlen(path) >= sizeof(addr.sun_path))
    return runm_make_error(err, ENAMETOOLONG, "socket path `%s` is too long", path);
  memcpy(addr.sun_path, path, strlen(path) + 1);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return runm_make_error(err, errno, "bind `%s`", path);
  if (chmod(path, 0600) < 0) return runm_make_error(err, errno, "chmod `%s`", path);
  if (listen(fd, backlog) < 0) {
    int e = errno;
    unlink(path);
    return runm_make_error(err, e, "listen `%s`", path);
  }
  return runm_steal_fd(&fd);
}

/* Cancels the boot Ping the moment the VM process dies. */
struct watcher {
  int pidfd, stopfd;
  struct runm_rpc_client *client;
  pthread_t thread;
};

static void *watch_thread(void *arg)
{
  struct watcher *w = arg;
  struct pollfd p[2] = {{.fd = w->pidfd, .events = POLLIN}, {.fd = w->stopfd, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    if (p[1].revents) return NULL;
    if (p[0].revents) {
      runm_rpc_client_cancel_all(w->client, "the VM exited during boot");
      return NULL;
    }
  }
}

/* vsock has no listening socket before the guest binds its port, so the host
 * retries the connect (with backoff) until the guest answers, the VM dies or
 * the deadline passes. */
static int connect_vsock(struct runm_vm *vm, int64_t timeout_ms, runm_error_t *err)
{
  int64_t deadline = runm_now_ns() + timeout_ms * 1000000LL;
  int delay_ms = 5;

  for (;;) {
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = vm->plan.vsock_cid,
                               .svm_port = RUNM_VM_VSOCK_PORT};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return runm_make_error(err, errno, "vsock socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) return fd;
    close(fd);
    if (vm->pidfd >= 0) {
      struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
      if (poll(&p, 1, delay_ms) > 0)
        return runm_make_error(err, ECONNREFUSED, "the VM exited during boot");
    } else {
      usleep((useconds_t)delay_ms * 1000);
    }
    if (runm_now_ns() > deadline)
      return runm_make_error(err, ETIMEDOUT, "guest did not listen on vsock port %u",
                             RUNM_VM_VSOCK_PORT);
    if (delay_ms < 100) delay_ms *= 2;
  }
}

/* Rewrites *err as "VM `id` failed to boot: <cause>" followed by what QEMU
 * and the guest console said last: the guest's own words are usually the
 * real reason (the mounter's one line, a kernel panic). */
static int boot_error(struct runm_vm *vm, runm_error_t *err)
{
  cleanup_free char *tail = runm_vm_console_tail(vm->plan.console_log, 700);
  cleanup_free char *cause = runm_error_string(*err);
  cleanup_free char *qtail = NULL;
  char qlog[320];

  snprintf(qlog, sizeof(qlog), "%s/qemu.log", vm->plan.dir);
  qtail = runm_vm_console_tail(qlog, 400);
  return runm_make_error(err, 0, "VM `%s` failed to boot: %s%s%s%s%s", vm->id,
                         cause ? cause : "error",
                         qtail && *qtail ? "\nQEMU: " : "", qtail && *qtail ? qtail : "",
                         tail && *tail ? "\nguest console (last lines):\n" : "\nguest console: empty",
                         tail && *tail ? tail : "");
}

int runm_vm_start(const struct runm_vm_config *cfg, const struct runm_logger *log,
                  struct runm_vm **out, runm_error_t *err)
{
  struct runm_vm *vm;
  char path[300];
  int lfd = -1, ret;
  Runm__V1__PingRequest req = RUNM__V1__PING_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;

  *out = NULL;
  if (!runm_vm_id_valid(cfg->id))
    return runm_make_error(err, EINVAL,
                           "invalid VM id `%s` (1-%d of [A-Za-z0-9_.-], starting alphanumeric)",
                           cfg->id ? cfg->id : "", RUNM_VM_ID_MAX);
  if (check_file("kernel", cfg->kernel, err) < 0 || check_file("initrd", cfg->initrd, err) < 0 ||
      check_file("mbin image", cfg->mbin, err) < 0)
    return -1;

  if (cfg->host_loopback && cfg->net != RUNM_NET_USER)
    return runm_make_error(err, EINVAL, "host loopback needs user networking (network is `%s`)",
                           runm_net_mode_name(cfg->net));
  if (cfg->n_ports > 0 && cfg->net != RUNM_NET_USER)
    return runm_make_error(err, EINVAL, "published ports need user networking (network is `%s`)",
                           runm_net_mode_name(cfg->net));
  if (cfg->net == RUNM_NET_TAP && cfg->backend != RUNM_BACKEND_LIBVIRT && cfg->tap_fd < 0)
    return runm_make_error(err, EINVAL, "network `tap` needs a TAP device (the shim's namespace mode)");
  /* The namespace mode puts QEMU in the task's network namespace. A
   * libvirt daemon's QEMU is the daemon's child, in the daemon's namespace:
   * the hooks would get a pid outside the task's namespace (nerdctl before
   * 2.0 runs CNI in /proc/<pid>/ns/net). The embed driver's QEMU is a child
   * of runm's helper, which joins the namespace first. */
  if (cfg->net == RUNM_NET_TAP && cfg->backend == RUNM_BACKEND_LIBVIRT) {
    const char *uri = cfg->libvirt_uri && *cfg->libvirt_uri ? cfg->libvirt_uri : RUNM_LIBVIRT_URI_DEFAULT;
    if (!runm_libvirt_is_embed(uri))
      return runm_make_error(err, ENOTSUP, "network `tap` (a task with its own network namespace: CNI, "
                                           "nerdctl, CRI) needs QEMU in that namespace, and libvirt `%s` "
                                           "starts QEMU in its daemon's; use libvirt_uri = "
                                           "qemu:///embed?root=DIR, vm_backend = qemu or io.runm.net=user",
                             uri);
    if (cfg->tap_name == NULL || cfg->netns_fd < 0)
      return runm_make_error(err, EINVAL, "network `tap` with vm_backend = libvirt needs a persistent TAP "
                                          "device's name and its network namespace (the shim's namespace mode)");
  }
  if (cfg->n_ports > RUNM_PORTS_MAX)
    return runm_make_error(err, E2BIG, "%zu published ports; at most %d", cfg->n_ports,
                           RUNM_PORTS_MAX);
  if (runm_ports_check_free(cfg->ports, cfg->n_ports, err) < 0) return -1;

  for (size_t i = 0; i < cfg->n_shares; i++) {
    struct stat st;
    if (runm_vm_share_check(cfg->shares[i].path, err) < 0) return -1;
    if (stat(cfg->shares[i].path, &st) < 0)
      return runm_make_error(err, errno, "share `%s`", cfg->shares[i].path);
    if (!S_ISDIR(st.st_mode))
      return runm_make_error(err, ENOTDIR, "share `%s` is not a directory", cfg->shares[i].path);
  }

  vm = calloc(1, sizeof(*vm));
  if (vm == NULL) return runm_make_error(err, ENOMEM, "allocate VM");
  vm->pid = -1;
  vm->pidfd = -1;
  vm->backend = runm_vm_backend_get(cfg->backend);
  snprintf(vm->id, sizeof(vm->id), "%s", cfg->id);
  snprintf(vm->qemu_name, sizeof(vm->qemu_name), "runm-%s", cfg->id);
  if (plan_vm(cfg, log, &vm->plan, err) < 0) goto fail_free;

  if (runm_state_dir_check(cfg->state_root, true, err) < 0) goto fail_free;
  snprintf(path, sizeof(path), "%s/vm", cfg->state_root);
  if (runm_state_dir_check(path, true, err) < 0) goto fail_free;
  if (mkdir(vm->plan.dir, 0700) < 0) {
    if (errno == EEXIST)
      runm_make_error(err, EEXIST, "VM `%s` already exists (state dir `%s`)", cfg->id,
                      vm->plan.dir);
    else
      runm_make_error(err, errno, "mkdir `%s`", vm->plan.dir);
    goto fail_free;
  }
  /* A umask may have taken bits; 0700 whatever it was. */
  if (chmod(vm->plan.dir, 0700) < 0) {
    runm_make_error(err, errno, "chmod `%s`", vm->plan.dir);
    goto fail_dir;
  }
  if (vm->plan.transport == RUNM_TRANSPORT_SERIAL && vm->backend->takes_rpc_fd) {
    lfd = runm_listen_unix(vm->plan.rpc_sock, 4, err);
    if (lfd < 0) goto fail_dir;
  }
  /* QEMU connects to the host channel at start: it must listen already. */
  if (cfg->host_listen && cfg->host_listen(cfg->host_opaque, &vm->plan, err) < 0) {
    if (lfd >= 0) close(lfd);
    runm_error_wrap(err, "guest-to-host channel");
    goto fail_dir;
  }
  if (vm->backend->spawn(cfg, vm, lfd, err) < 0) {
    runm_vm_console_stop(vm->console);
    vm->console = NULL;
    runm_vm_netfilter_stop(vm->netfilter);
    vm->netfilter = NULL;
    goto fail_dir;
  }
  runm_log(log, RUNM_LOG_DEBUG, "spawned QEMU pid %d (%s, %s, backend %s)", (int)vm->pid,
           runm_accel_name(vm->plan.accel), runm_transport_name(vm->plan.transport),
           vm->backend->name);

  if (vm->plan.transport == RUNM_TRANSPORT_VSOCK) {
    int fd = connect_vsock(vm, cfg->boot_timeout_ms > 0 ? cfg->boot_timeout_ms : 30000, err);
    if (fd < 0) goto fail_vm;
    vm->client = runm_rpc_client_new("vsock", fd, err);
    if (vm->client == NULL) goto fail_vm;
  } else {
    char target[320];
    snprintf(target, sizeof(target), "unix:%s", vm->plan.rpc_sock);
    vm->client = runm_rpc_client_new(target, -1, err);
    if (vm->client == NULL) goto fail_vm;
  }

  {
    struct watcher w = {.pidfd = vm->pidfd, .client = vm->client};
    bool watching = false;
    w.stopfd = eventfd(0, EFD_CLOEXEC);
    if (w.pidfd >= 0 && w.stopfd >= 0 && pthread_create(&w.thread, NULL, watch_thread, &w) == 0)
      watching = true;
    ret = runm_rpc_client_unary(vm->client, "/runm.v1.Guest/Ping", &req.base,
                                &runm__v1__ping_response__descriptor, &resp,
                                cfg->boot_timeout_ms > 0 ? cfg->boot_timeout_ms : 30000, true, err);
    if (watching) {
      uint64_t one = 1;
      ssize_t wr = write(w.stopfd, &one, sizeof(one));
      (void)wr;
      pthread_join(w.thread, NULL);
    }
    if (w.stopfd >= 0) close(w.stopfd);
  }
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  if (ret < 0) goto fail_vm;
  vm->ready_ns = runm_now_ns();
  runm_log(log, RUNM_LOG_DEBUG, "VM ready in %.3f s", (vm->ready_ns - vm->spawn_ns) / 1e9);
  *out = vm;
  return 0;

fail_vm:
  runm_rpc_client_free(vm->client);
  vm->client = NULL;
  vm->backend->kill(vm);
  boot_error(vm, err);
fail_dir:
  {
    cleanup_error runm_error_t e2 = NULL;
    if (runm_vm_remove_dir(vm->plan.dir, &e2) < 0) runm_log_error(log, e2, "cleanup");
  }
fail_free:
  if (vm->pidfd >= 0) close(vm->pidfd);
  free(vm);
  return -1;
}

void runm_vm_drop_client(struct runm_vm *vm)
{
  runm_rpc_client_free(vm->client);
  vm->client = NULL;
}

int runm_vm_wait(struct runm_vm *vm, int *status, runm_error_t *err)
{
  if (vm->pid <= 0) return runm_make_error(err, ECHILD, "VM `%s` is not running", vm->id);
  if (vm->backend->wait(vm, status, err) < 0) return -1;
  vm->pid = -1;
  runm_vm_console_stop(vm->console);
  vm->console = NULL;
  runm_vm_netfilter_stop(vm->netfilter);
  vm->netfilter = NULL;
  return 0;
}

int runm_vm_stop(struct runm_vm *vm, int64_t grace_ms, runm_error_t *err)
{
  runm_vm_drop_client(vm);
  if (vm->pid > 0) {
    vm->backend->term(vm);
    if (vm->pidfd >= 0) {
      struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
      int r;
      do
        r = poll(&p, 1, grace_ms > 0 ? (int)grace_ms : 0);
      while (r < 0 && errno == EINTR);
    }
  }
  /* Also after a wait: the libvirt backend ends its domain here. */
  vm->backend->kill(vm);
  return runm_vm_remove_dir(vm->plan.dir, err);
}

void runm_vm_free(struct runm_vm *vm)
{
  if (vm == NULL) return;
  runm_vm_drop_client(vm);
  runm_vm_console_stop(vm->console);
  runm_vm_netfilter_stop(vm->netfilter);
  runm_libvirt_vm_free(vm->lv);
  if (vm->pidfd >= 0) close(vm->pidfd);
  free(vm);
}

static int repath(char *field, size_t size, const char *old_dir, const char *new_dir)
{
  size_t l = strlen(old_dir);
  char tmp[sizeof(((struct runm_vm_plan *)0)->rpc_sock)];
  if (field[0] == '\0' || strncmp(field, old_dir, l) != 0) return 0;
  if (snprintf(tmp, sizeof(tmp), "%s%s", new_dir, field + l) >= (int)sizeof(tmp) ||
      strlen(tmp) >= size)
    return -1;
  memcpy(field, tmp, strlen(tmp) + 1);
  return 0;
}

int runm_vm_rename(struct runm_vm *vm, const char *new_id, runm_error_t *err)
{
  struct runm_vm_plan *p = &vm->plan;
  char new_dir[sizeof(p->dir)], old_dir[sizeof(p->dir)], *slash;
  int n;

  if (!runm_vm_id_valid(new_id)) return runm_make_error(err, EINVAL, "invalid VM id `%s`", new_id);
  snprintf(old_dir, sizeof(old_dir), "%s", p->dir);
  slash = strrchr(old_dir, '/');
  if (slash == NULL) return runm_make_error(err, EINVAL, "VM dir `%s` has no parent", old_dir);
  n = snprintf(new_dir, sizeof(new_dir), "%.*s/%s", (int)(slash - old_dir), old_dir, new_id);
  if (n < 0 || (size_t)n >= sizeof(new_dir) ||
      strlen(new_dir) + strlen("/host.sock") >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return runm_make_error(err, ENAMETOOLONG, "state dir path for `%s` is too long", new_id);
  /* NOREPLACE: another VM of that name keeps its dir. */
  if (renameat2(AT_FDCWD, old_dir, AT_FDCWD, new_dir, RENAME_NOREPLACE) < 0)
    return runm_make_error(err, errno == EEXIST ? EEXIST : errno, "rename VM dir `%s` to `%s`",
                           old_dir, new_dir);
  if (repath(p->rpc_sock, sizeof(p->rpc_sock), old_dir, new_dir) < 0 ||
      repath(p->api_sock, sizeof(p->api_sock), old_dir, new_dir) < 0 ||
      repath(p->console_log, sizeof(p->console_log), old_dir, new_dir) < 0 ||
      repath(p->host_sock, sizeof(p->host_sock), old_dir, new_dir) < 0) {
    /* Cannot happen after the length check above; undo rather than leave
     * a plan that names files which are not there. */
    if (renameat2(AT_FDCWD, new_dir, AT_FDCWD, old_dir, RENAME_NOREPLACE) < 0) {
      /* both names are ours; nothing better to do */
    }
    return runm_make_error(err, ENAMETOOLONG, "paths under `%s` are too long", new_dir);
  }
  snprintf(p->dir, sizeof(p->dir), "%s", new_dir);
  snprintf(vm->id, sizeof(vm->id), "%s", new_id);
  return 0;
}

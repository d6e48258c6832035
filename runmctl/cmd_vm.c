/* runmctl vm start|stop|ls: standalone VMs. `vm start` forks a supervisor
 * (before anything initialises gRPC) that owns QEMU: it reaps it, and removes
 * the state dir whenever the VM ends, however it ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdio.h"
#include "json.h"
#include "rpc.h"
#include "runmctl.h"
#include "vm_backend.h"
#include "vm_info.h"

static const char start_usage[] =
    "usage: runmctl vm start [options]\n"
    "Boot a standalone runm VM, wait until its guest answers Ping, print its id\n"
    "and RPC socket, and leave it running (a supervisor owns it).\n"
    "  --id ID            VM id (default: runm-<random>)\n"
    "  --kernel PATH      guest kernel (env RUNM_KERNEL)\n"
    "  --initrd PATH      initramfs (env RUNM_INITRD)\n"
    "  --mbin PATH        mbin squashfs (env RUNM_MBIN)\n"
    "  --memory MIB       guest memory (default 256)\n"
    "  --cpus N           vCPUs (default 1)\n"
    "  --accel A          auto|kvm|tcg (env RUNM_ACCEL; auto = KVM only when usable)\n"
    "  --transport T      auto|serial|vsock (env RUNM_TRANSPORT)\n"
    "  --append STR       extra kernel command line\n"
    "  --share DIR[:ro]   share a host directory at the same path in the guest (9p,\n"
    "                     virtio-fs with env RUNM_SHARE_FS=virtiofs);\n"
    "                     repeatable, up to 16\n"
    "  --net MODE         user (default: QEMU user-mode NAT, the guest is 10.0.2.15)\n"
    "                     or none\n"
    "  --host-loopback    let the guest reach the host's 127.0.0.1 as 10.0.2.2 (off:\n"
    "                     no new connection to it, nor to 169.254/16 or 127/8)\n"
    "  --publish SPEC     forward host ports to the guest: [HOSTADDR:]HOSTPORT:GUESTPORT\n"
    "                     [/tcp|/udp], comma-separated, HOSTADDR default 127.0.0.1;\n"
    "                     repeatable, up to 32 ports\n"
    "  --backend B        qemu (default: runm runs QEMU) or libvirt (a transient\n"
    "                     libvirt domain; env RUNM_VM_BACKEND; docs/libvirt.md)\n"
    "  --libvirt-uri URI  libvirt connection (env RUNM_LIBVIRT_URI; default\n"
    "                     qemu:///system; qemu:///embed?root=DIR needs no daemon)\n"
    "  --timeout SEC      boot deadline (default 30)\n"
    "  --json             machine-readable output\n";

static const char stop_usage[] =
    "usage: runmctl vm stop [--timeout SEC] ID...\n"
    "Stop standalone VMs: the guest is powered off, QEMU reaped, state removed.\n";

static const char ls_usage[] =
    "usage: runmctl vm ls [--json]\n"
    "List runm VMs under the state dir (standalone and shim-owned).\n";

static const char vm_usage[] =
    "usage: runmctl vm COMMAND\n"
    "  start   boot a standalone VM\n"
    "  stop    stop standalone VMs\n"
    "  ls      list VMs\n";

static void random_id(char *out, size_t len)
{
  unsigned char b[6] = {0};
  cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
    unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
    memcpy(b, &v, sizeof(v));
  }
  snprintf(out, len, "runm-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* Supervisor side of the start handshake: one line on the pipe. */
static void report(int fd, const char *line)
{
  /* The parent may have gone; then nobody is waiting for the answer. */
  (void)runm_write_all(fd, line, strlen(line));
}

static int supervise(struct runmctl *ctl, const struct runm_vm_config *cfg, int ready_fd)
{
  cleanup_error runm_error_t err = NULL;
  struct runm_vm *vm = NULL;
  sigset_t mask;
  int sfd, devnull;
  char line[4096];

  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  if (runm_vm_start(cfg, &ctl->log, &vm, &err) < 0) {
    cleanup_free char *msg = runm_error_string(err);
    snprintf(line, sizeof(line), "ERR %d %s\n", err ? err->status : EIO, msg ? msg : "error");
    report(ready_fd, line);
    return 1;
  }
  /* The serial port carries one connection: the supervisor keeps it and
   * serves a proxy socket that any number of clients can share. */
  struct runm_rpc_server *proxy = NULL;
  if (runm_vm_own(vm, "runmctl", &proxy, &err) < 0) {
    cleanup_free char *msg = runm_error_string(err);
    snprintf(line, sizeof(line), "ERR %d %s\n", err ? err->status : EIO, msg ? msg : "error");
    report(ready_fd, line);
    runm_error_release(&err);
    runm_vm_stop(vm, 0, &err);
    runm_vm_free(vm);
    return 1;
  }
  snprintf(line, sizeof(line), "OK %s %s %s %s %lld\n", vm->id, vm->plan.api_sock,
           runm_accel_name(vm->plan.accel), runm_transport_name(vm->plan.transport),
           (long long)(vm->ready_ns - vm->spawn_ns));
  report(ready_fd, line);
  close(ready_fd);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    close(devnull);
  }

  for (;;) {
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = vm->pidfd, .events = POLLIN}};
    if (poll(p, vm->pidfd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) break; /* asked to stop */
    if (p[1].revents) {
      int status;
      runm_vm_wait(vm, &status, &err);
      runm_error_release(&err);
      break;
    }
  }
  /* Stop serving first: freeing the server cancels the proxied calls and
   * waits for their handlers, which use the VM's client until they end. */
  runm_rpc_server_free(proxy);
  runm_vm_drop_client(vm);
  runm_vm_stop(vm, 3000, &err);
  runm_vm_free(vm);
  return 0;
}

static int vm_start(struct runmctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
      {"id", required_argument, NULL, 'i'},      {"kernel", required_argument, NULL, 'k'},
      {"initrd", required_argument, NULL, 'r'},  {"mbin", required_argument, NULL, 'b'},
      {"memory", required_argument, NULL, 'm'},  {"cpus", required_argument, NULL, 'c'},
      {"accel", required_argument, NULL, 'a'},   {"transport", required_argument, NULL, 't'},
      {"append", required_argument, NULL, 'A'},  {"timeout", required_argument, NULL, 'T'},
      {"share", required_argument, NULL, 's'},
      {"net", required_argument, NULL, 'n'},     {"publish", required_argument, NULL, 'p'},
      {"host-loopback", no_argument, NULL, 'L'},
      {"backend", required_argument, NULL, 'B'}, {"libvirt-uri", required_argument, NULL, 'U'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cleanup_error runm_error_t err = NULL;
  char id[RUNM_VM_ID_MAX + 1], kernel[4096], initrd[4096], mbin[4096];
  const char *id_arg = NULL, *kernel_arg = NULL, *initrd_arg = NULL, *mbin_arg = NULL;
  const char *accel = getenv("RUNM_ACCEL"), *transport = getenv("RUNM_TRANSPORT");
  const char *backend = getenv("RUNM_VM_BACKEND"), *share_fs = getenv("RUNM_SHARE_FS");
  struct runm_vm_config cfg = {0};
  int c, fds[2];
  pid_t pid;
  char buf[4096];
  size_t len = 0;
  struct runm_vm_share shares[RUNM_VM_MAX_SHARES];
  char share_paths[RUNM_VM_MAX_SHARES][4096];
  struct runm_port_forward ports[RUNM_PORTS_MAX];

  cfg.mem_mib = 256;
  cfg.vcpus = 1;
  cfg.boot_timeout_ms = 30000;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    long v;
    switch (c) {
    case 'i': id_arg = optarg; break;
    case 'k': kernel_arg = optarg; break;
    case 'r': initrd_arg = optarg; break;
    case 'b': mbin_arg = optarg; break;
    case 'a': accel = optarg; break;
    case 't': transport = optarg; break;
    case 'A': cfg.extra_append = optarg; break;
    case 's': {
      size_t n = strlen(optarg);
      bool ro = n > 3 && strcmp(optarg + n - 3, ":ro") == 0;
      if (cfg.n_shares >= RUNM_VM_MAX_SHARES) {
        fprintf(stderr, "runmctl vm start: at most %d --share\n", RUNM_VM_MAX_SHARES);
        return RUNMCTL_USAGE;
      }
      if (ro) n -= 3;
      else if (n > 3 && strcmp(optarg + n - 3, ":rw") == 0) n -= 3;
      snprintf(share_paths[cfg.n_shares], sizeof(share_paths[0]), "%.*s", (int)n, optarg);
      /* The guest mounts at the host's canonical path. */
      {
        char real[4096];
        if (realpath(share_paths[cfg.n_shares], real) == NULL) {
          fprintf(stderr, "runmctl vm start: share `%s`: %s\n", share_paths[cfg.n_shares],
                  strerror(errno));
          return RUNMCTL_FAIL;
        }
        snprintf(share_paths[cfg.n_shares], sizeof(share_paths[0]), "%s", real);
      }
      shares[cfg.n_shares].path = share_paths[cfg.n_shares];
      shares[cfg.n_shares].readonly = ro;
      cfg.n_shares++;
      cfg.shares = shares;
      break;
    }
    case 'n':
      if (runm_net_mode_parse(optarg, &cfg.net, &err) < 0) {
        fprintf(stderr, "runmctl vm start: --net: %s\n", err->msg);
        return RUNMCTL_USAGE;
      }
      break;
    case 'p':
      if (runm_ports_parse(optarg, ports, RUNM_PORTS_MAX, &cfg.n_ports, &err) < 0) {
        fprintf(stderr, "runmctl vm start: --publish `%s`: %s\n", optarg, err->msg);
        return RUNMCTL_USAGE;
      }
      cfg.ports = ports;
      break;
    case 'L': cfg.host_loopback = true; break;
    case 'B': backend = optarg; break;
    case 'U': cfg.libvirt_uri = optarg; break;
    case 'j': ctl->json = true; break;
    case 'm':
    case 'c':
    case 'T':
      v = strtol(optarg, &end, 10);
      if (*optarg == '\0' || *end != '\0' || v <= 0 || v > 1 << 20) {
        fprintf(stderr, "runmctl vm start: bad number `%s` for --%s\n", optarg,
                c == 'm' ? "memory" : c == 'c' ? "cpus" : "timeout");
        return RUNMCTL_USAGE;
      }
      if (c == 'm') cfg.mem_mib = (unsigned)v;
      else if (c == 'c') cfg.vcpus = (unsigned)v;
      else cfg.boot_timeout_ms = v * 1000;
      break;
    case 'h': fputs(start_usage, stdout); return RUNMCTL_OK;
    default: fputs(start_usage, stderr); return RUNMCTL_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "runmctl vm start: unexpected argument `%s`\n%s", argv[optind], start_usage);
    return RUNMCTL_USAGE;
  }
  if (id_arg)
    snprintf(id, sizeof(id), "%s", id_arg);
  else
    random_id(id, sizeof(id));
  if (id_arg && !runm_vm_id_valid(id_arg)) {
    fprintf(stderr, "runmctl vm start: invalid VM id `%s` (1-%d of [A-Za-z0-9_.-])\n", id_arg,
            RUNM_VM_ID_MAX);
    return RUNMCTL_USAGE;
  }
  if (cfg.libvirt_uri == NULL) cfg.libvirt_uri = getenv("RUNM_LIBVIRT_URI");
  if (runm_accel_parse(accel, &cfg.accel, &err) < 0 ||
      runm_transport_parse(transport, &cfg.transport, &err) < 0 ||
      runm_backend_parse(backend, &cfg.backend, &err) < 0 ||
      runm_share_fs_parse(share_fs, &cfg.share_fs, &err) < 0) {
    fprintf(stderr, "runmctl vm start: %s\n", err->msg);
    return RUNMCTL_USAGE;
  }
  if (kernel_arg) snprintf(kernel, sizeof(kernel), "%s", kernel_arg);
  else if (runmctl_find_artifact("RUNM_KERNEL", "vmlinux", kernel, sizeof(kernel), &err) < 0)
    goto fail;
  if (initrd_arg) snprintf(initrd, sizeof(initrd), "%s", initrd_arg);
  else if (runmctl_find_artifact("RUNM_INITRD", "initrd.cpio", initrd, sizeof(initrd), &err) < 0)
    goto fail;
  if (mbin_arg) snprintf(mbin, sizeof(mbin), "%s", mbin_arg);
  else if (runmctl_find_artifact("RUNM_MBIN", "mbin.squashfs", mbin, sizeof(mbin), &err) < 0)
    goto fail;
  cfg.id = id;
  cfg.kernel = kernel;
  cfg.initrd = initrd;
  cfg.mbin = mbin;
  cfg.state_root = ctl->state_root;
  cfg.debug = ctl->debug;

  if (pipe2(fds, O_CLOEXEC) < 0) {
    runm_make_error(&err, errno, "pipe");
    goto fail;
  }
  /* runmctl has not touched gRPC yet, so a plain fork is safe here. */
  pid = fork();
  if (pid < 0) {
    runm_make_error(&err, errno, "fork");
    goto fail;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fds[0]);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    setsid();
    _exit(supervise(ctl, &cfg, fds[1]));
  }
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len == sizeof(buf) - 1) break;
  }
  close(fds[0]);
  buf[len] = '\0';
  while (len > 0 && buf[len - 1] == '\n') buf[--len] = '\0';
  if (strncmp(buf, "OK ", 3) == 0) {
    char rid[128], sock[512], acc[16], tr[16];
    long long boot_ns = 0;
    if (sscanf(buf + 3, "%127s %511s %15s %15s %lld", rid, sock, acc, tr, &boot_ns) != 5) {
      runm_make_error(&err, EPROTO, "supervisor sent `%s`", buf);
      goto fail;
    }
    if (ctl->json) {
      struct runm_json j;
      runm_json_init(&j, stdout);
      runm_json_begin_object(&j, NULL);
      runm_json_string(&j, "id", rid);
      runm_json_string(&j, "socket", sock);
      runm_json_string(&j, "accel", acc);
      runm_json_string(&j, "transport", tr);
      runm_json_double(&j, "boot_seconds", boot_ns / 1e9);
      runm_json_end_object(&j);
    } else {
      printf("%s %s\n", rid, sock);
      fprintf(stderr, "runmctl: VM %s ready in %.3f s (%s, %s)\n", rid, boot_ns / 1e9, acc, tr);
    }
    return RUNMCTL_OK;
  }
  {
    int status;
    const char *msg = buf;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (strncmp(buf, "ERR ", 4) == 0) {
      msg = strchr(buf + 4, ' ');
      msg = msg ? msg + 1 : buf;
    } else {
      msg = "the VM supervisor exited without a report";
    }
    fprintf(stderr, "runmctl vm start: %s\n", msg);
    return RUNMCTL_FAIL;
  }
fail:
  {
    cleanup_free char *msg = runm_error_string(err);
    fprintf(stderr, "runmctl vm start: %s\n", msg ? msg : "error");
    return RUNMCTL_FAIL;
  }
}

static int pidfd_open_(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

static bool wait_gone(int pidfd, int timeout_ms)
{
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int r;
  if (pidfd < 0) return false;
  do
    r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

static int stop_one(struct runmctl *ctl, const char *id, int timeout_s)
{
  cleanup_error runm_error_t err = NULL;
  char dir[512];
  struct runm_vm_info info;

  if (runmctl_vm_dir(ctl, id, dir, sizeof(dir), &err) < 0) {
    fprintf(stderr, "runmctl vm stop: %s\n", err->msg);
    return runmctl_exit_code(err);
  }
  if (runm_vm_info_read(dir, &info, &err) < 0) {
    fprintf(stderr, "runmctl vm stop: VM `%s` is still starting or not standalone (%s)\n", id,
            err->msg);
    return RUNMCTL_FAIL;
  }
  {
    cleanup_close int sup = pidfd_open_(info.supervisor_pid);
    if (sup >= 0 && kill(info.supervisor_pid, SIGTERM) == 0 && wait_gone(sup, timeout_s * 1000)) {
      /* The supervisor removed the state dir on its way out. */
    } else {
      /* Supervisor gone or stuck: do its job. */
      if (sup >= 0) kill(info.supervisor_pid, SIGKILL);
      if (strcmp(info.backend, "libvirt") == 0 && info.qemu_name[0]) {
        cleanup_error runm_error_t e2 = NULL;
        if (runm_libvirt_destroy(info.libvirt_uri, info.qemu_name, 10000, &e2) < 0)
          fprintf(stderr, "runmctl vm stop: %s\n", e2->msg);
      }
      if (runm_vm_info_is_qemu(&info, id)) {
        cleanup_close int q = pidfd_open_(info.qemu_pid);
        kill(info.qemu_pid, SIGKILL);
        wait_gone(q, 5000);
      }
      if (info.cgroup[0]) runm_libvirt_remove_cgroup(info.cgroup);
      if (runm_vm_remove_dir(dir, &err) < 0) {
        fprintf(stderr, "runmctl vm stop: %s\n", err->msg);
        return RUNMCTL_FAIL;
      }
    }
  }
  if (access(dir, F_OK) == 0) {
    fprintf(stderr, "runmctl vm stop: state dir `%s` still exists\n", dir);
    return RUNMCTL_FAIL;
  }
  if (!ctl->json) printf("%s\n", id);
  return RUNMCTL_OK;
}

static int vm_stop(struct runmctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {{"timeout", required_argument, NULL, 'T'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c, rc = RUNMCTL_OK, timeout_s = 10;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'T': timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 10; break;
    case 'j': ctl->json = true; break;
    case 'h': fputs(stop_usage, stdout); return RUNMCTL_OK;
    default: fputs(stop_usage, stderr); return RUNMCTL_USAGE;
    }
  }
  if (optind >= argc) {
    fputs(stop_usage, stderr);
    return RUNMCTL_USAGE;
  }
  for (int i = optind; i < argc; i++) {
    int r = stop_one(ctl, argv[i], timeout_s);
    if (r != RUNMCTL_OK && rc == RUNMCTL_OK) rc = r;
  }
  return rc;
}

static int vm_ls(struct runmctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  char root[4096];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  struct runm_json j;
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'j': ctl->json = true; break;
    case 'h': fputs(ls_usage, stdout); return RUNMCTL_OK;
    default: fputs(ls_usage, stderr); return RUNMCTL_USAGE;
    }
  }
  {
    cleanup_error runm_error_t err = NULL;
    if (runmctl_check_state_root(ctl, &err) < 0) {
      runm_log_error(&ctl->log, err, "vm ls");
      return RUNMCTL_FAIL;
    }
  }
  snprintf(root, sizeof(root), "%s/vm", ctl->state_root);
  d = opendir(root);
  if (ctl->json) {
    runm_json_init(&j, stdout);
    runm_json_begin_array(&j, NULL);
  } else {
    printf("%-24s %-8s %-8s %-6s %-9s %-8s %s\n", "ID", "STATE", "PID", "ACCEL", "TRANSPORT", "BACKEND",
           "SOCKET");
  }
  while (d && (de = readdir(d))) {
    char dir[4400];
    struct runm_vm_info info;
    cleanup_error runm_error_t err = NULL;
    const char *state;
    if (de->d_name[0] == '.' || !runm_vm_id_valid(de->d_name)) continue;
    snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
    if (runm_vm_info_read(dir, &info, &err) < 0) {
      state = "starting";
      snprintf(info.id, sizeof(info.id), "%s", de->d_name);
    } else {
      state = runm_vm_info_is_qemu(&info, de->d_name) ? "running" : "stale";
    }
    if (ctl->json) {
      runm_json_begin_object(&j, NULL);
      runm_json_string(&j, "id", de->d_name);
      runm_json_string(&j, "state", state);
      runm_json_int(&j, "pid", info.qemu_pid);
      runm_json_string(&j, "accel", info.accel);
      runm_json_string(&j, "transport", info.transport);
      runm_json_string(&j, "backend", info.backend[0] ? info.backend : "qemu");
      runm_json_string(&j, "socket", info.socket);
      runm_json_double(&j, "boot_seconds",
                       info.ready_ns > info.spawn_ns ? (info.ready_ns - info.spawn_ns) / 1e9 : 0);
      runm_json_end_object(&j);
    } else {
      printf("%-24s %-8s %-8d %-6s %-9s %-8s %s\n", de->d_name, state, (int)info.qemu_pid,
             info.accel[0] ? info.accel : "-", info.transport[0] ? info.transport : "-",
             info.backend[0] ? info.backend : (info.accel[0] ? "qemu" : "-"),
             info.socket[0] ? info.socket : "-");
    }
  }
  if (ctl->json) runm_json_end_array(&j);
  return RUNMCTL_OK;
}

int cmd_vm(struct runmctl *ctl, int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(vm_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? RUNMCTL_USAGE : RUNMCTL_OK;
  }
  if (strcmp(argv[1], "start") == 0) return vm_start(ctl, argc - 1, argv + 1);
  if (strcmp(argv[1], "stop") == 0) return vm_stop(ctl, argc - 1, argv + 1);
  if (strcmp(argv[1], "ls") == 0) return vm_ls(ctl, argc - 1, argv + 1);
  fprintf(stderr, "runmctl vm: unknown command `%s`\n%s", argv[1], vm_usage);
  return RUNMCTL_USAGE;
}

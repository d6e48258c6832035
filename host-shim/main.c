/* containerd-shim-runm-v1: containerd's shim v2 contract. `start` spawns
 * the long-lived shim and prints its ttrpc address; `delete` cleans up after
 * a shim that died; with no subcommand the process is the shim itself,
 * serving the Task service on the socket `start` passed it as fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "publish.h"
#include "exports.h"
#include "fusebind.h"
#include "hooks.h"
#include "lifecycle.h"
#include "pb.h"
#include "pool.h"
#include "rootfs.h"
#include "shim.h"
#include "task.h"
#include "task_net.h"
#include "task_vm.h"
#include "container.h"
#include "timing.h"
#include "ttrpc.h"
#include "vm.h"
#include "xalloc.h"
#include "vm_info.h"
#include "unix_socket.h"

extern char **environ;

#define LISTEN_FD 3

struct args {
  const char *ns, *address, *publish_binary, *id, *bundle, *socket;
  bool debug;
  const char *action; /* "start", "delete", or NULL (serve) */
};

static int parse_args(int argc, char **argv, struct args *a)
{
  memset(a, 0, sizeof(*a));
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    /* Go's flag package: -name value, --name value, -name=value. */
    if (f[0] == '-') {
      const char *name = f + (f[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
      char key[32];
      const char *val;
      size_t kl = eq ? (size_t)(eq - name) : strlen(name);
      if (kl >= sizeof(key)) return -1;
      memcpy(key, name, kl);
      key[kl] = '\0';
      if (strcmp(key, "debug") == 0) {
        a->debug = !eq || strcmp(eq + 1, "true") == 0;
        continue;
      }
      if (strcmp(key, "v") == 0 || strcmp(key, "version") == 0) {
        a->action = "version";
        continue;
      }
      if (eq)
        val = eq + 1;
      else if (i + 1 < argc)
        val = argv[++i];
      else
        return -1;
      if (strcmp(key, "namespace") == 0) a->ns = val;
      else if (strcmp(key, "address") == 0) a->address = val;
      else if (strcmp(key, "publish-binary") == 0) a->publish_binary = val;
      else if (strcmp(key, "id") == 0) a->id = val;
      else if (strcmp(key, "bundle") == 0) a->bundle = val;
      else if (strcmp(key, "socket") == 0) a->socket = val;
      /* Flags of newer containerds we do not use are accepted silently. */
    } else if (a->action == NULL) {
      a->action = f;
    }
  }
  return 0;
}

/* The socket the shim serves: one per (containerd, namespace, id), under
 * runm's state dir, short enough for sun_path: 128 bits of SHA-256, so two
 * tasks never meet on one socket. */
#define SOCKET_DIGEST 32
static void socket_path(const struct shim_config *cfg, const struct args *a, char *out, size_t len)
{
  const char *parts[] = {a->address ? a->address : "", a->ns ? a->ns : "", a->id ? a->id : ""};
  char h[SOCKET_DIGEST + 1];
  shim_digest_hex(parts, 3, h, SOCKET_DIGEST);
  /* No digest, no name: "" is refused by start and unlinks nothing. */
  if (h[0] == '\0') out[0] = '\0';
  else snprintf(out, len, "%s/s/%s.sock", cfg->state_dir, h);
}

static void exe_dir(char *out, size_t len)
{
  ssize_t n = readlink("/proc/self/exe", out, len - 1);
  if (n <= 0) {
    out[0] = '\0';
    return;
  }
  out[n] = '\0';
  char *slash = strrchr(out, '/');
  if (slash) *slash = '\0';
}

static int die(const char *what, runm_error_t err)
{
  cleanup_free char *msg = runm_error_string(err);
  fprintf(stderr, "containerd-shim-runm-v1: %s: %s\n", what, msg ? msg : "error");
  return 1;
}

static bool socket_alive(const char *path)
{
  cleanup_close int fd = runm_unix_connect(path, SOCK_STREAM, NULL);
  return fd >= 0;
}

static int write_file(const char *path, const char *content, runm_error_t *err)
{
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
    return runm_make_error(err, errno, "write `%s`", path);
  return 0;
}

static int cmd_start(const struct args *a, int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  struct shim_config cfg;
  char dir[PATH_MAX], sock[PATH_MAX], sdir[PATH_MAX + 8], address[PATH_MAX + 16], cwd[PATH_MAX];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  char **child_argv;
  int lfd, moved, r;
  pid_t pid;

  {
    char vmid[80];
    shim_vm_id(a->ns, a->id, vmid, sizeof(vmid));
    shim_timing_mark(vmid, "shim.start", 0);
  }
  exe_dir(dir, sizeof(dir));
  if (shim_config_load(&cfg, dir, &err) < 0) return die("config", err);
  if (getcwd(cwd, sizeof(cwd)) == NULL) return die("getcwd", err);
  socket_path(&cfg, a, sock, sizeof(sock));
  if (sock[0] == '\0') {
    runm_make_error(&err, ENOMEM, "no socket name for task `%s`", a->id);
    return die("start", err);
  }
  snprintf(address, sizeof(address), "unix://%s", sock);
  mkdir(cfg.state_dir, 0711);
  snprintf(sdir, sizeof(sdir), "%s/s", cfg.state_dir);
  if (mkdir(sdir, 0700) < 0 && errno != EEXIST) {
    runm_make_error(&err, errno, "mkdir `%s`", sdir);
    return die("start", err);
  }
  if (access(sock, F_OK) == 0) {
    if (socket_alive(sock)) {
      /* A shim already serves this task (containerd retried): reuse it. */
      write_file("address", address, &err);
      printf("%s", address);
      return 0;
    }
    unlink(sock);
  }
  lfd = runm_listen_unix(sock, 64, &err);
  if (lfd < 0) return die("start", err);
  if (cfg.pool_size > 0) {
    /* A pooled shim takes the task if one is ready; a new spare boots
     * either way, so the next task finds one. */
    struct pool_claim c = {.debug = a->debug};
    int claimed;
    snprintf(c.ns, sizeof(c.ns), "%s", a->ns);
    snprintf(c.id, sizeof(c.id), "%s", a->id);
    snprintf(c.address, sizeof(c.address), "%s", a->address ? a->address : "");
    snprintf(c.publish_binary, sizeof(c.publish_binary), "%s", a->publish_binary ? a->publish_binary : "");
    snprintf(c.ttrpc_address, sizeof(c.ttrpc_address), "%s",
             getenv("TTRPC_ADDRESS") ? getenv("TTRPC_ADDRESS") : "");
    snprintf(c.bundle, sizeof(c.bundle), "%s", a->bundle ? a->bundle : cwd);
    claimed = pool_claim(&cfg, &c, lfd, &err);
    if (claimed < 0) {
      runm_log_error(NULL, err, "pool");
      runm_error_release(&err);
    }
    if (pool_refill(&cfg, &c, &err) < 0) {
      runm_log_error(NULL, err, "pool");
      runm_error_release(&err);
    }
    if (claimed > 0) {
      close(lfd);
      if (write_file("address", address, &err) < 0) return die("start", err);
      printf("%s", address);
      return 0;
    }
  }
  if (lfd == LISTEN_FD) {
    moved = fcntl(lfd, F_DUPFD_CLOEXEC, 10);
    close(lfd);
    lfd = moved;
  }
  child_argv = calloc((size_t)argc + 1, sizeof(char *));
  for (int i = 0, j = 0; i < argc; i++)
    if (strcmp(argv[i], "start") != 0) child_argv[j++] = argv[i];
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, lfd, LISTEN_FD);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  /* containerd reads start's stdout and stderr until EOF: the long-lived
   * shim must hold neither (it logs to the bundle's log FIFO), nor any
   * other descriptor containerd happened to leak to us. */
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, LISTEN_FD + 1);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  r = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, child_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  free(child_argv);
  close(lfd);
  if (r != 0) {
    unlink(sock);
    runm_make_error(&err, r, "spawn the shim");
    return die("start", err);
  }
  if (write_file("address", address, &err) < 0) {
    kill(pid, SIGKILL);
    unlink(sock);
    return die("start", err);
  }
  printf("%s", address);
  return 0;
}

/* After a shim died: kill its VM, unmount its rootfs, remove its state,
 * and tell containerd how the task ended (SIGKILL, now). */
static int cmd_delete(const struct args *a)
{
  cleanup_error runm_error_t err = NULL;
  struct shim_config cfg;
  char dir[PATH_MAX], vmid[80], vmdir[PATH_MAX + 100], sock[PATH_MAX], cwd[PATH_MAX];
  struct runm_vm_info info;
  char pool_name[RUNM_VM_ID_MAX + 8] = "";
  Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  uint8_t buf[128];
  size_t len;

  exe_dir(dir, sizeof(dir));
  if (shim_config_load(&cfg, dir, &err) < 0) return die("config", err);
  shim_vm_id(a->ns ? a->ns : "", a->id ? a->id : "", vmid, sizeof(vmid));
  if (vmid[0] == '\0') {
    /* Without the VM's name, any cleanup would act on all VMs' dirs. */
    runm_make_error(&err, ENOMEM, "no VM id for task `%s`", a->id);
    return die("delete", err);
  }
  snprintf(vmdir, sizeof(vmdir), "%s/vm/%s", cfg.state_dir, vmid);
  if (runm_vm_info_read(vmdir, &info, &err) == 0) {
    char cmdline_path[64], cmd[4096] = "";
    /* A pooled VM's shares dir keeps the name it booted with (and a VM
     * that kept its own name was never a spare: nothing of a live spare's
     * is touched). */
    if (strncmp(info.qemu_name, "runm-", 5) == 0 && info.qemu_name[5] && strcmp(info.qemu_name + 5, vmid) != 0)
      snprintf(pool_name, sizeof(pool_name), "%s", info.qemu_name + 5);
    snprintf(cmdline_path, sizeof(cmdline_path), "/proc/%d/cmdline", (int)info.qemu_pid);
    int fd = open(cmdline_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
      close(fd);
      if (n > 0) {
        char want[120];
        cmd[n] = '\0';
        /* A pooled VM keeps the name it booted with (vm.info says which). */
        if (info.qemu_name[0]) snprintf(want, sizeof(want), "%s", info.qemu_name);
        else snprintf(want, sizeof(want), "runm-%s", vmid);
        /* Only a QEMU that is this VM's (pids get reused). */
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1)
          if (strcmp(cmd + i, want) == 0) {
            /* Waited for (briefly): its TAP device and network namespace
             * go with it, before the network cleanup below. */
            int pfd = (int)syscall(SYS_pidfd_open, info.qemu_pid, 0);
            kill(info.qemu_pid, SIGKILL);
            if (pfd >= 0) {
              struct pollfd pl = {.fd = pfd, .events = POLLIN};
              while (poll(&pl, 1, 5000) < 0 && errno == EINTR) {
              }
              close(pfd);
            }
            break;
          }
      }
    }
    if (info.supervisor_pid > 0 && info.supervisor_pid != getpid()) kill(info.supervisor_pid, SIGKILL);
  }
  runm_error_release(&err);
  /* OCI hooks the dead shim was running would outlive it. */
  hooks_kill_orphans(vmdir);
  /* QEMU may take a moment to die and release its files; removal of
   * sockets and logs does not need it gone. */
  if (runm_vm_remove_dir(vmdir, &err) < 0) runm_log_error(NULL, err, "delete");
  runm_error_release(&err);
  /* A pooled VM's binds of the task's exports, then the exports (before
   * the runm-bindfs mounts and the rootfs they bind). Neither follows a
   * symlink the guest could have planted. */
  if (pool_name[0] && pool_shares_remove(cfg.state_dir, pool_name, &err) < 0) runm_log_error(NULL, err, "delete");
  runm_error_release(&err);
  if (exports_remove(cfg.state_dir, vmid, &err) < 0) runm_log_error(NULL, err, "delete");
  runm_error_release(&err);
  /* runm-bindfs mounts (bind_mode fuse/auto; a FUSE rootfs among them),
   * found by the record the shim wrote before making each. */
  if (fusebind_cleanup(cfg.state_dir, vmid, NULL, &err) < 0) runm_log_error(NULL, err, "delete");
  runm_error_release(&err);
  /* The namespace mode: poststop hooks, tc filters, TAP, namespace. */
  task_net_delete(cfg.state_dir, vmid, a->id ? a->id : "", a->bundle ? a->bundle : (getcwd(cwd, sizeof(cwd)) ? cwd : NULL));
  if (getcwd(cwd, sizeof(cwd)) && rootfs_unmount(a->bundle ? a->bundle : cwd, &err) < 0)
    runm_log_error(NULL, err, "delete");
  socket_path(&cfg, a, sock, sizeof(sock));
  unlink(sock);
  runm_pb_timestamp_set(&ts, runm_realtime_ns());
  resp.exit_status = 128 + SIGKILL;
  resp.exited_at = &ts;
  len = protobuf_c_message_pack(&resp.base, buf);
  fwrite(buf, 1, len, stdout);
  return 0;
}

static int handle(void *opaque, struct runm_ttrpc_call *call, const ProtobufCMessage *req,
                  ProtobufCMessage **resp, runm_error_t *err)
{
  struct shim *s = opaque;
  const char *m = runm_ttrpc_call_method(call);
  for (size_t i = 0; i < n_task_methods; i++)
    if (strcmp(task_methods[i].name, m) == 0) {
      runm_log(&s->log, RUNM_LOG_DEBUG, "Task.%s", m);
      int r = task_methods[i].fn(s, req, resp, err);
      if (r < 0) {
        cleanup_free char *msg = runm_error_string(*err);
        runm_log(&s->log, RUNM_LOG_WARN, "Task.%s: %s", m, msg ? msg : "error");
      }
      return r;
    }
  return runm_make_error(err, ENOSYS, "unknown method %s", m);
}

static void log_sink(void *opaque, enum runm_log_level level, const char *line)
{
  int fd = *(int *)opaque;
  char buf[2400];
  int n = snprintf(buf, sizeof(buf), "%s\n", line);
  if (fd >= 0 && n > 0 && write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0) {
    /* containerd went away; nobody to tell */
  }
}

struct sigwait_arg {
  struct shim *s;
  sigset_t mask;
};

/* SIGTERM/SIGINT end the shim like a Shutdown(now). */
static void *signal_thread(void *arg)
{
  struct sigwait_arg *sa = arg;
  int sig;
  sigwait(&sa->mask, &sig);
  pthread_mutex_lock(&sa->s->lock);
  sa->s->shutdown_requested = true;
  pthread_cond_broadcast(&sa->s->changed);
  pthread_mutex_unlock(&sa->s->lock);
  free(sa);
  return NULL;
}

/* Serves one task on lfd until Shutdown or SIGTERM. The shim's identity
 * (s->ns, id, bundle, addresses) is set; a pooled shim also has its VM. */
static int serve_task(struct shim *s, int lfd, bool debug, sigset_t mask)
{
  cleanup_error runm_error_t err = NULL;
  struct runm_ttrpc_method *methods;
  struct runm_ttrpc_server *srv;
  struct runm_ttrpc_server_config scfg = {0};
  char sock[PATH_MAX];
  int logfd;
  pthread_t sig_thread;
  bool sig_started = false;

  /* containerd reads the shim's log from the "log" FIFO in the bundle. */
  logfd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (logfd >= 0) fcntl(logfd, F_SETFL, O_WRONLY);
  else logfd = STDERR_FILENO;
  s->log.component = "containerd-shim-runm-v1";
  s->log.id = s->id;
  s->log.sink = log_sink;
  s->log.opaque = &logfd;
  s->log.max_level = debug || s->cfg.debug ? RUNM_LOG_DEBUG : RUNM_LOG_INFO;
  shim_vm_id(s->ns, s->id, s->vm_id, sizeof(s->vm_id));
  s->pub = publisher_new(s->ns, s->ttrpc_address, s->publish_binary, s->containerd_address, &s->log, &err);
  if (s->pub == NULL) {
    runm_log_error(&s->log, err, "events");
    return 1;
  }

  /* Every method of containerd.task.v2.Task, typed by its generated
   * descriptor; v3 (containerd 2.x) has the same messages. A table entry the
   * descriptor does not know, or a method left unhandled, stops the shim
   * here rather than answering "unknown method" to containerd later. */
  if (n_task_methods != containerd__task__v2__task__descriptor.n_methods) {
    runm_log(&s->log, RUNM_LOG_ERROR, "Task service: %zu handlers for %u methods", n_task_methods,
             containerd__task__v2__task__descriptor.n_methods);
    return 1;
  }
  methods = runm_xcalloc(2 * n_task_methods, sizeof(*methods));
  for (size_t i = 0; i < n_task_methods; i++) {
    int idx = runm_pb_method_index(&containerd__task__v2__task__descriptor, task_methods[i].name);
    if (idx < 0) {
      runm_log(&s->log, RUNM_LOG_ERROR, "Task service has no method `%s`", task_methods[i].name);
      free(methods);
      return 1;
    }
    const ProtobufCMessageDescriptor *in = containerd__task__v2__task__descriptor.methods[idx].input;
    methods[2 * i] = (struct runm_ttrpc_method){"containerd.task.v2.Task", task_methods[i].name, in, handle};
    methods[2 * i + 1] = (struct runm_ttrpc_method){"containerd.task.v3.Task", task_methods[i].name, in, handle};
  }
  scfg.methods = methods;
  scfg.n_methods = 2 * n_task_methods;
  scfg.opaque = s;
  scfg.require_same_user = true;
  srv = runm_ttrpc_server_new(&scfg, &err);
  if (srv == NULL || runm_ttrpc_server_listen_fd(srv, lfd, &err) < 0 ||
      runm_ttrpc_server_start(srv, &err) < 0) {
    runm_log_error(&s->log, err, "serve");
    return 1;
  }
  runm_log(&s->log, RUNM_LOG_INFO, "serving task %s/%s (VM %s)", s->ns, s->id, s->vm_id);
  shim_timing_mark(s->vm_id, "shim.serving", 0);

  {
    struct sigwait_arg *sa = malloc(sizeof(*sa));
    if (sa) {
      sa->s = s;
      sa->mask = mask;
      sig_started = pthread_create(&sig_thread, NULL, signal_thread, sa) == 0;
      if (!sig_started) free(sa);
    }
  }

  pthread_mutex_lock(&s->lock);
  while (!s->shutdown_requested) pthread_cond_wait(&s->changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  runm_log(&s->log, RUNM_LOG_INFO, "shutting down");
  /* Processes end first (their VM is killed): a Wait in flight then
   * answers, and the server's shutdown, which waits for every call to
   * answer, cannot wait for ever. */
  task_abort(s);
  runm_ttrpc_server_shutdown(srv, 2000);
  task_vm_pid_forget(s);
  task_cleanup(s);
  container_table_free(s);
  shim_timing_mark(s->vm_id, "shim.exit", 0);
  publisher_free(s->pub);
  runm_ttrpc_server_free(srv);
  free(methods);
  {
    struct args copy = {.ns = s->ns, .id = s->id, .address = s->containerd_address};
    socket_path(&s->cfg, &copy, sock, sizeof(sock));
    unlink(sock);
  }
  /* The signal thread, if no signal ended it, is still waiting with s:
   * a signal of its own ends it, so the caller may free s. */
  if (sig_started) {
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
  }
  return 0;
}

static struct shim *shim_new(void)
{
  struct shim *s = calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  pthread_condattr_t ca;
  pthread_mutex_init(&s->lock, NULL);
  /* Timed waits on it (lifecycle.c) must not jump with the wall clock. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->changed, &ca);
  pthread_condattr_destroy(&ca);
  s->vm_pidfd = -1;
  exe_dir(s->exe_dir, sizeof(s->exe_dir));
  return s;
}

/* SIGTERM/SIGINT blocked before any thread starts, so only signal_thread
 * (or a pooled shim's signalfd) takes them. */
static sigset_t block_signals(void)
{
  sigset_t mask;
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, NULL);
  return mask;
}

static int serve(const struct args *a)
{
  cleanup_error runm_error_t err = NULL;
  struct shim *s = shim_new();
  sigset_t mask = block_signals();

  if (s == NULL) return 1;
  snprintf(s->ns, sizeof(s->ns), "%s", a->ns ? a->ns : "default");
  snprintf(s->id, sizeof(s->id), "%s", a->id ? a->id : "");
  if (getcwd(s->bundle, sizeof(s->bundle)) == NULL) return 1;
  if (a->bundle) snprintf(s->bundle, sizeof(s->bundle), "%s", a->bundle);
  snprintf(s->containerd_address, sizeof(s->containerd_address), "%s", a->address ? a->address : "");
  snprintf(s->publish_binary, sizeof(s->publish_binary), "%s", a->publish_binary ? a->publish_binary : "");
  snprintf(s->ttrpc_address, sizeof(s->ttrpc_address), "%s",
           getenv("TTRPC_ADDRESS") ? getenv("TTRPC_ADDRESS") : "");
  if (shim_config_load(&s->cfg, s->exe_dir, &err) < 0) {
    cleanup_free char *msg = runm_error_string(err);
    fprintf(stderr, "containerd-shim-runm-v1: config: %s\n", msg ? msg : "error");
    return 1;
  }
  int r = serve_task(s, LISTEN_FD, a->debug, mask);
  /* Ended (r == 0): nothing uses s any more. */
  if (r == 0) free(s);
  return r;
}

/* A pooled shim: boots a spare VM, waits for `start` to hand it a task,
 * then is that task's shim. Ends quietly when nobody claims it in time. */
static int serve_pool(const struct args *a)
{
  cleanup_error runm_error_t err = NULL;
  struct shim *s = shim_new();
  sigset_t mask = block_signals();
  struct pool_claim c;
  int stderr_fd = STDERR_FILENO;
  int lfd = -1, r;

  if (s == NULL) return 1;
  /* Until the claim, the shim logs to stderr (/dev/null but in tests);
   * serve_task points the same logger at the task's log. */
  s->log = (struct runm_logger){.component = "containerd-shim-runm-v1", .id = "pool",
                                .max_level = RUNM_LOG_INFO, .sink = log_sink, .opaque = &stderr_fd};
  if (shim_config_load(&s->cfg, s->exe_dir, &err) < 0) {
    free(s);
    return die("config", err);
  }
  if (s->cfg.pool_size == 0) {
    free(s);
    fprintf(stderr, "containerd-shim-runm-v1: pool: pool_size is 0\n");
    return 2;
  }
  r = pool_idle_run(&s->cfg, a->address ? a->address : "", a->publish_binary ? a->publish_binary : "",
                    &s->log, &s->pool, &c, &lfd, &err);
  if (r <= 0) {
    /* Unclaimed: the spare and its VM are gone already. */
    free(s);
    return r < 0 ? die("pool", err) : 0;
  }
  snprintf(s->ns, sizeof(s->ns), "%s", c.ns);
  snprintf(s->id, sizeof(s->id), "%s", c.id);
  snprintf(s->bundle, sizeof(s->bundle), "%s", c.bundle);
  snprintf(s->containerd_address, sizeof(s->containerd_address), "%s", c.address);
  snprintf(s->publish_binary, sizeof(s->publish_binary), "%s", c.publish_binary);
  snprintf(s->ttrpc_address, sizeof(s->ttrpc_address), "%s", c.ttrpc_address);
  s->vm = s->pool.vm;
  s->debug_proxy = s->pool.proxy;
  s->hooks = s->pool.hooks;
  s->pooled = true;
  if (chdir(s->bundle) < 0) {
    /* Logged once the task's log is open; Create fails on the bundle. */
  }
  return serve_task(s, lfd, c.debug, mask);
}


int main(int argc, char **argv)
{
  struct args a;
  if (parse_args(argc, argv, &a) < 0) {
    fprintf(stderr, "usage: containerd-shim-runm-v1 -namespace NS -address ADDR -publish-binary BIN "
                    "-id ID [-debug] [start|delete|pool|vm-id]\n"
                    "  pool: an idle shim holding a spare VM (pool_size > 0; docs/pool.md)\n"
                    "  vm-id: print the VM id (state dir name) of task NS/ID\n");
    return 2;
  }
  if (a.action && strcmp(a.action, "version") == 0) {
    printf("containerd-shim-runm-v1:\n  Version: 0.1.0\n  Runtime: io.containerd.runm.v1\n");
    return 0;
  }
  if (a.id == NULL || a.ns == NULL) {
    fprintf(stderr, "containerd-shim-runm-v1: -namespace and -id are required\n");
    return 2;
  }
  if (a.action && strcmp(a.action, "start") == 0) return cmd_start(&a, argc, argv);
  if (a.action && strcmp(a.action, "delete") == 0) return cmd_delete(&a);
  if (a.action && strcmp(a.action, "pool") == 0) return serve_pool(&a);
  if (a.action && strcmp(a.action, "vm-id") == 0) {
    char vmid[80];
    shim_vm_id(a.ns, a.id, vmid, sizeof(vmid));
    printf("%s\n", vmid);
    return vmid[0] ? 0 : 1;
  }
  if (a.action) {
    fprintf(stderr, "containerd-shim-runm-v1: unknown action `%s`\n", a.action);
    return 2;
  }
  return serve(&a);
}

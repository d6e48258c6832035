/* containerd-shim-runm-v1's short-lived commands (commands.h): `start`,
 * `delete`, and the flags they share with the serving shim. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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

#include "commands.h"

#include "info.h"

#include "cleanup.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "exports.h"
#include "fusebind.h"
#include "hooks.h"
#include "pb.h"
#include "pod.h"
#include "pool.h"
#include "guest_spec.h"
#include "rootfs.h"
#include "shim.h"
#include "task_net.h"
#include "timing.h"
#include "vm_backend.h"
#include "vm_info.h"
#include "unix_socket.h"

extern char **environ;

int parse_args(int argc, char **argv, struct args *a)
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
      if (strcmp(key, "info") == 0) {
        a->action = "info";
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
 * tasks never meet on one socket; the containers of one pod (group, pod.h)
 * do, as runc-v2's do: the id hashed is the group's. */
#define SOCKET_DIGEST 32
void socket_path(const struct shim_config *cfg, const struct args *a, const char *group, char *out,
                        size_t len)
{
  const char *parts[] = {a->address ? a->address : "", a->ns ? a->ns : "", group ? group : a->id ? a->id : ""};
  char h[SOCKET_DIGEST + 1];
  shim_digest_hex(parts, 3, h, SOCKET_DIGEST);
  /* No digest, no name: "" is refused by start and unlinks nothing. */
  if (h[0] == '\0') out[0] = '\0';
  else snprintf(out, len, "%s/s/%s.sock", cfg->state_dir, h);
}

void exe_dir(char *out, size_t len)
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

int die(const char *what, runm_error_t err)
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

/* The pod the container of `start` belongs to, from the bundle's
 * config.json (start runs in the bundle); no spec: its own. A pooled VM
 * never serves a pod (pod slots are made at boot). */
static int start_group(const struct args *a, const char *cwd, struct pod_info *pod, runm_error_t *err)
{
  json_object *spec = NULL;
  int r;
  if (spec_json_load(a->bundle ? a->bundle : cwd, &spec, err) < 0) {
    runm_error_release(err);
    return pod_info_read(NULL, a->id, pod, err);
  }
  r = pod_info_read(spec, a->id, pod, err);
  json_object_put(spec);
  return r;
}

int cmd_start(const struct args *a, int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  struct shim_config cfg;
  char dir[PATH_MAX], sock[PATH_MAX], sdir[PATH_MAX + 8], address[PATH_MAX + 16], cwd[PATH_MAX];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  char **child_argv;
  int lfd, moved, r;
  pid_t pid;
  struct pod_info pod;

  {
    char vmid[80];
    shim_vm_id(a->ns, a->id, vmid, sizeof(vmid));
    shim_timing_mark(vmid, "shim.start", 0);
  }
  exe_dir(dir, sizeof(dir));
  if (shim_config_load(&cfg, dir, &err) < 0) return die("config", err);
  if (getcwd(cwd, sizeof(cwd)) == NULL) return die("getcwd", err);
  if (start_group(a, cwd, &pod, &err) < 0) return die("start", err);
  socket_path(&cfg, a, pod.group, sock, sizeof(sock));
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
      /* A shim already serves this task (containerd retried) or its pod:
       * reuse it. */
      write_file("address", address, &err);
      printf("%s", address);
      return 0;
    }
    unlink(sock);
  }
  if (pod.member) {
    /* A CRI app container without its sandbox's shim: a VM of its own
     * would not have the pod's namespaces. */
    runm_make_error(&err, ENOENT, "pod sandbox `%s` of container `%s` has no running runm shim", pod.group, a->id);
    return die("start", err);
  }
  lfd = runm_listen_unix(sock, 64, &err);
  if (lfd < 0) return die("start", err);
  if (cfg.pool_size > 0 && !pod.grouped) {
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
int cmd_delete(const struct args *a)
{
  cleanup_error runm_error_t err = NULL;
  struct shim_config cfg;
  char dir[PATH_MAX], vmid[80], vmdir[PATH_MAX + 100], sock[PATH_MAX], cwd[PATH_MAX];
  struct runm_vm_info info = {0};
  bool have_info;
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
  /* containerd runs `delete` whenever its connection for a task closes,
   * also after a normal Delete. A pod's shim that still answers serves
   * the pod's other containers and cleans up after this one itself: its
   * VM (named after the pod's first container) is not this task's to
   * kill. */
  {
    struct pod_info pod;
    if (getcwd(cwd, sizeof(cwd)) && start_group(a, cwd, &pod, &err) == 0 && pod.grouped) {
      socket_path(&cfg, a, pod.group, sock, sizeof(sock));
      if (socket_alive(sock)) goto answer;
    }
    runm_error_release(&err);
  }
  have_info = runm_vm_info_read(vmdir, &info, &err) == 0;
  if (have_info) {
    /* A pooled VM's shares dir keeps the name it booted with (and a VM
     * that kept its own name was never a spare: nothing of a live spare's
     * is touched). */
    if (strncmp(info.qemu_name, "runm-", 5) == 0 && info.qemu_name[5] && strcmp(info.qemu_name + 5, vmid) != 0)
      snprintf(pool_name, sizeof(pool_name), "%s", info.qemu_name + 5);
    if (info.supervisor_pid > 0 && info.supervisor_pid != getpid()) kill(info.supervisor_pid, SIGKILL);
  }
  /* A libvirt domain is found by name (vm.info's, else the name a fresh
   * VM of this task gets) and destroyed: with the embed driver its QEMU
   * outlived the crashed shim, and libvirt must forget it too. First,
   * while QEMU lives: libvirt then also removes the domain's cgroup. A
   * daemon's domain is AUTODESTROY: it ended with the shim's connection,
   * crashed or not; only a VM dir the shim did not tidy (vm.info still
   * there) makes this look, and a domain ending on its own is not waited
   * for (its destroy would poll the dead QEMU's pid every 200 ms). */
  if (strcmp(info.backend, "libvirt") == 0 || cfg.vm_backend == RUNM_BACKEND_LIBVIRT) {
    char dom[RUNM_VM_ID_MAX + 8];
    const char *uri = info.libvirt_uri[0] ? info.libvirt_uri : cfg.libvirt_uri;
    cleanup_error runm_error_t lerr = NULL;
    if (info.qemu_name[0]) snprintf(dom, sizeof(dom), "%s", info.qemu_name);
    else snprintf(dom, sizeof(dom), "runm-%s", vmid);
    if ((have_info || runm_libvirt_is_embed(uri)) && runm_libvirt_destroy(uri, dom, 15000, &lerr) < 0)
      runm_log_error(NULL, lerr, "delete");
  }
  /* Only a QEMU that is this VM's (pids get reused), either backend's.
   * Waited for (briefly): its TAP device and network namespace go with
   * it, before the network cleanup below, and its cgroup empties. */
  if (runm_vm_info_is_qemu(&info, vmid)) {
    int pfd = (int)syscall(SYS_pidfd_open, info.qemu_pid, 0);
    kill(info.qemu_pid, SIGKILL);
    if (pfd >= 0) {
      struct pollfd pl = {.fd = pfd, .events = POLLIN};
      while (poll(&pl, 1, 5000) < 0 && errno == EINTR) {
      }
      close(pfd);
    }
  }
  if (info.cgroup[0]) runm_libvirt_remove_cgroup(info.cgroup);
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
  /* Only a task's own socket: a pod's (its group's) belongs to the shim
   * that serves the pod's other containers. */
  socket_path(&cfg, a, NULL, sock, sizeof(sock));
  unlink(sock);
answer:
  runm_pb_timestamp_set(&ts, runm_realtime_ns());
  resp.exit_status = 128 + SIGKILL;
  resp.exited_at = &ts;
  len = protobuf_c_message_pack(&resp.base, buf);
  fwrite(buf, 1, len, stdout);
  return 0;
}

int cmd_info(void)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free uint8_t *in = malloc(SHIM_INFO_OPTIONS_MAX + 1);
  cleanup_free uint8_t *out = NULL;
  size_t len = 0, out_len = 0;

  if (in == NULL) {
    runm_make_error(&err, ENOMEM, "-info");
    return die("info", err);
  }
  /* stdin may be a terminal or closed: EOF or an error end the read. */
  while (len <= SHIM_INFO_OPTIONS_MAX) {
    ssize_t n = read(STDIN_FILENO, in + len, SHIM_INFO_OPTIONS_MAX + 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  if (shim_runtime_info(in, len, &out, &out_len, &err) < 0) return die("info", err);
  if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
    runm_make_error(&err, errno, "write RuntimeInfo");
    return die("info", err);
  }
  return 0;
}

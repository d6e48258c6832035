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
 * by another helper is retried until the deadline.
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
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "vm_backend.h"

#define CONNECT_TIMEOUT_MS 30000
#define ACCEPT_TIMEOUT_MS 10000

extern char **environ;

struct runm_libvirt_vm {
  virConnectPtr conn; /* held (daemon URIs) or NULL (embed: a helper destroys) */
  char uri[PATH_MAX];
  char name[RUNM_VM_ID_MAX + 8];
};

/* libvirt's event loop is process-wide by libvirt's design (the embed
 * driver and keepalives need it run by the application): one thread,
 * started once, for the process's life. Its once-flag and status are the
 * only state shared across VMs. */
static pthread_once_t event_once = PTHREAD_ONCE_INIT;
static int event_status;

static void quiet_errors(void *opaque, virErrorPtr e)
{
  /* Errors are read with virGetLastError and returned as values. */
}

static void *event_loop(void *arg)
{
  for (;;)
    if (virEventRunDefaultImpl() < 0) usleep(10000);
  return NULL;
}

static void event_init(void)
{
  pthread_t t;
  pthread_attr_t a;
  virSetErrorFunc(NULL, quiet_errors);
  if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
    event_status = EIO;
    return;
  }
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  event_status = pthread_create(&t, &a, event_loop, NULL);
  pthread_attr_destroy(&a);
}

static bool is_embed(const char *uri)
{
  return strncmp(uri, "qemu:///embed", 13) == 0;
}

static const char *last_error(void)
{
  const char *m = virGetLastErrorMessage();
  return m && *m ? m : "unknown libvirt error";
}

/* The embed driver's root (root=DIR in the URI), "" when none. */
static void embed_root(const char *uri, char *out, size_t len)
{
  const char *r = strstr(uri, "root=");
  out[0] = '\0';
  if (r) snprintf(out, len, "%.*s", (int)strcspn(r + 5, "&"), r + 5);
}

/* A fresh embed root gets the settings runm needs: QEMU's output to a file
 * (no virtlogd), QEMU as root (9p passthrough keeps the guest's owners and
 * modes, as in the qemu backend). An existing qemu.conf is the admin's. */
static int embed_prepare(const char *uri, runm_error_t *err)
{
  static const char conf[] =
      "# Written by runm for its libvirt backend (docs/libvirt.md).\n"
      "stdio_handler = \"file\"\n"
      "user = \"root\"\n"
      "group = \"root\"\n"
      "clear_emulator_capabilities = 0\n"
      "remember_owner = 0\n";
  char root[PATH_MAX], path[PATH_MAX + 32];
  int fd;
  embed_root(uri, root, sizeof(root));
  if (root[0] != '/')
    return runm_make_error(err, EINVAL, "libvirt `%s`: the embed driver needs root=/absolute/dir", uri);
  if (mkdir(root, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", root);
  snprintf(path, sizeof(path), "%s/etc", root);
  if (mkdir(path, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", path);
  snprintf(path, sizeof(path), "%s/etc/qemu.conf", root);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno == EEXIST ? 0 : runm_make_error(err, errno, "create `%s`", path);
  if (write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1)) {
    int e = errno;
    close(fd);
    unlink(path);
    return runm_make_error(err, e, "write `%s`", path);
  }
  close(fd);
  return 0;
}

struct opener {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char uri[PATH_MAX];
  int64_t deadline_ns;
  virConnectPtr conn;
  char msg[512];
  bool done, abandoned;
};

static void *open_thread(void *arg)
{
  struct opener *o = arg;
  virConnectPtr c = NULL;
  char msg[512] = "";
  for (;;) {
    c = virConnectOpen(o->uri);
    if (c) break;
    snprintf(msg, sizeof(msg), "%s", last_error());
    /* The embed driver's root is locked by another process: it ends its
     * short connection soon. */
    if (strstr(msg, "Failed to acquire pid file") == NULL || runm_now_ns() > o->deadline_ns) break;
    usleep(20000);
  }
  if (c && !is_embed(o->uri)) virConnectSetKeepAlive(c, 5, 3);
  pthread_mutex_lock(&o->mu);
  if (o->abandoned) {
    pthread_mutex_unlock(&o->mu);
    if (c) virConnectClose(c);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o);
    return NULL;
  }
  o->conn = c;
  snprintf(o->msg, sizeof(o->msg), "%s", msg);
  o->done = true;
  pthread_cond_signal(&o->cv);
  pthread_mutex_unlock(&o->mu);
  return NULL;
}

static virConnectPtr lv_open(const char *uri, int64_t timeout_ms, runm_error_t *err)
{
  struct opener *o;
  pthread_t t;
  struct timespec ts;
  virConnectPtr c;
  int e;

  pthread_once(&event_once, event_init);
  if (event_status != 0)
    return runm_make_error(err, event_status, "libvirt `%s`: start libvirt's event loop", uri), NULL;
  if (is_embed(uri) && embed_prepare(uri, err) < 0) return NULL;
  o = calloc(1, sizeof(*o));
  if (o == NULL) return runm_make_error(err, ENOMEM, "libvirt `%s`", uri), NULL;
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
  snprintf(o->uri, sizeof(o->uri), "%s", uri);
  o->deadline_ns = runm_now_ns() + timeout_ms * 1000000LL;
  e = pthread_create(&t, NULL, open_thread, o);
  if (e != 0) {
    free(o);
    return runm_make_error(err, e, "libvirt `%s`: thread", uri), NULL;
  }
  pthread_detach(t);
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(timeout_ms / 1000) + 1;
  pthread_mutex_lock(&o->mu);
  while (!o->done && (e = pthread_cond_timedwait(&o->cv, &o->mu, &ts)) != ETIMEDOUT) {
  }
  if (!o->done) {
    o->abandoned = true; /* the thread frees o */
    pthread_mutex_unlock(&o->mu);
    return runm_make_error(err, ETIMEDOUT, "libvirt `%s` did not answer within %lld ms", uri,
                           (long long)timeout_ms), NULL;
  }
  pthread_mutex_unlock(&o->mu);
  c = o->conn;
  if (c == NULL)
    runm_make_error(err, ECONNREFUSED, "libvirt `%s`: %s%s", uri, o->msg,
                    strstr(o->msg, "connect socket") ? " (is virtqemud or libvirtd running?)" : "");
  pthread_mutex_destroy(&o->mu);
  pthread_cond_destroy(&o->cv);
  free(o);
  return c;
}

/* 0 when the domain is gone or was not there. */
static int destroy_on(virConnectPtr c, const char *uri, const char *name, runm_error_t *err)
{
  virDomainPtr d = virDomainLookupByName(c, name);
  int ret = 0;
  if (d == NULL) return 0;
  if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
    ret = runm_make_error(err, EIO, "libvirt `%s`: destroy domain `%s`: %s", uri, name, last_error());
  virDomainFree(d);
  return ret;
}

/* Runs `op` (create | destroy | active) for domain `name` at an embed URI
 * in a helper process (see the top); `in` goes to its stdin. Its answer:
 * "OK [detail]" or "ERR message", one line. */
static int helper_call(const char *uri, const char *op, const char *name, const char *in,
                       int64_t timeout_ms, char *answer, size_t alen, runm_error_t *err)
{
  char exe[PATH_MAX];
  char *argv[] = {exe, (char *)RUNM_LIBVIRT_HELPER_ARG, (char *)op, (char *)uri, (char *)name, NULL};
  int inp[2] = {-1, -1}, outp[2] = {-1, -1}, status, e;
  posix_spawn_file_actions_t fa;
  int64_t deadline = runm_now_ns() + timeout_ms * 1000000LL;
  size_t got = 0;
  pid_t pid;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

  if (n <= 0) return runm_make_error(err, errno, "libvirt `%s`: find this program", uri);
  exe[n] = '\0';
  if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
    e = errno;
    goto fail_pipes;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  e = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(inp[0]);
  close(outp[1]);
  inp[0] = outp[1] = -1;
  if (e != 0) goto fail_pipes;
  /* The XML is small (a few KiB): it fits the pipe. */
  if (in && write(inp[1], in, strlen(in)) != (ssize_t)strlen(in)) {
    /* the helper died: its status says why below */
  }
  close(inp[1]);
  inp[1] = -1;
  answer[0] = '\0';
  for (;;) {
    struct pollfd p = {.fd = outp[0], .events = POLLIN};
    int64_t left = (deadline - runm_now_ns()) / 1000000;
    int r = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      close(outp[0]);
      return runm_make_error(err, ETIMEDOUT, "libvirt `%s` did not answer within %lld ms", uri,
                             (long long)timeout_ms);
    }
    n = read(outp[0], answer + got, alen - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (got += (size_t)n) >= alen - 1) break;
  }
  answer[got] = '\0';
  answer[strcspn(answer, "\n")] = '\0';
  close(outp[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (strncmp(answer, "OK", 2) == 0) return 0;
  if (strncmp(answer, "ERR ", 4) == 0) return runm_make_error(err, EIO, "%s", answer + 4);
  return runm_make_error(err, EIO, "libvirt `%s`: helper `%s %s` ended (status %d) without an answer",
                         uri, exe, op, status);
fail_pipes:
  for (int i = 0; i < 2; i++) {
    if (inp[i] >= 0) close(inp[i]);
    if (outp[i] >= 0) close(outp[i]);
  }
  return runm_make_error(err, e, "libvirt `%s`: start helper", uri);
}

int runm_libvirt_destroy(const char *uri, const char *name, int64_t timeout_ms, runm_error_t *err)
{
  virConnectPtr c;
  int ret;
  char answer[600];
  if (is_embed(uri)) return helper_call(uri, "destroy", name, NULL, timeout_ms, answer, sizeof(answer), err);
  c = lv_open(uri, timeout_ms, err);
  if (c == NULL) return -1;
  ret = destroy_on(c, uri, name, err);
  virConnectClose(c);
  return ret;
}

int runm_libvirt_domain_active(const char *uri, const char *name, int64_t timeout_ms,
                               runm_error_t *err)
{
  virConnectPtr c;
  virDomainPtr d;
  int ret = 0;
  char answer[600];
  if (is_embed(uri)) {
    if (helper_call(uri, "active", name, NULL, timeout_ms, answer, sizeof(answer), err) < 0) return -1;
    return strcmp(answer, "OK 1") == 0;
  }
  c = lv_open(uri, timeout_ms, err);
  if (c == NULL) return -1;
  d = virDomainLookupByName(c, name);
  if (d) {
    ret = virDomainIsActive(d) == 1;
    virDomainFree(d);
  }
  virConnectClose(c);
  return ret;
}

/* The helper's side: one call, its answer on stdout, exit. */
int runm_libvirt_helper_main(int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  const char *op, *uri, *name;
  virConnectPtr c;
  int ret = -1;

  if (argc != 4) {
    printf("ERR usage: %s create|destroy|active URI NAME\n", RUNM_LIBVIRT_HELPER_ARG);
    return 2;
  }
  op = argv[1];
  uri = argv[2];
  name = argv[3];
  /* Single-threaded still: libvirt reads this at its start. What it logs
   * at every embed start (its version, probes that fail harmlessly here)
   * would fill the owner's log; a failure comes back in the answer. */
  setenv("LIBVIRT_LOG_OUTPUTS", "4:file:/dev/null", 0);
  c = lv_open(uri, CONNECT_TIMEOUT_MS, &err);
  if (c && strcmp(op, "create") == 0) {
    cleanup_free char *xml = calloc(1, 1 << 20);
    size_t got = 0;
    ssize_t n;
    virDomainPtr d;
    while (xml && got < (1 << 20) - 1 && (n = read(0, xml + got, (1 << 20) - 1 - got)) > 0)
      got += (size_t)n;
    d = xml ? virDomainCreateXML(c, xml, 0) : NULL;
    if (d) {
      virDomainFree(d);
      ret = 0;
    } else {
      runm_make_error(&err, EIO, "libvirt `%s`: create domain `%s`: %s", uri, name, last_error());
    }
  } else if (c && strcmp(op, "destroy") == 0) {
    ret = destroy_on(c, uri, name, &err);
  } else if (c && strcmp(op, "active") == 0) {
    virDomainPtr d = virDomainLookupByName(c, name);
    printf("OK %d\n", d && virDomainIsActive(d) == 1);
    if (d) virDomainFree(d);
    fflush(stdout);
    _exit(0);
  } else if (c) {
    runm_make_error(&err, EINVAL, "unknown libvirt helper call `%s`", op);
  }
  if (ret == 0) printf("OK\n");
  else printf("ERR %s\n", err && err->msg ? err->msg : "error");
  fflush(stdout);
  /* libvirt's threads are still running: end without atexit handlers. The
   * embed driver's QEMU is not ours and runs on. */
  _exit(ret == 0 ? 0 : 1);
}

/* The QEMU libvirt started for domain `name` of state dir `dir`: the
 * process whose arguments hold both `guest=<name>,` (libvirt's -name) and
 * runm's fw_cfg naming the dir. */
static pid_t find_qemu(const char *name, const char *dir)
{
  cleanup_dir DIR *d = opendir("/proc");
  struct dirent *de;
  char want_name[RUNM_VM_ID_MAX + 16], want_dir[320];
  cleanup_free char *buf = malloc(65536);

  if (d == NULL || buf == NULL) return -1;
  snprintf(want_name, sizeof(want_name), "guest=%s,", name);
  snprintf(want_dir, sizeof(want_dir), "name=opt/runm/state-dir,string=%s", dir);
  while ((de = readdir(d))) {
    char path[300];
    bool has_name = false, has_dir = false;
    ssize_t n;
    int fd;
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    n = read(fd, buf, 65535);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
      if (strncmp(buf + i, want_name, strlen(want_name)) == 0) has_name = true;
      if (strcmp(buf + i, want_dir) == 0) has_dir = true;
    }
    if (has_name && has_dir) return (pid_t)atoi(de->d_name);
  }
  return -1;
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
  free(lv);
}

void runm_vm_libvirt_uri(const struct runm_vm *vm, char *out, size_t len)
{
  snprintf(out, len, "%s", vm->lv ? vm->lv->uri : "");
}

static int lv_spawn(const struct runm_vm_config *cfg, struct runm_vm *vm, int lfd, runm_error_t *err)
{
  struct runm_libvirt_vm *lv = calloc(1, sizeof(*lv));
  const char *uri = cfg->libvirt_uri && *cfg->libvirt_uri ? cfg->libvirt_uri : RUNM_LIBVIRT_URI_DEFAULT;
  bool embed = is_embed(uri), user_net = cfg->net == RUNM_NET_USER;
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
  if (emulator_path(cfg, emulator, sizeof(emulator), err) < 0 ||
      runm_libvirt_domain_xml(cfg, &vm->plan, lv->name, emulator, &xml, err) < 0)
    goto out;
  for (int i = 0; i < (user_net ? 3 : 1); i++) {
    snprintf(sock[i], sizeof(sock[i]), "%s/%s", vm->plan.dir, names[i]);
    lfds[i] = runm_listen_unix(sock[i], 1, err);
    if (lfds[i] < 0) goto out;
  }
  vm->spawn_ns = runm_now_ns();
  if (embed) {
    char answer[1024];
    if (helper_call(uri, "create", lv->name, xml, CONNECT_TIMEOUT_MS, answer, sizeof(answer), err) < 0)
      goto out;
    created = true;
  } else {
    lv->conn = lv_open(uri, CONNECT_TIMEOUT_MS, err);
    if (lv->conn == NULL) goto out;
    dom = virDomainCreateXML(lv->conn, xml, VIR_DOMAIN_START_AUTODESTROY);
    if (dom == NULL) {
      runm_make_error(err, EIO, "libvirt `%s`: create domain `%s`: %s", uri, lv->name, last_error());
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
    if (lv->conn) destroy_on(lv->conn, uri, lv->name, &e2);
    else runm_libvirt_destroy(uri, lv->name, 10000, &e2);
  }
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

static void lv_term(struct runm_vm *vm)
{
  /* QEMU ends on SIGTERM as in the qemu backend; libvirt sees it go. */
  if (vm->pid > 0) kill(vm->pid, SIGTERM);
}

static void lv_kill(struct runm_vm *vm)
{
  struct runm_libvirt_vm *lv = vm->lv;
  if (lv) {
    cleanup_error runm_error_t e = NULL;
    int r = lv->conn ? destroy_on(lv->conn, lv->uri, lv->name, &e)
                     : runm_libvirt_destroy(lv->uri, lv->name, 10000, &e);
    /* libvirt unreachable: end the QEMU it started ourselves; the next
     * connection finds the domain gone. */
    if (r < 0 && vm->pid > 0) kill(vm->pid, SIGKILL);
  } else if (vm->pid > 0) {
    kill(vm->pid, SIGKILL);
  }
  if (vm->pid > 0 && vm->pidfd >= 0) {
    struct pollfd p = {.fd = vm->pidfd, .events = POLLIN};
    int r;
    do
      r = poll(&p, 1, 5000);
    while (r < 0 && errno == EINTR);
  }
  vm->pid = -1;
  runm_vm_console_stop(vm->console);
  vm->console = NULL;
  runm_vm_netfilter_stop(vm->netfilter);
  vm->netfilter = NULL;
  runm_libvirt_vm_free(lv);
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

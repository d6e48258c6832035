/* The libvirt backend's connections (docs/libvirt.md): libvirt's event
 * loop, opening a URI against a deadline, the embed driver's helper
 * process, destroying a domain by name. vm_libvirt.c is the backend. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "proc_find.h"
#include "vm_libvirt.h"

extern char **environ;

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

bool runm_lv_is_embed(const char *uri)
{
  return strncmp(uri, "qemu:///embed", 13) == 0;
}

bool runm_libvirt_is_embed(const char *uri)
{
  return runm_lv_is_embed(uri);
}

const char *runm_lv_last_error(void)
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

/* Whether another process holds the embed root's lock (libvirt's
 * <root>/run/qemu/driver.pid, an fcntl lock on its first byte, held by
 * whichever process runs the root's driver). A failed open then says only
 * "qemu state driver is not active" (libvirt logs the lock's error, it
 * does not return it). */
static bool embed_root_locked(const char *uri)
{
  char root[PATH_MAX], path[PATH_MAX + 32];
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  int fd, r;
  embed_root(uri, root, sizeof(root));
  if (root[0] != '/') return false;
  snprintf(path, sizeof(path), "%s/run/qemu/driver.pid", root);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  r = fcntl(fd, F_GETLK, &fl);
  close(fd);
  return r == 0 && fl.l_type != F_UNLCK;
}

static void *open_thread(void *arg)
{
  struct opener *o = arg;
  virConnectPtr c = NULL;
  char msg[512] = "";
  /* Once: an embed driver that failed to start (its root locked by
   * another process) cannot start again in this process ("Too many
   * drivers"); the helper retries in a fresh image (helper_retry). */
  c = virConnectOpen(o->uri);
  if (c == NULL) snprintf(msg, sizeof(msg), "%s", runm_lv_last_error());
  if (c && !runm_lv_is_embed(o->uri)) virConnectSetKeepAlive(c, 5, 3);
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

virConnectPtr runm_lv_open(const char *uri, int64_t timeout_ms, runm_error_t *err)
{
  struct opener *o;
  pthread_t t;
  struct timespec ts;
  virConnectPtr c;
  int e;

  pthread_once(&event_once, event_init);
  if (event_status != 0)
    return runm_make_error(err, event_status, "libvirt `%s`: start libvirt's event loop", uri), NULL;
  if (runm_lv_is_embed(uri) && embed_prepare(uri, err) < 0) return NULL;
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
int runm_lv_destroy_on(virConnectPtr c, const char *uri, const char *name, runm_error_t *err)
{
  virDomainPtr d = virDomainLookupByName(c, name);
  virDomainBlockInfo bi;
  int ret = 0;
  if (d == NULL) return 0;
  /* A fresh embed driver reconnects to its running domains in a thread,
   * and only at the end of it knows a domain's cgroup: destroyed before
   * that, libvirt leaves the cgroup behind (measured). A call that takes
   * the domain's job waits for the reconnect; its result does not matter
   * (microvm's disk has no statistics to give). */
  (void)virDomainGetBlockInfo(d, "vda", &bi, 0);
  if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
    ret = runm_make_error(err, EIO, "libvirt `%s`: destroy domain `%s`: %s", uri, name, runm_lv_last_error());
  virDomainFree(d);
  return ret;
}

/* Starts `op` (create | destroy) for domain `name` at an embed URI in a
 * helper process (see the top), `arg` (or NULL) its last argument, `in`
 * (or NULL) on its stdin, netns_fd (or -1) its fd HELPER_NETNS_FD; *out
 * gets the read end of its answer. */
static int helper_start(const char *uri, const char *op, const char *name, const char *arg,
                        const char *in, int netns_fd, pid_t *pid, int *out, runm_error_t *err)
{
  char exe[PATH_MAX];
  char *argv[] = {exe, (char *)RUNM_LIBVIRT_HELPER_ARG, (char *)op, (char *)uri, (char *)name, (char *)arg, NULL};
  int inp[2] = {-1, -1}, outp[2] = {-1, -1}, e;
  posix_spawn_file_actions_t fa;
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
  if (netns_fd >= 0) posix_spawn_file_actions_adddup2(&fa, netns_fd, HELPER_NETNS_FD);
  e = posix_spawn(pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(inp[0]);
  close(outp[1]);
  inp[0] = outp[1] = -1;
  if (e != 0) goto fail_pipes;
  /* The XML is small (a few KiB): it fits the pipe. A helper that died
   * first must not raise SIGPIPE in the caller (runmctl keeps the default
   * action): blocked for this write, a pending one consumed. */
  if (in) {
    sigset_t pipe_set, old_set;
    struct timespec zero = {0, 0};
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    if (write(inp[1], in, strlen(in)) != (ssize_t)strlen(in) && errno == EPIPE)
      (void)sigtimedwait(&pipe_set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
  }
  close(inp[1]);
  *out = outp[0];
  return 0;
fail_pipes:
  for (int i = 0; i < 2; i++) {
    if (inp[i] >= 0) close(inp[i]);
    if (outp[i] >= 0) close(outp[i]);
  }
  return runm_make_error(err, e, "libvirt `%s`: start helper", uri);
}

/* Runs `op` (create | destroy) for domain `name` at an embed URI
 * in a helper process (see the top); `in` goes to its stdin. Its answer:
 * "OK [detail]" or "ERR message", one line. */
int runm_lv_helper_call(const char *uri, const char *op, const char *name, const char *in, int netns_fd,
                       int64_t timeout_ms, char *answer, size_t alen, pid_t *keeper, runm_error_t *err)
{
  int64_t deadline = runm_now_ns() + timeout_ms * 1000000LL;
  int status = 0, out;
  size_t got = 0;
  pid_t pid;
  ssize_t n;

  if (helper_start(uri, op, name, netns_fd >= 0 ? HELPER_NETNS_ARG : NULL, in, netns_fd, &pid, &out, err) < 0)
    return -1;
  answer[0] = '\0';
  for (;;) {
    struct pollfd p = {.fd = out, .events = POLLIN};
    int64_t left = (deadline - runm_now_ns()) / 1000000;
    int r = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      close(out);
      return runm_make_error(err, ETIMEDOUT, "libvirt `%s` did not answer within %lld ms", uri,
                             (long long)timeout_ms);
    }
    n = read(out, answer + got, alen - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (got += (size_t)n) >= alen - 1) break;
  }
  answer[got] = '\0';
  answer[strcspn(answer, "\n")] = '\0';
  close(out);
  if (keeper && strncmp(answer, "OK", 2) == 0) {
    *keeper = pid; /* it lives as long as QEMU; runm_lv_reap_keeper */
    return 0;
  }
  if (keeper) runm_lv_reap_keeper(pid, 5000);
  else
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  if (strncmp(answer, "OK", 2) == 0) return 0;
  if (strncmp(answer, "ERR ", 4) == 0) return runm_make_error(err, EIO, "%s", answer + 4);
  return runm_make_error(err, EIO, "libvirt `%s`: helper `%s` ended (status %d) without an answer",
                         uri, op, status);
}

void runm_lv_reap_keeper(pid_t keeper, int wait_ms)
{
  /* A keeper still there at the deadline has a QEMU still there (or a
   * stuck one): it goes; the QEMU then falls to init, as without a
   * keeper. */
  if (keeper > 0) (void)runm_vm_child_end(keeper, runm_now_ns() + wait_ms * 1000000LL);
}

/* The create helper, forked in two (see runm_lv_helper_call): the child
 * makes the domain and answers; this process, a child subreaper, becomes
 * the parent of the QEMU libvirt daemonises in that child (and of any
 * other process libvirt starts and orphans there, e.g. its capability
 * probe's QEMU), reaps each the moment it ends, and exits when none is
 * left. Without it QEMU's parent is the host's init, and until init reaps
 * (measured: up to 2 s on the test machine, whose PID 1 reaps orphans
 * every ~2 s) libvirt's destroy, polling kill(pid, 0) every 200 ms, still
 * sees QEMU's zombie alive. */
static int keeper_main(void)
{
  pid_t self = getpid(), child;
  int status, devnull;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return -errno;
  child = fork();
  if (child < 0) return -errno;
  if (child == 0) {
    /* The create ends with its keeper (killed at the caller's deadline),
     * or on its own a little after that deadline. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != self) _exit(1);
    alarm(HELPER_CREATE_ALARM_S);
    return 0;
  }
  /* The answer is the child's: the caller reads to end of file. */
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; fd++)
    if (devnull >= 0) dup2(devnull, fd);
  for (;;) {
    pid_t w = waitpid(-1, &status, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break; /* ECHILD: QEMU and all else libvirt left are gone */
  }
  _exit(0);
}

/* The op ('c'reate, 'd'estroy) of a helper at work for domain `name` at
 * uri, 0 when none is. */
struct helper_want {
  const char *uri, *name;
  char op;
};

static bool is_helper(const char *buf, size_t len, void *arg)
{
  struct helper_want *w = arg;
  const char *args[6] = {0};
  size_t na = 0;
  for (size_t i = 0; i < len && na < 6; i += strlen(buf + i) + 1) args[na++] = buf + i;
  /* exe, RUNM_LIBVIRT_HELPER_ARG, op, uri, name [, cgroup] */
  if (na < 5 || strcmp(args[1], RUNM_LIBVIRT_HELPER_ARG) != 0 || strcmp(args[3], w->uri) != 0 ||
      strcmp(args[4], w->name) != 0 || (strcmp(args[2], "create") != 0 && strcmp(args[2], "destroy") != 0))
    return false;
  w->op = args[2][0];
  return true;
}

static char helper_running(const char *uri, const char *name)
{
  struct helper_want w = {.uri = uri, .name = name, .op = 0};
  return runm_proc_find(8192, is_helper, &w) > 0 ? w.op : 0;
}

/* Embed URIs: whether destroying `name` needs a helper at all. Another
 * process's embed driver knows a domain only by its status file,
 * <root>/run/qemu/<name>.xml (libvirt writes it as QEMU starts, removes it
 * when the domain ends, and a fresh driver loads its domains from there):
 * without one a helper would find nothing, yet cost an exec, a driver
 * start and its turn at the root's lock. Nor when a destroy helper of the
 * domain is at work (a stopped VM's tidy, bounded by its own alarm). A
 * create helper of it still at work may be about to write the file: then
 * the helper goes (it waits its turn at the root). */
static bool embed_destroy_needed(const char *uri, const char *name)
{
  char root[PATH_MAX], path[PATH_MAX + 400];
  char op = helper_running(uri, name);
  if (op == 'c') return true;
  if (op == 'd') return false;
  embed_root(uri, root, sizeof(root));
  if (root[0] != '/' || snprintf(path, sizeof(path), "%s/run/qemu/%s.xml", root, name) >= (int)sizeof(path))
    return true;
  return access(path, F_OK) == 0 || errno != ENOENT;
}

int runm_lv_destroy_start(const char *uri, const char *name, const char *cgroup, pid_t *pid, int *answer,
                          runm_error_t *err)
{
  return helper_start(uri, "destroy", name, cgroup && *cgroup ? cgroup : NULL, NULL, -1, pid, answer, err);
}

int runm_libvirt_destroy(const char *uri, const char *name, int64_t timeout_ms, runm_error_t *err)
{
  virConnectPtr c;
  int ret;
  char answer[600];
  if (runm_lv_is_embed(uri)) {
    if (!embed_destroy_needed(uri, name)) return 0;
    return runm_lv_helper_call(uri, "destroy", name, NULL, -1, timeout_ms, answer, sizeof(answer), NULL, err);
  }
  c = runm_lv_open(uri, timeout_ms, err);
  if (c == NULL) return -1;
  ret = runm_lv_destroy_on(c, uri, name, err);
  virConnectClose(c);
  return ret;
}

/* The helper started again in a fresh image (execve: same pid, same
 * stdout, its alarm still running), the create's XML on stdin again (a
 * memfd), with RUNM_LV_HELPER_RETRY set: not a second keeper, not a new
 * alarm. Returns only when the exec failed. */
static void helper_retry(int argc, char **argv, const char *xml, int attempt)
{
  char num[16];
  char exe[PATH_MAX];
  char *args[8];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  int i = 0;
  if (n <= 0 || argc > 5) return;
  exe[n] = '\0';
  args[i++] = exe;
  args[i++] = (char *)RUNM_LIBVIRT_HELPER_ARG;
  for (int k = 1; k < argc; k++) args[i++] = argv[k];
  args[i] = NULL;
  if (xml) {
    int mfd = memfd_create("runm-domain-xml", MFD_CLOEXEC);
    size_t len = strlen(xml), off = 0;
    if (mfd < 0) return;
    while (off < len) {
      ssize_t w = write(mfd, xml + off, len - off);
      if (w <= 0) {
        close(mfd);
        return;
      }
      off += (size_t)w;
    }
    if (lseek(mfd, 0, SEEK_SET) < 0 || dup2(mfd, 0) < 0) {
      close(mfd);
      return;
    }
    close(mfd);
  }
  snprintf(num, sizeof(num), "%d", attempt);
  setenv("RUNM_LV_HELPER_RETRY", num, 1);
  usleep(20000);
  execv(exe, args);
}

/* The helper's side: one call, its answer on stdout, exit. */
int runm_libvirt_helper_main(int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  cleanup_free char *xml = NULL;
  const char *op, *uri, *name;
  virConnectPtr c;
  const char *attempts = getenv("RUNM_LV_HELPER_RETRY");
  bool retry = attempts != NULL;
  int ret = -1, attempt = retry ? atoi(attempts) : 0;

  unsetenv("RUNM_LV_HELPER_RETRY");
  if (argc != 4 && !(argc == 5 && strcmp(argv[1], "destroy") == 0) &&
      !(argc == 5 && strcmp(argv[1], "create") == 0 && strcmp(argv[4], HELPER_NETNS_ARG) == 0)) {
    printf("ERR usage: %s create|destroy URI NAME | create URI NAME %s | destroy URI NAME CGROUP\n",
           RUNM_LIBVIRT_HELPER_ARG, HELPER_NETNS_ARG);
    return 2;
  }
  op = argv[1];
  uri = argv[2];
  name = argv[3];
  /* The namespace mode: the task's network namespace on fd
   * HELPER_NETNS_FD, joined while this process has one thread, before the
   * keeper forks and libvirt starts its threads, so the QEMU libvirt forks
   * here runs in it and libvirt finds the TAP by name there. A retry's
   * fresh image is in it already. */
  if (argc == 5 && strcmp(op, "create") == 0 && !retry) {
    if (setns(HELPER_NETNS_FD, CLONE_NEWNET) < 0) {
      printf("ERR libvirt `%s`: domain `%s`: join the task's network namespace: %s\n", uri, name, strerror(errno));
      fflush(stdout);
      _exit(1);
    }
    close(HELPER_NETNS_FD);
  }
  /* Bounded on its own, whoever waits for it (or none: an owner killed
   * after it started a stopped VM's tidy): SIGALRM's default action. Not
   * inherited by the keeper (fork), which ends with its QEMU; kept across
   * a retry's exec. */
  {
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    signal(SIGALRM, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    if (!retry && strcmp(op, "destroy") == 0) alarm(HELPER_DESTROY_ALARM_S);
  }
  /* Single-threaded still: libvirt reads this at its start. What it logs
   * at every embed start (its version, probes that fail harmlessly here)
   * would fill the owner's log; a failure comes back in the answer. */
  setenv("LIBVIRT_LOG_OUTPUTS", "4:file:/dev/null", 0);
  if (!retry && strcmp(op, "create") == 0 && (ret = keeper_main()) < 0) {
    printf("ERR libvirt `%s`: start the keeper of domain `%s`: %s\n", uri, name, strerror(-ret));
    fflush(stdout);
    _exit(1);
  }
  if (strcmp(op, "create") == 0) {
    size_t got = 0;
    ssize_t n;
    xml = calloc(1, 1 << 20);
    while (xml && got < (1 << 20) - 1 && (n = read(0, xml + got, (1 << 20) - 1 - got)) > 0)
      got += (size_t)n;
  }
  /* The embed root is one process's at a time (another helper, a virsh):
   * its turn first, then, should another process have taken the root
   * between, again in a fresh image. Bounded by the alarm (the create's
   * also by its keeper's end at the owner's deadline). */
  if (runm_lv_is_embed(uri))
    while (embed_root_locked(uri)) usleep(10000);
  ret = -1;
  c = runm_lv_open(uri, CONNECT_TIMEOUT_MS, &err);
  /* The root taken between (the lock still held, or a driver that could
   * not start, which is how a lost race reads once the lock is free
   * again: a few tries for that, a real start failure says the same). */
  if (c == NULL && runm_lv_is_embed(uri) &&
      (embed_root_locked(uri) ||
       (strstr(err && err->msg ? err->msg : "", "state driver is not active") && attempt < 5)))
    helper_retry(argc, argv, xml, attempt + 1);
  if (c && strcmp(op, "create") == 0) {
    virDomainPtr d = xml ? virDomainCreateXML(c, xml, 0) : NULL;
    if (d) {
      virDomainFree(d);
      ret = 0;
    } else {
      runm_make_error(&err, EIO, "libvirt `%s`: create domain `%s`: %s", uri, name, runm_lv_last_error());
    }
  } else if (c && strcmp(op, "destroy") == 0) {
    ret = runm_lv_destroy_on(c, uri, name, &err);
    /* Left when QEMU ended unwatched (docs/libvirt.md); an empty cgroup
     * goes, one that still holds a process stays. */
    if (argc == 5) runm_libvirt_remove_cgroup(argv[4]);
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

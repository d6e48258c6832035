/* containerd-shim-runm-v1: containerd's shim v2 contract. `start` spawns
 * the long-lived shim (or finds the one of the container's pod) and prints
 * its ttrpc address; `delete` cleans up after a shim that died (both in
 * commands.c); with no subcommand the process is the shim itself, serving
 * the Task service on the socket `start` passed it as fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

#include "cleanup.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "publish.h"
#include "lifecycle.h"
#include "pb.h"
#include "pool.h"
#include "shim.h"
#include "task.h"
#include "task_vm.h"
#include "container.h"
#include "timing.h"
#include "ttrpc.h"
#include "vm_backend.h"
#include "xalloc.h"

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
  /* Every call has answered; a teardown still running is a Delete's. */
  pthread_mutex_lock(&s->teardown);
  task_vm_pid_forget(s);
  task_cleanup(s);
  container_table_free(s);
  pthread_mutex_unlock(&s->teardown);
  /* containerd has its replies (it waits for Shutdown's, not for this
   * process): the VM's tidy no longer delays them. Bounded. */
  runm_vm_tidy_wait(&s->tidy, &s->log);
  shim_timing_mark(s->vm_id, "shim.exit", 0);
  publisher_free(s->pub);
  runm_ttrpc_server_free(srv);
  free(methods);
  {
    struct args copy = {.ns = s->ns, .id = s->id, .address = s->containerd_address};
    socket_path(&s->cfg, &copy, s->group[0] ? s->group : NULL, sock, sizeof(sock));
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
  pthread_mutex_init(&s->teardown, NULL);
  pthread_mutex_init(&s->lock, NULL);
  /* Timed waits on it (lifecycle.c) must not jump with the wall clock. */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->changed, &ca);
  pthread_condattr_destroy(&ca);
  s->vm_pidfd = -1;
  runm_vm_tidy_init(&s->tidy);
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
  if (argc > 1 && strcmp(argv[1], RUNM_LIBVIRT_HELPER_ARG) == 0)
    return runm_libvirt_helper_main(argc - 1, argv + 1);
  if (parse_args(argc, argv, &a) < 0) {
    fprintf(stderr, "usage: containerd-shim-runm-v1 -namespace NS -address ADDR -publish-binary BIN "
                    "-id ID [-debug] [start|delete|pool|vm-id]\n"
                    "  pool: an idle shim holding a spare VM (pool_size > 0; docs/pool.md)\n"
                    "  vm-id: print the VM id (state dir name) of task NS/ID\n"
                    "  -info: print a containerd.types.RuntimeInfo (options on stdin), for containerd 2.x\n");
    return 2;
  }
  /* containerd 2.x runs `-info` with no namespace or id. */
  if (a.action && strcmp(a.action, "info") == 0) return cmd_info();
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

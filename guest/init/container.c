/* The container registry: lookup by id, reference counting, and the route
 * from the reaper's exits to processes, events and waiters. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "events.h"
#include "reaper.h"
#include "rpc.h"

static void close_fd(int *fd)
{
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

struct registry *registry_new(struct reaper *reaper, struct events *events,
                              struct runm_logger *log, runm_error_t *err)
{
  static const char *const dirs[] = {RUNM_RUN_DIR, RUNC_ROOT, CONTAINER_DIR, TTY_DIR, LOG_DIR};
  struct registry *reg;

  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
    if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST) {
      runm_make_error(err, errno, "mkdir `%s`", dirs[i]);
      return NULL;
    }
  reg = calloc(1, sizeof(*reg));
  if (reg == NULL) {
    runm_make_error(err, ENOMEM, "allocate registry");
    return NULL;
  }
  pthread_mutex_init(&reg->lock, NULL);
  pthread_cond_init(&reg->changed, NULL);
  reg->reaper = reaper;
  reg->events = events;
  reg->log = log;
  reg->inotify_fd = inotify_init1(IN_CLOEXEC);
  if (reg->inotify_fd < 0) runm_log(log, RUNM_LOG_WARN, "inotify: %m; no OOM events");
  return reg;
}

int validate_id(const char *what, const char *id, bool allow_empty, runm_error_t *err)
{
  size_t n = strlen(id);

  if (n == 0) {
    if (allow_empty) return 0;
    return runm_make_error(err, EINVAL, "%s is empty", what);
  }
  if (n > ID_MAX) return runm_make_error(err, EINVAL, "%s is longer than %d characters", what, ID_MAX);
  if (id[0] == '.') return runm_make_error(err, EINVAL, "%s `%s` starts with a dot", what, id);
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return runm_make_error(err, EINVAL, "%s `%.64s` has a character outside [A-Za-z0-9_.-]",
                             what, id);
  }
  return 0;
}

static struct container *find_locked(struct registry *reg, const char *id)
{
  for (struct container *c = reg->containers; c; c = c->next)
    if (strcmp(c->id, id) == 0) return c;
  return NULL;
}

struct container *registry_reserve(struct registry *reg, const char *id, runm_error_t *err)
{
  struct container *c = calloc(1, sizeof(*c));

  if (c == NULL) {
    runm_make_error(err, ENOMEM, "allocate container");
    return NULL;
  }
  c->reg = reg;
  snprintf(c->id, sizeof(c->id), "%s", id);
  c->oom_wd = -1;
  c->refs = 2; /* the table's and the caller's */
  pthread_rwlock_init(&c->op_lock, NULL);
  /* Uncontended: nobody else can see c yet. */
  pthread_rwlock_wrlock(&c->op_lock);

  pthread_mutex_lock(&reg->lock);
  if (find_locked(reg, id)) {
    pthread_mutex_unlock(&reg->lock);
    pthread_rwlock_unlock(&c->op_lock);
    pthread_rwlock_destroy(&c->op_lock);
    free(c);
    runm_make_error(err, EEXIST, "container `%s` already exists", id);
    return NULL;
  }
  if (reg->n_containers >= MAX_CONTAINERS) {
    pthread_mutex_unlock(&reg->lock);
    pthread_rwlock_unlock(&c->op_lock);
    pthread_rwlock_destroy(&c->op_lock);
    free(c);
    runm_make_error(err, ENOSPC, "too many containers (%d)", MAX_CONTAINERS);
    return NULL;
  }
  c->next = reg->containers;
  reg->containers = c;
  reg->n_containers++;
  pthread_mutex_unlock(&reg->lock);
  return c;
}

struct container *registry_get(struct registry *reg, const char *id, runm_error_t *err)
{
  struct container *c;

  pthread_mutex_lock(&reg->lock);
  c = find_locked(reg, id);
  if (c) c->refs++;
  pthread_mutex_unlock(&reg->lock);
  if (c == NULL) runm_make_error(err, ENOENT, "container `%s` not found", id);
  return c;
}

struct process *registry_get_process(struct registry *reg, const char *id, const char *exec_id,
                                     runm_error_t *err)
{
  struct container *c;
  struct process *p = NULL;

  pthread_mutex_lock(&reg->lock);
  c = find_locked(reg, id);
  if (c == NULL) {
    pthread_mutex_unlock(&reg->lock);
    runm_make_error(err, ENOENT, "container `%s` not found", id);
    return NULL;
  }
  if (exec_id[0] == '\0') {
    p = c->init;
  } else {
    for (p = c->execs; p; p = p->next)
      if (strcmp(p->exec_id, exec_id) == 0) break;
  }
  if (p) p->refs++;
  pthread_mutex_unlock(&reg->lock);
  if (p == NULL) {
    if (exec_id[0])
      runm_make_error(err, ENOENT, "exec `%s` of container `%s` not found", exec_id, id);
    else
      runm_make_error(err, ENOENT, "container `%s` is still being created", id);
  }
  return p;
}

unsigned registry_count(struct registry *reg)
{
  unsigned n;
  pthread_mutex_lock(&reg->lock);
  n = reg->n_containers;
  pthread_mutex_unlock(&reg->lock);
  return n;
}

void registry_remove_locked(struct registry *reg, struct container *c)
{
  struct container **pp;

  if (c->removed) return;
  for (pp = &reg->containers; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      reg->n_containers--;
      break;
    }
  c->removed = true;
  oom_watch_remove_locked(reg, c);
  while (c->execs) {
    struct process *p = c->execs;
    c->execs = p->next;
    p->removed = true;
    process_unref_locked(p);
  }
  c->n_execs = 0;
  if (c->init) {
    c->init->removed = true;
    process_unref_locked(c->init);
    c->init = NULL;
  }
  pthread_cond_broadcast(&reg->changed);
  container_unref_locked(c); /* the table's */
}

void container_unref_locked(struct container *c)
{
  if (--c->refs > 0) return;
  free(c->bundle);
  pthread_rwlock_destroy(&c->op_lock);
  free(c);
}

void container_put(struct container *c)
{
  struct registry *reg;
  if (c == NULL) return;
  reg = c->reg;
  pthread_mutex_lock(&reg->lock);
  container_unref_locked(c);
  pthread_mutex_unlock(&reg->lock);
}

struct process *process_new_locked(struct container *c, const char *exec_id)
{
  struct process *p = calloc(1, sizeof(*p));

  if (p == NULL) return NULL;
  p->stdin_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->stdin_wake < 0) {
    free(p);
    return NULL;
  }
  p->c = c;
  c->refs++;
  snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
  p->refs = 1; /* the table's */
  p->pidfd = p->in_w = p->out_r = p->err_r = p->master = -1;
  p->child_in = p->child_out = p->child_err = -1;
  pthread_mutex_init(&p->stdin_lock, NULL);
  return p;
}

void process_unref_locked(struct process *p)
{
  if (--p->refs > 0) return;
  close_fd(&p->pidfd);
  close_fd(&p->in_w);
  close_fd(&p->out_r);
  close_fd(&p->err_r);
  close_fd(&p->master);
  close_fd(&p->child_in);
  close_fd(&p->child_out);
  close_fd(&p->child_err);
  close_fd(&p->stdin_wake);
  pthread_mutex_destroy(&p->stdin_lock);
  free(p->process_json);
  container_unref_locked(p->c);
  free(p);
}

void process_put(struct process *p)
{
  struct registry *reg;
  if (p == NULL) return;
  reg = p->c->reg;
  pthread_mutex_lock(&reg->lock);
  process_unref_locked(p);
  pthread_mutex_unlock(&reg->lock);
}

void process_exited_locked(struct process *p, int wait_status, int64_t exited_at)
{
  struct registry *reg = p->c->reg;

  if (p->state == PROC_STOPPED) return;
  p->state = PROC_STOPPED;
  p->exit_status = reaper_exit_code(wait_status);
  p->exited_at = exited_at;
  events_emit_exit(reg->events, p->c->id, p->exec_id, p->pid, p->exit_status, exited_at);
  runm_log(reg->log, RUNM_LOG_DEBUG, "%s%s%s (pid %d) exited with %u", p->c->id,
           p->exec_id[0] ? "/" : "", p->exec_id, (int)p->pid, p->exit_status);
  pthread_cond_broadcast(&reg->changed);
}

void process_start_failed_locked(struct process *p)
{
  p->state = PROC_STOPPED;
  p->exit_status = 255;
  p->exited_at = runm_clock_ns(CLOCK_REALTIME);
  pthread_cond_broadcast(&p->c->reg->changed);
}

static void on_process_exit(void *arg, pid_t pid, int status, int64_t exited_at)
{
  struct process *p = arg;
  struct registry *reg = p->c->reg;

  pthread_mutex_lock(&reg->lock);
  process_exited_locked(p, status, exited_at);
  process_unref_locked(p); /* the watch's */
  pthread_mutex_unlock(&reg->lock);
}

int process_watch_locked(struct process *p, runm_error_t *err)
{
  int status = 0, ret;
  int64_t at = 0;

  p->refs++; /* the watch holds p until the exit is routed */
  ret = reaper_adopt(p->c->reg->reaper, p->pid, on_process_exit, p, &p->pidfd, &status, &at, err);
  if (ret != 0) p->refs--;
  if (ret < 0) return ret;
  if (ret == 1) process_exited_locked(p, status, at);
  return 0;
}

struct exit_waiter {
  struct registry *reg;
  bool cancelled; /* guarded by reg->lock */
};

static void exit_waiter_cancel(void *arg)
{
  struct exit_waiter *w = arg;
  pthread_mutex_lock(&w->reg->lock);
  w->cancelled = true;
  pthread_cond_broadcast(&w->reg->changed);
  pthread_mutex_unlock(&w->reg->lock);
}

int process_wait_exit(struct process *p, struct runm_rpc_call *call, runm_error_t *err)
{
  struct registry *reg = p->c->reg;
  struct exit_waiter w = {.reg = reg, .cancelled = false};
  int ret = 0;

  /* The hook takes reg->lock: install and remove it without holding it. */
  if (call) runm_rpc_call_on_cancel(call, exit_waiter_cancel, &w);
  pthread_mutex_lock(&reg->lock);
  while (p->state != PROC_STOPPED && !p->removed && !w.cancelled)
    pthread_cond_wait(&reg->changed, &reg->lock);
  if (p->state == PROC_STOPPED)
    ret = 0;
  else if (p->removed)
    ret = runm_make_error(err, ENOENT, "process was deleted before it exited");
  else
    ret = runm_make_error(err, ECANCELED, "client went away");
  pthread_mutex_unlock(&reg->lock);
  if (call) runm_rpc_call_on_cancel(call, NULL, NULL);
  return ret;
}

/* Caller holds p->stdin_lock. */
static void close_stdin_locked(struct process *p)
{
  if (p->stdin_closed) return;
  p->stdin_closed = true;
  if (p->terminal) {
    /* The master also carries the output: end the input the way a user at
     * a terminal does, with the EOF character (^D in canonical mode). */
    if (p->master >= 0 && p->stdin) {
      char eof = 4;
      if (write(p->master, &eof, 1) < 0) {
        /* the pty is gone or full: nothing is reading stdin anyway */
      }
    }
    return;
  }
  close_fd(&p->in_w);
}

void process_close_stdin(struct process *p)
{
  struct registry *reg = p->c->reg;
  uint64_t one = 1;

  pthread_mutex_lock(&reg->lock);
  p->stdin_close_requested = true;
  pthread_mutex_unlock(&reg->lock);
  /* A stream blocked writing to a full stdin holds stdin_lock; this wakes
   * it, it sees the request and lets go. */
  if (write(p->stdin_wake, &one, sizeof(one)) < 0) {
    /* counter saturated: the writer is awake already */
  }
  pthread_mutex_lock(&p->stdin_lock);
  close_stdin_locked(p);
  pthread_mutex_unlock(&p->stdin_lock);
}

struct container *container_op_begin(struct registry *reg, const char *id, bool write,
                                     runm_error_t *err)
{
  struct container *c = registry_get(reg, id, err);
  bool removed;

  if (c == NULL) return NULL;
  if (write)
    pthread_rwlock_wrlock(&c->op_lock);
  else
    pthread_rwlock_rdlock(&c->op_lock);
  pthread_mutex_lock(&reg->lock);
  removed = c->removed || c->init == NULL;
  pthread_mutex_unlock(&reg->lock);
  if (removed) {
    pthread_rwlock_unlock(&c->op_lock);
    container_put(c);
    runm_make_error(err, ENOENT, "container `%s` not found", id);
    return NULL;
  }
  return c;
}

void container_op_done(struct container *c)
{
  pthread_rwlock_unlock(&c->op_lock);
  container_put(c);
}

int process_signal(struct process *p, int sig, runm_error_t *err)
{
  if (p->pidfd < 0) return runm_make_error(err, ENOENT, "process not started");
  if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0) {
    if (errno == ESRCH) return runm_make_error(err, ENOENT, "process already finished");
    return runm_make_error(err, errno, "signal %d to pid %d", sig, (int)p->pid);
  }
  return 0;
}

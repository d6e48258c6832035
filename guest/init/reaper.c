/* Reaping and the registry that routes exit statuses to their waiters. */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cleanup.h"

/* A registered child: spawned (fn == NULL, reaper_wait collects it) or
 * adopted (fn routes the exit). */
struct watched {
  pid_t pid;
  bool exited;
  int status;
  reaper_exit_fn fn;
  void *arg;
  int64_t exited_at;
  struct watched *next;
};

struct recent_exit {
  pid_t pid; /* 0: slot unused or already claimed */
  int status;
  int64_t exited_at;
};

struct reaper {
  pthread_mutex_t lock; /* guards watched and the recent ring */
  pthread_cond_t changed;
  struct watched *watched;
  struct recent_exit recent[REAPER_RECENT_MAX];
  size_t recent_next; /* slot the next unknown exit overwrites */
  char exe_path[64]; /* the alias (reaper_expect_exe), guarded by lock */
  int exe_fd;
  bool exe_pending;
};

/* How long reaper_exe_path waits for a pending alias. */
#define REAPER_EXE_WAIT_S 30

extern char **environ;

static int pidfd_open_(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

uint32_t reaper_exit_code(int status)
{
  if (WIFEXITED(status)) return (uint32_t)WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128u + (uint32_t)WTERMSIG(status);
  return 255;
}

struct reaper *reaper_new(runm_error_t *err)
{
  struct reaper *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    runm_make_error(err, ENOMEM, "allocate reaper");
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->changed, NULL);
  r->exe_fd = -1;
  return r;
}

void reaper_expect_exe(struct reaper *r, const char *path)
{
  pthread_mutex_lock(&r->lock);
  snprintf(r->exe_path, sizeof(r->exe_path), "%s", path);
  r->exe_pending = true;
  pthread_mutex_unlock(&r->lock);
}

void reaper_set_exe(struct reaper *r, int fd)
{
  pthread_mutex_lock(&r->lock);
  r->exe_fd = fd;
  r->exe_pending = false;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

void reaper_exe_path(struct reaper *r, const char *path, char *buf, size_t len)
{
  struct timespec until;

  /* Bounded: a copy that never ends must not hold up every runc; after
   * REAPER_EXE_WAIT_S the path itself runs (the alias still applies later). */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += REAPER_EXE_WAIT_S;
  pthread_mutex_lock(&r->lock);
  while (r->exe_pending && strcmp(path, r->exe_path) == 0)
    if (pthread_cond_timedwait(&r->changed, &r->lock, &until) == ETIMEDOUT) break;
  if (r->exe_fd >= 0 && strcmp(path, r->exe_path) == 0)
    snprintf(buf, len, "/proc/self/fd/%d", r->exe_fd);
  else
    snprintf(buf, len, "%s", path);
  pthread_mutex_unlock(&r->lock);
}

void reaper_reap(struct reaper *r)
{
  struct watched *fired = NULL;

  pthread_mutex_lock(&r->lock);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    struct watched **p;
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    for (p = &r->watched; *p; p = &(*p)->next)
      if ((*p)->pid == pid) break;
    if (*p == NULL) {
      struct recent_exit *e = &r->recent[r->recent_next];
      e->pid = pid;
      e->status = status;
      e->exited_at = runm_clock_ns(CLOCK_REALTIME);
      r->recent_next = (r->recent_next + 1) % REAPER_RECENT_MAX;
    } else if ((*p)->fn) {
      struct watched *w = *p;
      *p = w->next;
      w->status = status;
      w->exited_at = runm_clock_ns(CLOCK_REALTIME);
      w->next = fired;
      fired = w;
    } else {
      (*p)->exited = true;
      (*p)->status = status;
    }
  }
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);

  /* Outside the lock: the callbacks take other locks, and a thread holding
   * one of those may be waiting for this lock in reaper_adopt. Oldest exit
   * first, so events keep the reap order. */
  {
    struct watched *rev = NULL;
    while (fired) {
      struct watched *w = fired;
      fired = w->next;
      w->next = rev;
      rev = w;
    }
    while (rev) {
      struct watched *w = rev;
      rev = w->next;
      w->fn(w->arg, w->pid, w->status, w->exited_at);
      free(w);
    }
  }
}

/* How a child starts: 0 and *pid, or an errno. Called with the reaper's
 * lock held, so the child is registered before anyone can reap it. */
typedef int (*start_fn)(void *arg, pid_t *pid);

static int spawn_registered(struct reaper *r, pid_t *pid, int *ret_pidfd, const char *path,
                            start_fn start, void *arg, runm_error_t *err)
{
  struct watched *w = calloc(1, sizeof(*w));
  int ret, pidfd = -1, pidfd_errno = 0;

  if (w == NULL) return runm_make_error(err, ENOMEM, "spawn %s", path);
  pthread_mutex_lock(&r->lock);
  ret = start(arg, &w->pid);
  if (ret == 0) {
    w->next = r->watched;
    r->watched = w;
    *pid = w->pid;
    /* Still under the lock: the child cannot have been reaped, so the
     * pidfd is this child's even if it has already exited. */
    if (ret_pidfd) {
      pidfd = pidfd_open_(w->pid);
      if (pidfd < 0) pidfd_errno = errno;
    }
  }
  pthread_mutex_unlock(&r->lock);
  if (ret != 0) {
    free(w);
    return runm_make_error(err, ret, "spawn `%s`", path);
  }
  if (ret_pidfd) {
    if (pidfd < 0) {
      /* The child runs; collect it so it does not linger as a zombie. */
      int status;
      cleanup_error runm_error_t ignored = NULL;
      kill(*pid, SIGKILL);
      reaper_wait(r, *pid, &status, &ignored);
      return runm_make_error(err, pidfd_errno, "pidfd_open for `%s`", path);
    }
    *ret_pidfd = pidfd;
  }
  return 0;
}

struct spawn_args {
  const char *path;
  const posix_spawn_file_actions_t *fa;
  const posix_spawnattr_t *attr;
  char *const *argv, *const *envp;
};

static int start_spawn(void *arg, pid_t *pid)
{
  struct spawn_args *a = arg;
  return posix_spawn(pid, a->path, a->fa, a->attr, a->argv, a->envp ? a->envp : environ);
}

int reaper_spawn(struct reaper *r, pid_t *pid, int *ret_pidfd, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[], runm_error_t *err)
{
  struct spawn_args a = {path, fa, attr, argv, envp};
  return spawn_registered(r, pid, ret_pidfd, path, start_spawn, &a, err);
}

struct fork_args {
  reaper_child_fn child;
  void *arg;
  int report; /* write end of the CLOEXEC pipe the child reports a failure on */
};

static int start_fork(void *arg, pid_t *pid)
{
  struct fork_args *a = arg;
  pid_t p = fork();
  if (p < 0) return errno;
  if (p == 0) {
    struct reaper_child_failure f = {0};
    f.err = a->child(a->arg, &f);
    if (f.err == 0) f.err = ENOEXEC;
    if (write(a->report, &f, sizeof(f)) < 0) {
      /* the parent then sees a child that exited 127 without a word */
    }
    _exit(127);
  }
  *pid = p;
  return 0;
}

int reaper_fork(struct reaper *r, pid_t *pid, int *ret_pidfd, const char *path, reaper_child_fn child,
                void *arg, runm_error_t *err)
{
  int fds[2];
  struct fork_args a = {child, arg, -1};
  struct reaper_child_failure f;
  ssize_t n;

  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  a.report = fds[1];
  if (spawn_registered(r, pid, ret_pidfd, path, start_fork, &a, err) < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  close(fds[1]);
  /* EOF: the exec closed the pipe. A report: the child failed before it. */
  do n = read(fds[0], &f, sizeof(f));
  while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == (ssize_t)sizeof(f)) {
    int status;
    cleanup_error runm_error_t ignored = NULL;
    if (ret_pidfd) {
      close(*ret_pidfd);
      *ret_pidfd = -1;
    }
    reaper_wait(r, *pid, &status, &ignored);
    f.what[sizeof(f.what) - 1] = '\0';
    return runm_make_error(err, f.err, "start `%s`: %s", path, f.what[0] ? f.what : "exec");
  }
  return 0;
}

int reaper_wait(struct reaper *r, pid_t pid, int *status, runm_error_t *err)
{
  struct watched **p, *w = NULL;

  pthread_mutex_lock(&r->lock);
  for (;;) {
    for (p = &r->watched; *p; p = &(*p)->next)
      if ((*p)->pid == pid && (*p)->fn == NULL) break;
    if (*p == NULL) {
      pthread_mutex_unlock(&r->lock);
      return runm_make_error(err, ECHILD, "pid %d is not a registered child", (int)pid);
    }
    if ((*p)->exited) break;
    pthread_cond_wait(&r->changed, &r->lock);
  }
  w = *p;
  *p = w->next;
  pthread_mutex_unlock(&r->lock);
  *status = w->status;
  free(w);
  return 0;
}

int reaper_adopt(struct reaper *r, pid_t pid, reaper_exit_fn fn, void *arg, int *ret_pidfd,
                 int *status, int64_t *exited_at_ns, runm_error_t *err)
{
  struct watched *w = calloc(1, sizeof(*w));
  int pidfd;

  if (w == NULL) return runm_make_error(err, ENOMEM, "adopt pid %d", (int)pid);
  if (pid <= 1) {
    free(w);
    return runm_make_error(err, EINVAL, "cannot adopt pid %d", (int)pid);
  }
  pthread_mutex_lock(&r->lock);
  /* Nothing is reaped while the lock is held: either the process exists now
   * (alive or a zombie) and its exit will come through reaper_reap, or it
   * has been reaped already and its status is in the ring. */
  pidfd = pidfd_open_(pid);
  if (pidfd >= 0) {
    /* Older ring entries for this pid belong to an earlier process that
     * had the same number. */
    for (size_t i = 0; i < REAPER_RECENT_MAX; i++)
      if (r->recent[i].pid == pid) r->recent[i].pid = 0;
    w->pid = pid;
    w->fn = fn;
    w->arg = arg;
    w->next = r->watched;
    r->watched = w;
    pthread_mutex_unlock(&r->lock);
    *ret_pidfd = pidfd;
    return 0;
  }
  if (errno != ESRCH) {
    int e = errno;
    pthread_mutex_unlock(&r->lock);
    free(w);
    return runm_make_error(err, e, "pidfd_open %d", (int)pid);
  }
  /* Newest entry first: the latest process with this number. */
  for (size_t k = 1; k <= REAPER_RECENT_MAX; k++) {
    struct recent_exit *e = &r->recent[(r->recent_next + REAPER_RECENT_MAX - k) % REAPER_RECENT_MAX];
    if (e->pid != pid) continue;
    *status = e->status;
    *exited_at_ns = e->exited_at;
    e->pid = 0;
    pthread_mutex_unlock(&r->lock);
    free(w);
    return 1;
  }
  pthread_mutex_unlock(&r->lock);
  free(w);
  return runm_make_error(err, ECHILD, "pid %d is gone and its exit status was not kept", (int)pid);
}

int reaper_run_capture(struct reaper *r, char *const argv[], char *out, size_t cap, int *status,
                       runm_error_t *err)
{
  int fds[2];
  cleanup_close int rd = -1;
  posix_spawn_file_actions_t fa;
  size_t len = 0;
  pid_t pid = -1;
  int ret;

  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  rd = fds[0];
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  ret = reaper_spawn(r, &pid, NULL, argv[0], &fa, NULL, argv, NULL, err);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (ret < 0) return ret;
  for (;;) {
    char buf[4096];
    ssize_t n = read(rd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (len < cap) {
      size_t take = (size_t)n < cap - len ? (size_t)n : cap - len;
      memcpy(out + len, buf, take);
      len += take;
    }
  }
  if (cap) out[len < cap ? len : cap - 1] = '\0';
  return reaper_wait(r, pid, status, err);
}

/* Reaping and the registry that routes exit statuses to their waiters. */
#include "reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

struct watched {
  pid_t pid;
  bool exited;
  int status;
  struct watched *next;
};

struct reaper {
  pthread_mutex_t lock; /* guards watched */
  pthread_cond_t changed;
  struct watched *watched;
};

extern char **environ;

struct reaper *reaper_new(runm_error_t *err)
{
  struct reaper *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    runm_make_error(err, ENOMEM, "allocate reaper");
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->changed, NULL);
  return r;
}

void reaper_reap(struct reaper *r)
{
  pthread_mutex_lock(&r->lock);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    for (struct watched *w = r->watched; w; w = w->next)
      if (w->pid == pid) {
        w->exited = true;
        w->status = status;
        break;
      }
  }
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

int reaper_spawn(struct reaper *r, pid_t *pid, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[], runm_error_t *err)
{
  struct watched *w = calloc(1, sizeof(*w));
  int ret;

  if (w == NULL) return runm_make_error(err, ENOMEM, "spawn %s", path);
  pthread_mutex_lock(&r->lock);
  ret = posix_spawn(&w->pid, path, fa, attr, argv, envp ? envp : environ);
  if (ret == 0) {
    w->next = r->watched;
    r->watched = w;
    *pid = w->pid;
  }
  pthread_mutex_unlock(&r->lock);
  if (ret != 0) {
    free(w);
    return runm_make_error(err, ret, "spawn `%s`", path);
  }
  return 0;
}

int reaper_wait(struct reaper *r, pid_t pid, int *status, runm_error_t *err)
{
  struct watched **p, *w = NULL;

  pthread_mutex_lock(&r->lock);
  for (;;) {
    for (p = &r->watched; *p; p = &(*p)->next)
      if ((*p)->pid == pid) break;
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

int reaper_run_capture(struct reaper *r, char *const argv[], char *out, size_t cap, int *status,
                       runm_error_t *err)
{
  int fds[2];
  cleanup_close int rd = -1;
  posix_spawn_file_actions_t fa;
  size_t len = 0;
  pid_t pid;
  int ret;

  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  rd = fds[0];
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  ret = reaper_spawn(r, &pid, argv[0], &fa, NULL, argv, NULL, err);
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

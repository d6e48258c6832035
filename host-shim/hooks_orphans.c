/* The records of the hooks running on the host (hooks_priv.h): each hook's
 * process group is recorded in the VM's state dir (hook-<pgid>, with its
 * leader's start time) while it runs, so that `shim delete`, after the
 * shim died, kills those it left and no other process. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "hooks_priv.h"

void hooks_set_state_dir(struct hooks *h, const char *dir)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  snprintf(h->state_dir, sizeof(h->state_dir), "%s", dir);
  pthread_mutex_unlock(&h->lock);
}

/* A process's start time (clock ticks after boot), 0 when unknown: with
 * the pid it names one process, whatever pids get reused. */
static unsigned long long start_time(pid_t pid)
{
  char path[64], buf[1024], *p;
  cleanup_close int fd = -1;
  ssize_t n;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')'); /* comm may hold anything */
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void record_path(struct hooks *h, pid_t pgid, char *out, size_t cap)
{
  pthread_mutex_lock(&h->lock);
  if (h->state_dir[0]) snprintf(out, cap, "%s/hook-%d", h->state_dir, (int)pgid);
  else out[0] = '\0';
  pthread_mutex_unlock(&h->lock);
}

void hooks_started(void *arg, pid_t pgid)
{
  char path[PATH_MAX + 32], text[32];
  cleanup_close int fd = -1;
  int n;
  record_path(arg, pgid, path, sizeof(path));
  if (path[0] == '\0') return;
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  n = snprintf(text, sizeof(text), "%llu\n", start_time(pgid));
  if (fd >= 0 && write(fd, text, (size_t)n) != n) unlink(path);
}

void hooks_ended(void *arg, pid_t pgid)
{
  char path[PATH_MAX + 32];
  record_path(arg, pgid, path, sizeof(path));
  if (path[0]) unlink(path);
}

int hooks_kill_orphans(const char *vm_dir)
{
  cleanup_dir DIR *d = opendir(vm_dir);
  struct dirent *de;
  int killed = 0;

  while (d && (de = readdir(d))) {
    char text[32] = "";
    cleanup_close int fd = -1;
    unsigned long long want, now;
    char *end;
    long pgid;
    ssize_t n;

    if (strncmp(de->d_name, "hook-", 5) != 0) continue;
    pgid = strtol(de->d_name + 5, &end, 10);
    if (*end != '\0' || pgid <= 1 || pgid > 0x3fffffff) continue;
    fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0) continue;
    text[n] = '\0';
    want = strtoull(text, NULL, 10);
    now = start_time((pid_t)pgid);
    /* The leader still runs: only if it is the one recorded. Gone: its
     * group id cannot be anyone else's while the group has members. */
    if (now != 0 && now != want) continue;
    if (kill(-(pid_t)pgid, SIGKILL) == 0) killed++;
  }
  return killed;
}


/* OOM kills: cgroup v2 signals a change of memory.events as an inotify
 * IN_MODIFY; a thread reads those and emits an OomEvent whenever a
 * container's oom_kill counter grows. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "container.h"
#include "events.h"
#include "cgroup_stats.h"

void oom_watch_add_locked(struct registry *reg, struct container *c)
{
  char path[PATH_MAX + 32];

  if (reg->inotify_fd < 0 || c->cgroup[0] == '\0') return;
  snprintf(path, sizeof(path), "%s/memory.events", c->cgroup);
  if (!cgroup_read_key(c->cgroup, "memory.events", "oom_kill", &c->oom_kills)) c->oom_kills = 0;
  c->oom_wd = inotify_add_watch(reg->inotify_fd, path, IN_MODIFY);
  if (c->oom_wd < 0) runm_log(reg->log, RUNM_LOG_WARN, "%s: watch %s: %m; no OOM events", c->id, path);
}

void oom_watch_remove_locked(struct registry *reg, struct container *c)
{
  if (c->oom_wd >= 0) inotify_rm_watch(reg->inotify_fd, c->oom_wd);
  c->oom_wd = -1;
}

static void check_locked(struct registry *reg, int wd)
{
  for (struct container *c = reg->containers; c; c = c->next) {
    uint64_t kills;
    if (c->oom_wd != wd) continue;
    if (cgroup_read_key(c->cgroup, "memory.events", "oom_kill", &kills) && kills > c->oom_kills) {
      c->oom_kills = kills;
      runm_log(reg->log, RUNM_LOG_INFO, "%s: OOM kill (%llu so far)", c->id,
               (unsigned long long)kills);
      events_emit_oom(reg->events, c->id);
    }
    return;
  }
}

static void *oom_thread(void *arg)
{
  struct registry *reg = arg;
  /* Aligned as the kernel writes struct inotify_event records. */
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

  for (;;) {
    ssize_t n = read(reg->inotify_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      runm_log(reg->log, RUNM_LOG_ERROR, "inotify read: %m; OOM events stop");
      return NULL;
    }
    pthread_mutex_lock(&reg->lock);
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)p;
      if (e->mask & IN_MODIFY) check_locked(reg, e->wd);
      p += sizeof(*e) + e->len;
    }
    pthread_mutex_unlock(&reg->lock);
  }
}

int oom_watch_start(struct registry *reg, runm_error_t *err)
{
  pthread_t t;
  int ret;

  if (reg->inotify_fd < 0) return 0;
  ret = pthread_create(&t, NULL, oom_thread, reg);
  if (ret != 0) return runm_make_error(err, ret, "start the OOM watcher");
  pthread_detach(t);
  return 0;
}

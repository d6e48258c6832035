/* Container statistics from cgroup v2 files (see cgroup_stats.h). */
#include "cgroup_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

/* cgroup files runm reads are small; io.stat grows per device. */
#define CG_FILE_MAX (64 * 1024)

static ssize_t read_file(const char *dir, const char *name, char *buf, size_t cap)
{
  char path[4200];
  cleanup_close int fd = -1;
  size_t len = 0;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return (ssize_t)len;
}

int cgroup_of_pid(pid_t pid, char *out, size_t cap, runm_error_t *err)
{
  char name[64], buf[4096];
  char *line, *save = NULL;

  snprintf(name, sizeof(name), "%d/cgroup", (int)pid);
  if (read_file("/proc", name, buf, sizeof(buf)) < 0)
    return runm_make_error(err, errno, "read /proc/%d/cgroup", (int)pid);
  for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "0::/", 4) != 0) continue;
    if (strstr(line, "/..") || (size_t)snprintf(out, cap, "/sys/fs/cgroup%s", line + 3) >= cap)
      return runm_make_error(err, EINVAL, "unusable cgroup path `%s`", line + 3);
    /* The root cgroup: "/sys/fs/cgroup/" */
    return 0;
  }
  return runm_make_error(err, ENOENT, "pid %d has no cgroup v2 path", (int)pid);
}

static bool key_value(const char *text, const char *key, uint64_t *out)
{
  size_t k = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, key, k) == 0 && p[k] == ' ') {
      *out = strtoull(p + k + 1, NULL, 10);
      return true;
    }
  }
  return false;
}

bool cgroup_read_key(const char *cgroup, const char *file, const char *key, uint64_t *out)
{
  char buf[4096];
  if (read_file(cgroup, file, buf, sizeof(buf)) < 0) return false;
  return key_value(buf, key, out);
}

/* A single-value file: a number, or "max" (no limit, reported as 0). */
static uint64_t single(const char *cgroup, const char *file)
{
  char buf[64];
  if (read_file(cgroup, file, buf, sizeof(buf)) <= 0 || strncmp(buf, "max", 3) == 0) return 0;
  return strtoull(buf, NULL, 10);
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." per device; summed. */
static void io_stat(const char *text, Runm__V1__StatsResponse *out)
{
  static const char *const keys[] = {"rbytes=", "wbytes=", "rios=", "wios="};
  uint64_t *dst[] = {&out->io_rbytes, &out->io_wbytes, &out->io_rios, &out->io_wios};
  for (const char *p = text; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    for (size_t i = 0; i < 4; i++) {
      const char *f = memmem(p, n, keys[i], strlen(keys[i]));
      if (f) *dst[i] += strtoull(f + strlen(keys[i]), NULL, 10);
    }
    p = eol ? eol + 1 : NULL;
  }
}

int cgroup_stats(const char *cgroup, Runm__V1__StatsResponse *out, runm_error_t *err)
{
  cleanup_free char *buf = malloc(CG_FILE_MAX);

  if (buf == NULL) return runm_make_error(err, ENOMEM, "stats");
  if (cgroup[0] == '\0') return runm_make_error(err, ENOENT, "the container's cgroup is unknown");
  if (access(cgroup, F_OK) < 0) return runm_make_error(err, errno, "cgroup `%s`", cgroup);
  if (read_file(cgroup, "cpu.stat", buf, CG_FILE_MAX) >= 0) {
    key_value(buf, "usage_usec", &out->cpu_usage_usec);
    key_value(buf, "user_usec", &out->cpu_user_usec);
    key_value(buf, "system_usec", &out->cpu_system_usec);
    key_value(buf, "nr_periods", &out->cpu_nr_periods);
    key_value(buf, "nr_throttled", &out->cpu_nr_throttled);
    key_value(buf, "throttled_usec", &out->cpu_throttled_usec);
  }
  out->memory_current = single(cgroup, "memory.current");
  out->memory_max = single(cgroup, "memory.max");
  out->memory_swap_current = single(cgroup, "memory.swap.current");
  if (read_file(cgroup, "memory.stat", buf, CG_FILE_MAX) >= 0) {
    key_value(buf, "anon", &out->memory_anon);
    key_value(buf, "file", &out->memory_file);
  }
  if (read_file(cgroup, "memory.events", buf, CG_FILE_MAX) >= 0) {
    key_value(buf, "oom", &out->memory_events_oom);
    key_value(buf, "oom_kill", &out->memory_events_oom_kill);
    key_value(buf, "max", &out->memory_events_max);
  }
  out->pids_current = single(cgroup, "pids.current");
  out->pids_max = single(cgroup, "pids.max");
  if (read_file(cgroup, "io.stat", buf, CG_FILE_MAX) >= 0) io_stat(buf, out);
  return 0;
}

bool cgroup_frozen(const char *cgroup)
{
  char path[PATH_MAX + 32];
  char buf[8] = "";
  cleanup_close int fd = -1;
  if (cgroup[0] == '\0') return false;
  snprintf(path, sizeof(path), "%s/cgroup.freeze", cgroup);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0) return false;
  return strtoull(buf, NULL, 10) == 1;
}

/* The vm.info record an owner (runmctl's supervisor, the shim) keeps in a
 * VM's state dir, so that `runmctl vm ls/stop` and the shim's `delete` find
 * the processes behind a VM. */
#include "vm_info.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int runm_vm_info_write(const char *dir, const struct runm_vm_info *i, runm_error_t *err)
{
  char tmp[400], path[400];
  cleanup_file FILE *f = NULL;
  int fd;

  snprintf(tmp, sizeof(tmp), "%s/vm.info.tmp", dir);
  snprintf(path, sizeof(path), "%s/vm.info", dir);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return runm_make_error(err, errno, "create `%s`", tmp);
  f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    return runm_make_error(err, errno, "fdopen");
  }
  fprintf(f, "id=%s\nqemu_pid=%d\nsupervisor_pid=%d\naccel=%s\ntransport=%s\nsocket=%s\n"
             "console=%s\nspawn_ns=%lld\nready_ns=%lld\nowner=%s\nqemu_name=%s\nbackend=%s\n"
             "libvirt_uri=%s\ncgroup=%s\n",
          i->id, (int)i->qemu_pid, (int)i->supervisor_pid, i->accel, i->transport, i->socket,
          i->console, i->spawn_ns, i->ready_ns, i->owner[0] ? i->owner : "runmctl", i->qemu_name,
          i->backend[0] ? i->backend : "qemu", i->libvirt_uri, i->cgroup);
  if (fflush(f) != 0) return runm_make_error(err, errno, "write `%s`", tmp);
  if (rename(tmp, path) < 0) return runm_make_error(err, errno, "rename `%s`", tmp);
  return 0;
}

int runm_vm_info_read(const char *dir, struct runm_vm_info *i, runm_error_t *err)
{
  char path[400], line[512];
  cleanup_file FILE *f = NULL;

  memset(i, 0, sizeof(*i));
  snprintf(path, sizeof(path), "%s/vm.info", dir);
  f = fopen(path, "re");
  if (f == NULL) return runm_make_error(err, errno, "read `%s`", path);
  while (fgets(line, sizeof(line), f)) {
    char *eq = strchr(line, '='), *v;
    if (eq == NULL) continue;
    *eq = '\0';
    v = eq + 1;
    v[strcspn(v, "\n")] = '\0';
    if (strcmp(line, "id") == 0) snprintf(i->id, sizeof(i->id), "%s", v);
    else if (strcmp(line, "qemu_pid") == 0) i->qemu_pid = atoi(v);
    else if (strcmp(line, "supervisor_pid") == 0) i->supervisor_pid = atoi(v);
    else if (strcmp(line, "accel") == 0) snprintf(i->accel, sizeof(i->accel), "%s", v);
    else if (strcmp(line, "transport") == 0) snprintf(i->transport, sizeof(i->transport), "%s", v);
    else if (strcmp(line, "socket") == 0) snprintf(i->socket, sizeof(i->socket), "%s", v);
    else if (strcmp(line, "console") == 0) snprintf(i->console, sizeof(i->console), "%s", v);
    else if (strcmp(line, "spawn_ns") == 0) i->spawn_ns = atoll(v);
    else if (strcmp(line, "ready_ns") == 0) i->ready_ns = atoll(v);
    else if (strcmp(line, "owner") == 0) snprintf(i->owner, sizeof(i->owner), "%s", v);
    else if (strcmp(line, "qemu_name") == 0) snprintf(i->qemu_name, sizeof(i->qemu_name), "%s", v);
    else if (strcmp(line, "backend") == 0) snprintf(i->backend, sizeof(i->backend), "%s", v);
    else if (strcmp(line, "libvirt_uri") == 0) snprintf(i->libvirt_uri, sizeof(i->libvirt_uri), "%s", v);
    else if (strcmp(line, "cgroup") == 0) snprintf(i->cgroup, sizeof(i->cgroup), "%s", v);
  }
  return 0;
}


bool runm_vm_info_is_qemu(const struct runm_vm_info *info, const char *id)
{
  char path[64], cmd[65536], want[128];
  cleanup_close int fd = -1;
  ssize_t n;
  size_t wl;
  if (info->qemu_pid <= 0) return false;
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)info->qemu_pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  n = read(fd, cmd, sizeof(cmd) - 1);
  if (n <= 0) return false;
  cmd[n] = '\0';
  /* A pooled VM keeps the name it booted with; vm.info records it. The
   * qemu backend passes `-name runm-<id>`, libvirt `-name guest=<domain>,...`. */
  if (info->qemu_name[0]) snprintf(want, sizeof(want), "%s", info->qemu_name);
  else snprintf(want, sizeof(want), "runm-%s", id);
  wl = strlen(want);
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1) {
    if (strcmp(cmd + i, want) == 0) return true;
    if (strncmp(cmd + i, "guest=", 6) == 0 && strncmp(cmd + i + 6, want, wl) == 0 &&
        cmd[i + 6 + (ssize_t)wl] == ',')
      return true;
  }
  return false;
}

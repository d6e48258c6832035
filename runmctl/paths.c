/* Where runmctl finds things: the state dir, the guest artifacts, the
 * vm.info record a standalone VM's supervisor keeps. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "runmctl.h"
#include "vm.h"

void runmctl_default_state_root(char *buf, size_t len)
{
  const char *s = getenv("RUNM_STATE_DIR");
  if (s && *s)
    snprintf(buf, len, "%s", s);
  else if (geteuid() == 0)
    snprintf(buf, len, "/run/runm");
  else if ((s = getenv("XDG_RUNTIME_DIR")) && *s)
    snprintf(buf, len, "%s/runm", s);
  else
    snprintf(buf, len, "/tmp/runm-%u", (unsigned)geteuid());
}

int runmctl_vm_dir(const struct runmctl *ctl, const char *id, char *out, size_t len,
                   runm_error_t *err)
{
  struct stat st;
  int n;
  if (!runm_vm_id_valid(id)) return runm_make_error(err, EINVAL, "invalid VM id `%s`", id);
  n = snprintf(out, len, "%s/vm/%s", ctl->state_root, id);
  if (n < 0 || (size_t)n >= len) return runm_make_error(err, ENAMETOOLONG, "VM dir for `%s`", id);
  if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
    return runm_make_error(err, ENOENT, "no VM `%s` (no state dir `%s`)", id, out);
  return 0;
}

/* Env var, then next to the binary (build tree and install share the
 * `bin/../share/runm` layout), then the usual prefixes. */
int runmctl_find_artifact(const char *env, const char *name, char *out, size_t len,
                          runm_error_t *err)
{
  const char *v = getenv(env);
  char exe[PATH_MAX];
  ssize_t n;
  static const char *const prefixes[] = {"/usr/local/share/runm", "/usr/share/runm"};

  if (v && *v) {
    snprintf(out, len, "%s", v);
    return 0;
  }
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      snprintf(out, len, "%s/../share/runm/%s", exe, name);
      if (access(out, R_OK) == 0) {
        char real[PATH_MAX];
        if (realpath(out, real)) snprintf(out, len, "%s", real);
        return 0;
      }
    }
  }
  for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
    snprintf(out, len, "%s/%s", prefixes[i], name);
    if (access(out, R_OK) == 0) return 0;
  }
  return runm_make_error(err, ENOENT, "cannot find the guest %s `%s` (set %s or run `make`)",
                         strcmp(name, "vmlinux") == 0 ? "kernel" : "image", name, env);
}

int vm_info_write(const char *dir, const struct vm_info *i, runm_error_t *err)
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
             "console=%s\nspawn_ns=%lld\nready_ns=%lld\n",
          i->id, (int)i->qemu_pid, (int)i->supervisor_pid, i->accel, i->transport, i->socket,
          i->console, i->spawn_ns, i->ready_ns);
  if (fflush(f) != 0) return runm_make_error(err, errno, "write `%s`", tmp);
  if (rename(tmp, path) < 0) return runm_make_error(err, errno, "rename `%s`", tmp);
  return 0;
}

int vm_info_read(const char *dir, struct vm_info *i, runm_error_t *err)
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
  }
  return 0;
}

int runmctl_exit_code(const runm_error_t err)
{
  if (err == NULL) return RUNMCTL_FAIL;
  switch (err->status) {
  case ENOENT: return RUNMCTL_NOT_FOUND;
  case ECONNREFUSED:
  case ECONNABORTED:
  case ETIMEDOUT:
  case EIO: return RUNMCTL_UNAVAILABLE;
  default: return RUNMCTL_FAIL;
  }
}

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

/* Root's /run/runm, else the user's XDG runtime dir (private, made by the
 * login manager), else a /tmp dir: that name is predictable, so another
 * user could make it first; runm_state_dir_check refuses it then (owner,
 * mode, symlink) before anything is put in it. */
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
  if (runmctl_check_state_root(ctl, err) < 0 || runm_vm_dir_check(out, err) < 0) return -1;
  return 0;
}

int runmctl_check_state_root(const struct runmctl *ctl, runm_error_t *err)
{
  char vmroot[PATH_MAX];
  struct stat st;
  if (lstat(ctl->state_root, &st) < 0 && errno == ENOENT) return 0;
  if (runm_state_dir_check(ctl->state_root, false, err) < 0) return -1;
  snprintf(vmroot, sizeof(vmroot), "%s/vm", ctl->state_root);
  if (lstat(vmroot, &st) < 0 && errno == ENOENT) return 0;
  return runm_state_dir_check(vmroot, false, err);
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

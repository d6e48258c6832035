/* Loading the shim's settings. The file is a flat TOML subset:
 *   kernel = "/usr/local/share/runm/vmlinux"
 *   memory_mib = 512
 *   accel = "auto"          # auto | kvm | tcg
 *   bind_mode = "auto"      # auto | kernel | fuse (runm-bindfs)
 *   vm_backend = "qemu"     # qemu | libvirt (docs/libvirt.md)
 *   libvirt_uri = "qemu:///system"   # or qemu:///embed?root=DIR
 *   share_fs = "9p"         # 9p | virtiofs (docs/performance.md)
 * under an optional [runm] table; unknown keys are an error so typos show. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

static char *trim(char *s)
{
  char *e;
  while (isspace((unsigned char)*s)) s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static int set_uint(unsigned *out, const char *key, const char *v, unsigned max, runm_error_t *err)
{
  char *end;
  unsigned long n = strtoul(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n == 0 || n > max)
    return runm_make_error(err, EINVAL, "%s = `%s` is not a number in 1..%u", key, v, max);
  *out = (unsigned)n;
  return 0;
}

const char *shim_bind_mode_name(enum shim_bind_mode m)
{
  return m == SHIM_BIND_KERNEL ? "kernel" : m == SHIM_BIND_FUSE ? "fuse" : "auto";
}

static int set_bind_mode(struct shim_config *cfg, const char *v, runm_error_t *err)
{
  if (strcmp(v, "auto") == 0) cfg->bind_mode = SHIM_BIND_AUTO;
  else if (strcmp(v, "kernel") == 0) cfg->bind_mode = SHIM_BIND_KERNEL;
  else if (strcmp(v, "fuse") == 0) cfg->bind_mode = SHIM_BIND_FUSE;
  else return runm_make_error(err, EINVAL, "bind_mode = `%s`: expected kernel, fuse or auto", v);
  return 0;
}

static int set_key(struct shim_config *cfg, const char *key, const char *v, runm_error_t *err)
{
  if (strcmp(key, "kernel") == 0) snprintf(cfg->kernel, sizeof(cfg->kernel), "%s", v);
  else if (strcmp(key, "initrd") == 0) snprintf(cfg->initrd, sizeof(cfg->initrd), "%s", v);
  else if (strcmp(key, "mbin") == 0) snprintf(cfg->mbin, sizeof(cfg->mbin), "%s", v);
  else if (strcmp(key, "state_dir") == 0) snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", v);
  else if (strcmp(key, "accel") == 0) return runm_accel_parse(v, &cfg->accel, err);
  else if (strcmp(key, "transport") == 0) return runm_transport_parse(v, &cfg->transport, err);
  else if (strcmp(key, "memory_mib") == 0) return set_uint(&cfg->memory_mib, key, v, 1 << 20, err);
  else if (strcmp(key, "vcpus") == 0) return set_uint(&cfg->vcpus, key, v, 256, err);
  else if (strcmp(key, "boot_timeout") == 0) return set_uint(&cfg->boot_timeout_s, key, v, 3600, err);
  else if (strcmp(key, "pool_size") == 0) {
    if (strcmp(v, "0") == 0) cfg->pool_size = 0;
    else return set_uint(&cfg->pool_size, key, v, 16, err);
  } else if (strcmp(key, "pool_idle_timeout") == 0)
    return set_uint(&cfg->pool_idle_timeout_s, key, v, 86400, err);
  else if (strcmp(key, "bind_mode") == 0) return set_bind_mode(cfg, v, err);
  else if (strcmp(key, "vm_backend") == 0) return runm_backend_parse(v, &cfg->vm_backend, err);
  else if (strcmp(key, "share_fs") == 0) return runm_share_fs_parse(v, &cfg->share_fs, err);
  else if (strcmp(key, "libvirt_uri") == 0) {
    if (*v == '\0' || strlen(v) >= sizeof(cfg->libvirt_uri))
      return runm_make_error(err, EINVAL, "libvirt_uri = `%s`: empty or too long", v);
    snprintf(cfg->libvirt_uri, sizeof(cfg->libvirt_uri), "%s", v);
  }
  else if (strcmp(key, "debug") == 0) cfg->debug = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
  else return runm_make_error(err, EINVAL, "unknown setting `%s`", key);
  return 0;
}

int shim_config_parse_file(struct shim_config *cfg, const char *path, runm_error_t *err)
{
  cleanup_file FILE *f = fopen(path, "re");
  char line[PATH_MAX + 64];
  int lineno = 0;

  if (f == NULL) {
    if (errno == ENOENT) return 0;
    return runm_make_error(err, errno, "open config `%s`", path);
  }
  while (fgets(line, sizeof(line), f)) {
    char *s, *eq, *key, *val, *hash;
    lineno++;
    s = trim(line);
    if (*s == '\0' || *s == '#') continue;
    if (*s == '[') {
      if (strcmp(s, "[runm]") != 0)
        return runm_make_error(err, EINVAL, "%s:%d: unknown table `%s`", path, lineno, s);
      continue;
    }
    eq = strchr(s, '=');
    if (eq == NULL) return runm_make_error(err, EINVAL, "%s:%d: expected key = value", path, lineno);
    *eq = '\0';
    key = trim(s);
    val = trim(eq + 1);
    if (*val == '"') {
      char *close = strchr(val + 1, '"');
      if (close == NULL) return runm_make_error(err, EINVAL, "%s:%d: unterminated string", path, lineno);
      *close = '\0';
      val++;
    } else if ((hash = strchr(val, '#'))) {
      *hash = '\0';
      val = trim(val);
    }
    if (set_key(cfg, key, val, err) < 0) return runm_error_wrap(err, "%s:%d", path, lineno);
  }
  return 0;
}

static int env_override(struct shim_config *cfg, runm_error_t *err)
{
  static const struct {
    const char *env, *key;
  } map[] = {{"RUNM_KERNEL", "kernel"},     {"RUNM_INITRD", "initrd"},
             {"RUNM_MBIN", "mbin"},         {"RUNM_STATE_DIR", "state_dir"},
             {"RUNM_ACCEL", "accel"},       {"RUNM_TRANSPORT", "transport"},
             {"RUNM_MEMORY", "memory_mib"}, {"RUNM_CPUS", "vcpus"},
             {"RUNM_DEBUG", "debug"},       {"RUNM_POOL_SIZE", "pool_size"},
             {"RUNM_POOL_IDLE_TIMEOUT", "pool_idle_timeout"},
             {"RUNM_BIND_MODE", "bind_mode"},
             {"RUNM_VM_BACKEND", "vm_backend"},
             {"RUNM_SHARE_FS", "share_fs"},
             {"RUNM_LIBVIRT_URI", "libvirt_uri"}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    const char *v = getenv(map[i].env);
    if (v && *v && set_key(cfg, map[i].key, v, err) < 0)
      return runm_error_wrap(err, "environment %s", map[i].env);
  }
  return 0;
}

static void default_artifact(char *out, size_t len, const char *exe_dir, const char *name)
{
  static const char *const prefixes[] = {"/usr/local/share/runm", "/usr/share/runm"};
  if (out[0]) return;
  if (exe_dir) {
    snprintf(out, len, "%s/../share/runm/%s", exe_dir, name);
    if (access(out, R_OK) == 0) return;
  }
  for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
    snprintf(out, len, "%s/%s", prefixes[i], name);
    if (access(out, R_OK) == 0) return;
  }
}

int shim_config_load(struct shim_config *cfg, const char *exe_dir, runm_error_t *err)
{
  const char *path = getenv("RUNM_CONFIG");
  memset(cfg, 0, sizeof(*cfg));
  cfg->memory_mib = 256;
  cfg->vcpus = 1;
  cfg->boot_timeout_s = 60;
  cfg->pool_idle_timeout_s = 600;
  if (shim_config_parse_file(cfg, path && *path ? path : "/etc/runm/config.toml", err) < 0)
    return -1;
  if (env_override(cfg, err) < 0) return -1;
  default_artifact(cfg->kernel, sizeof(cfg->kernel), exe_dir, "vmlinux");
  default_artifact(cfg->initrd, sizeof(cfg->initrd), exe_dir, "initrd.cpio");
  default_artifact(cfg->mbin, sizeof(cfg->mbin), exe_dir, "mbin.squashfs");
  if (cfg->state_dir[0] == '\0') snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/run/runm");
  if (cfg->libvirt_uri[0] == '\0')
    snprintf(cfg->libvirt_uri, sizeof(cfg->libvirt_uri), "%s", RUNM_LIBVIRT_URI_DEFAULT);
  return 0;
}

unsigned shim_host_cpus(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

void shim_vm_config_base(const struct shim_config *cfg, struct runm_vm_config *vc)
{
  vc->state_root = cfg->state_dir;
  vc->kernel = cfg->kernel;
  vc->initrd = cfg->initrd;
  vc->mbin = cfg->mbin;
  vc->accel = cfg->accel;
  vc->transport = cfg->transport;
  vc->backend = cfg->vm_backend;
  vc->libvirt_uri = cfg->libvirt_uri;
  vc->share_fs = cfg->share_fs;
  vc->mem_mib = cfg->memory_mib;
  vc->vcpus = cfg->vcpus > shim_host_cpus() ? shim_host_cpus() : cfg->vcpus;
  vc->boot_timeout_ms = (int64_t)cfg->boot_timeout_s * 1000;
  vc->debug = cfg->debug;
}

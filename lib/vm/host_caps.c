/* What the host offers: usable hardware virtualisation, vsock; and the
 * choices made from it. /dev/kvm alone is not enough: some hosts expose a
 * paravirtual KVM that hangs ordinary guests, so the CPU must also show
 * vmx/svm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm_backend.h"

static bool cpu_has_virt(const char *cpuinfo)
{
  cleanup_file FILE *f = fopen(cpuinfo, "re");
  char line[4096];

  if (f == NULL) return false;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "flags", 5) != 0) continue;
    for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
      if (strcmp(tok, "vmx") == 0 || strcmp(tok, "svm") == 0) return true;
    return false; /* the first CPU's flags decide */
  }
  return false;
}

void runm_host_caps_probe(struct runm_host_caps *caps, const char *dev_kvm, const char *cpuinfo,
                          const char *dev_vsock)
{
  memset(caps, 0, sizeof(*caps));
  {
    cleanup_close int fd = open(dev_kvm ? dev_kvm : "/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      snprintf(caps->kvm_why, sizeof(caps->kvm_why), "cannot open %s: %s",
               dev_kvm ? dev_kvm : "/dev/kvm", strerror(errno));
    } else if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
      snprintf(caps->kvm_why, sizeof(caps->kvm_why), "KVM API version is not %d",
               KVM_API_VERSION);
    } else if (!cpu_has_virt(cpuinfo ? cpuinfo : "/proc/cpuinfo")) {
      snprintf(caps->kvm_why, sizeof(caps->kvm_why),
               "/dev/kvm exists but the CPU shows no vmx/svm (paravirtual KVM)");
    } else {
      caps->kvm_usable = true;
    }
  }
  {
    cleanup_close int fd = open(dev_vsock ? dev_vsock : "/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
    caps->vsock = fd >= 0;
  }
}

enum runm_accel runm_accel_choose(enum runm_accel want, const struct runm_host_caps *caps)
{
  if (want != RUNM_ACCEL_AUTO) return want;
  return caps->kvm_usable ? RUNM_ACCEL_KVM : RUNM_ACCEL_TCG;
}

enum runm_transport runm_transport_choose(enum runm_transport want,
                                          const struct runm_host_caps *caps)
{
  if (want != RUNM_TRANSPORT_AUTO) return want;
  return caps->vsock ? RUNM_TRANSPORT_VSOCK : RUNM_TRANSPORT_SERIAL;
}

const char *runm_accel_name(enum runm_accel a)
{
  switch (a) {
  case RUNM_ACCEL_KVM: return "kvm";
  case RUNM_ACCEL_TCG: return "tcg";
  case RUNM_ACCEL_AUTO: return "auto";
  default: return "?";
  }
}

const char *runm_transport_name(enum runm_transport t)
{
  switch (t) {
  case RUNM_TRANSPORT_SERIAL: return "serial";
  case RUNM_TRANSPORT_VSOCK: return "vsock";
  case RUNM_TRANSPORT_AUTO: return "auto";
  default: return "?";
  }
}

int runm_accel_parse(const char *s, enum runm_accel *out, runm_error_t *err)
{
  if (s == NULL || strcmp(s, "auto") == 0 || *s == '\0') *out = RUNM_ACCEL_AUTO;
  else if (strcmp(s, "kvm") == 0) *out = RUNM_ACCEL_KVM;
  else if (strcmp(s, "tcg") == 0) *out = RUNM_ACCEL_TCG;
  else return runm_make_error(err, EINVAL, "unknown accelerator `%s` (auto, kvm, tcg)", s);
  return 0;
}

int runm_transport_parse(const char *s, enum runm_transport *out, runm_error_t *err)
{
  if (s == NULL || strcmp(s, "auto") == 0 || *s == '\0') *out = RUNM_TRANSPORT_AUTO;
  else if (strcmp(s, "serial") == 0) *out = RUNM_TRANSPORT_SERIAL;
  else if (strcmp(s, "vsock") == 0) *out = RUNM_TRANSPORT_VSOCK;
  else return runm_make_error(err, EINVAL, "unknown transport `%s` (auto, serial, vsock)", s);
  return 0;
}

const char *runm_backend_name(enum runm_vm_backend_kind b)
{
  return b == RUNM_BACKEND_LIBVIRT ? "libvirt" : "qemu";
}

int runm_backend_parse(const char *s, enum runm_vm_backend_kind *out, runm_error_t *err)
{
  if (s == NULL || *s == '\0' || strcmp(s, "qemu") == 0) *out = RUNM_BACKEND_QEMU;
  else if (strcmp(s, "libvirt") == 0) *out = RUNM_BACKEND_LIBVIRT;
  else return runm_make_error(err, EINVAL, "unknown VM backend `%s` (qemu, libvirt)", s);
  return 0;
}

const char *runm_share_fs_name(enum runm_share_fs f)
{
  return f == RUNM_SHARE_VIRTIOFS ? "virtiofs" : "9p";
}

int runm_share_fs_parse(const char *s, enum runm_share_fs *out, runm_error_t *err)
{
  if (s == NULL || *s == '\0' || strcmp(s, "9p") == 0) *out = RUNM_SHARE_9P;
  else if (strcmp(s, "virtiofs") == 0) *out = RUNM_SHARE_VIRTIOFS;
  else return runm_make_error(err, EINVAL, "unknown share_fs `%s` (9p, virtiofs)", s);
  return 0;
}

const struct runm_vm_backend *runm_vm_backend_get(enum runm_vm_backend_kind kind)
{
  return kind == RUNM_BACKEND_LIBVIRT ? &runm_vm_backend_libvirt : &runm_vm_backend_qemu;
}

bool runm_vm_id_valid(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > RUNM_VM_ID_MAX) return false;
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
        (id[0] >= '0' && id[0] <= '9')))
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

int runm_vm_share_check(const char *path, runm_error_t *err)
{
  size_t n = path ? strlen(path) : 0;
  if (n == 0 || path[0] != '/')
    return runm_make_error(err, EINVAL, "share path `%s` is not absolute", path ? path : "");
  if (n > 1024) return runm_make_error(err, ENAMETOOLONG, "share path `%.64s...` is too long", path);
  if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") ||
      (n >= 2 && strcmp(path + n - 2, "/.") == 0) || (n >= 3 && strcmp(path + n - 3, "/..") == 0))
    return runm_make_error(err, EINVAL, "share path `%s` is not normalised", path);
  for (const char *p = path; *p; p++)
    if (*p <= ' ' || *p == '"' || *p == ',' || *p == 0x7f)
      return runm_make_error(err, EINVAL,
                             "share path `%s` contains a space, comma, quote or control character",
                             path);
  return 0;
}

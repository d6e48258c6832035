/* The shim's settings (host-shim/config.c): the VM backend keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static void write_conf(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) abort();
}

int main(void)
{
  char path[] = "/tmp/runm-test-config.XXXXXX";
  int fd = mkstemp(path);
  struct shim_config cfg;
  runm_error_t err = NULL;

  if (fd < 0) abort();
  close(fd);
  unsetenv("RUNM_VM_BACKEND");
  unsetenv("RUNM_LIBVIRT_URI");
  write_conf(path, "");
  setenv("RUNM_CONFIG", path, 1);
  is_int(shim_config_load(&cfg, NULL, &err), 0, "empty config loads");
  ok(cfg.vm_backend == RUNM_BACKEND_QEMU, "default backend: qemu");
  ok(cfg.share_fs == RUNM_SHARE_9P, "default share_fs: 9p");
  is_str(cfg.libvirt_uri, "qemu:///system", "default libvirt_uri: qemu:///system");

  write_conf(path, "[runm]\nvm_backend = \"libvirt\"\nlibvirt_uri = \"qemu:///embed?root=/var/lib/runm/libvirt\"\n");
  is_int(shim_config_load(&cfg, NULL, &err), 0, "libvirt config loads");
  ok(cfg.vm_backend == RUNM_BACKEND_LIBVIRT, "vm_backend = libvirt");
  is_str(cfg.libvirt_uri, "qemu:///embed?root=/var/lib/runm/libvirt", "libvirt_uri as written");

  setenv("RUNM_VM_BACKEND", "qemu", 1);
  setenv("RUNM_LIBVIRT_URI", "qemu:///session", 1);
  is_int(shim_config_load(&cfg, NULL, &err), 0, "environment overrides load");
  ok(cfg.vm_backend == RUNM_BACKEND_QEMU, "RUNM_VM_BACKEND overrides the file");
  is_str(cfg.libvirt_uri, "qemu:///session", "RUNM_LIBVIRT_URI overrides the file");
  unsetenv("RUNM_VM_BACKEND");
  unsetenv("RUNM_LIBVIRT_URI");

  write_conf(path, "share_fs = \"virtiofs\"\n");
  is_int(shim_config_load(&cfg, NULL, &err), 0, "share_fs config loads");
  ok(cfg.share_fs == RUNM_SHARE_VIRTIOFS, "share_fs = virtiofs");
  setenv("RUNM_SHARE_FS", "9p", 1);
  is_int(shim_config_load(&cfg, NULL, &err), 0, "RUNM_SHARE_FS loads");
  ok(cfg.share_fs == RUNM_SHARE_9P, "RUNM_SHARE_FS overrides the file");
  setenv("RUNM_SHARE_FS", "nfs", 1);
  ok(shim_config_load(&cfg, NULL, &err) < 0 && err && strstr(err->msg, "RUNM_SHARE_FS") &&
         strstr(err->msg, "share_fs `nfs`"),
     "a bad RUNM_SHARE_FS is an error naming the variable and the value");
  runm_error_release(&err);
  unsetenv("RUNM_SHARE_FS");

  write_conf(path, "vm_backend = \"xen\"\n");
  ok(shim_config_load(&cfg, NULL, &err) < 0 && err && strstr(err->msg, "unknown VM backend `xen`") &&
         strstr(err->msg, path),
     "an unknown backend is an error naming it and the file");
  runm_error_release(&err);
  setenv("RUNM_VM_BACKEND", "lxc", 1);
  write_conf(path, "");
  ok(shim_config_load(&cfg, NULL, &err) < 0 && err && strstr(err->msg, "RUNM_VM_BACKEND"),
     "a bad RUNM_VM_BACKEND is an error naming the variable");
  runm_error_release(&err);
  unsetenv("RUNM_VM_BACKEND");
  write_conf(path, "libvirt_uri = \"\"\n");
  ok(shim_config_load(&cfg, NULL, &err) < 0 && err && strstr(err->msg, "libvirt_uri"),
     "an empty libvirt_uri is an error");
  runm_error_release(&err);
  unlink(path);
  return tap_done();
}

/* The VM launcher's pure parts: QEMU command line, accelerator and transport
 * choice, id validation, console tail, state dir removal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "tap.h"
#include "vm_backend.h"

static int argv_has(char **argv, const char *a, const char *b)
{
  for (size_t i = 0; argv[i]; i++)
    if (strcmp(argv[i], a) == 0 && (b == NULL || (argv[i + 1] && strcmp(argv[i + 1], b) == 0)))
      return 1;
  return 0;
}

static int argv_has_sub(char **argv, const char *a, const char *sub)
{
  for (size_t i = 0; argv[i]; i++)
    if (strcmp(argv[i], a) == 0 && argv[i + 1] && strstr(argv[i + 1], sub)) return 1;
  return 0;
}

static void write_file(const char *path, const char *s)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, s, strlen(s)) < 0) abort();
  close(fd);
}

int main(void)
{
  struct runm_vm_config cfg = {.id = "t1", .kernel = "/k/vmlinux", .initrd = "/k/initrd.cpio",
                               .mbin = "/k/mbin.squashfs", .mem_mib = 512, .vcpus = 2};
  struct runm_vm_plan plan = {.accel = RUNM_ACCEL_TCG, .transport = RUNM_TRANSPORT_SERIAL};
  char **argv = NULL;
  runm_error_t err = NULL;
  char dir[] = "/tmp/runm-test-vm.XXXXXX";
  char p[512];
  struct runm_host_caps caps;
  enum runm_accel a;
  enum runm_transport t;

  snprintf(plan.console_log, sizeof(plan.console_log), "/s/vm/t1/console.log");
  snprintf(plan.dir, sizeof(plan.dir), "/s/vm/t1");
  snprintf(plan.append, sizeof(plan.append), "console=ttyS0 runm.id=t1");

  /* QEMU argv, serial transport, TCG */
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "argv builds");
  is_str(argv[0], "qemu-system-x86_64", "default QEMU binary");
  ok(argv_has_sub(argv, "-M", "microvm,acpi=off"), "microvm without ACPI");
  ok(argv_has(argv, "-accel", "tcg,tb-size=96"), "TCG accelerator, translation cache capped at 96 MiB");
  ok(!argv_has(argv, "-cpu", "host"), "no -cpu host under TCG");
  ok(argv_has(argv, "-no-reboot", NULL), "-no-reboot so a guest reboot ends QEMU");
  ok(argv_has(argv, "-nodefaults", NULL), "-nodefaults");
  ok(argv_has(argv, "-m", "512") && argv_has(argv, "-smp", "2"), "memory and vCPUs");
  ok(argv_has(argv, "-kernel", "/k/vmlinux") && argv_has(argv, "-initrd", "/k/initrd.cpio"),
     "kernel and initrd");
  ok(argv_has_sub(argv, "-drive", "file=/k/mbin.squashfs,format=raw,if=none,readonly=on"),
     "mbin is a read-only raw drive");
  ok(argv_has_sub(argv, "-chardev", "socket,id=rpc,fd=3,server=on"),
     "RPC channel is the passed listening socket");
  ok(argv_has_sub(argv, "-device", "virtserialport,chardev=rpc,name=runm.rpc"),
     "virtio-serial port named runm.rpc");
  ok(argv_has(argv, "-append", "console=ttyS0 runm.id=t1"), "kernel command line from the plan");
  ok(argv_has_sub(argv, "-chardev", "stdio,id=console,signal=off") &&
         !argv_has_sub(argv, "-chardev", "file,"),
     "console goes to QEMU's stdout (a pipe), never straight to a file");
  ok(argv_has(argv, "-serial", "chardev:console"), "the serial port is the console chardev");
  ok(argv_has(argv, "-fw_cfg", "name=opt/runm/state-dir,string=/s/vm/t1"),
     "the command line names the state dir");
  ok(argv_has(argv, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"),
     "QEMU's seccomp policy is on, with every deny option");
  ok(!argv_has_sub(argv, "-device", "vsock"), "no vsock device on the serial transport");
  runm_argv_free(argv);
  argv = NULL;

  /* KVM and vsock */
  plan.accel = RUNM_ACCEL_KVM;
  plan.transport = RUNM_TRANSPORT_VSOCK;
  plan.vsock_cid = 77;
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, -1, &argv, &err), 0, "kvm/vsock argv builds");
  ok(argv_has(argv, "-accel", "kvm") && argv_has(argv, "-cpu", "host"), "KVM with -cpu host");
  ok(argv_has_sub(argv, "-device", "vhost-vsock-device,guest-cid=77"), "vsock device with CID");
  ok(!argv_has_sub(argv, "-chardev", "id=rpc"), "no serial RPC chardev with vsock");
  runm_argv_free(argv);
  argv = NULL;

  /* shares: 9p devices with tags runmN, read-only enforced by QEMU */
  {
    /* sh[1] is a runm-bindfs mirror: QEMU exports the mirror (path); the
     * guest mounts it at guest_path. */
    struct runm_vm_share sh[2] = {{.path = "/srv/bundles", .readonly = false},
                                  {.path = "/srv/vol", .readonly = true, .guest_path = "/data/vol"}};
    cfg.shares = sh;
    cfg.n_shares = 2;
    is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "argv with shares");
    ok(argv_has(argv, "-fsdev", "local,id=fs0,path=/srv/bundles,security_model=passthrough,multidevs=remap"),
       "rw share is a passthrough fsdev");
    ok(argv_has(argv, "-fsdev",
                "local,id=fs1,path=/srv/vol,security_model=passthrough,multidevs=remap,readonly=on"),
       "ro share is read-only at the fsdev");
    ok(argv_has(argv, "-device", "virtio-9p-device,fsdev=fs1,mount_tag=runm1"), "9p tag runm1");
    ok(!argv_has_sub(argv, "-object", "memory-backend-memfd"), "9p: guest RAM is QEMU's own");
    runm_argv_free(argv);
    argv = NULL;
    /* share_fs = virtiofs: vhost-user-fs devices on virtiofsd's sockets,
     * guest RAM a shared memfd, modern virtio-mmio, no 9p. */
    cfg.share_fs = RUNM_SHARE_VIRTIOFS;
    is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "virtiofs argv builds");
    ok(argv_has(argv, "-M", "microvm,acpi=off,isa-serial=on,memory-backend=mem") &&
           argv_has(argv, "-object", "memory-backend-memfd,id=mem,size=512M,share=on"),
       "virtiofs: guest RAM is a shared memfd of -m's size");
    ok(argv_has(argv, "-global", "virtio-mmio.force-legacy=off"), "virtiofs: modern virtio-mmio");
    ok(argv_has(argv, "-chardev", "socket,id=vfs1,path=/s/vm/t1/vfs1.sock") &&
           argv_has(argv, "-device", "vhost-user-fs-device,chardev=vfs1,tag=runm1"),
       "virtiofs: share 1 is a vhost-user-fs device on <dir>/vfs1.sock, tag runm1");
    ok(!argv_has(argv, "-fsdev", NULL) && !argv_has_sub(argv, "-device", "virtio-9p"), "virtiofs: no 9p");
    runm_argv_free(argv);
    argv = NULL;
    cfg.share_fs = RUNM_SHARE_9P;
    {
      enum runm_share_fs f;
      ok(runm_share_fs_parse("virtiofs", &f, &err) == 0 && f == RUNM_SHARE_VIRTIOFS &&
             runm_share_fs_parse("9p", &f, &err) == 0 && f == RUNM_SHARE_9P,
         "share_fs parses 9p and virtiofs");
      ok(runm_share_fs_parse("nfs", &f, &err) < 0 && strstr(err->msg, "share_fs `nfs`"),
         "an unknown share_fs is refused, naming it");
      runm_error_release(&err);
    }
    cfg.shares = NULL;
    cfg.n_shares = 0;
    ok(runm_vm_share_check("/a/b", &err) == 0, "plain share path ok");
    ok(runm_vm_share_check("a/b", &err) < 0 && strstr(err->msg, "absolute"), "relative refused");
    runm_error_release(&err);
    ok(runm_vm_share_check("/a/../b", &err) < 0, "dot-dot refused");
    runm_error_release(&err);
    ok(runm_vm_share_check("/a b", &err) < 0 && strstr(err->msg, "space"), "space refused");
    runm_error_release(&err);
    ok(runm_vm_share_check("/a,b", &err) < 0, "comma refused");
    runm_error_release(&err);
  }

  /* QEMU splits options on commas: refuse such paths instead of misparsing. */
  cfg.mbin = "/k/a,b.squashfs";
  ok(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err) < 0 && err &&
         strstr(err->msg, "comma"),
     "a path with a comma is refused");
  runm_error_release(&err);
  cfg.mbin = "/k/mbin.squashfs";

  /* Host capability probing with injected files. */
  ok(mkdtemp(dir) != NULL, "temp dir");
  snprintf(p, sizeof(p), "%s/cpuinfo-novmx", dir);
  write_file(p, "processor\t: 0\nflags\t\t: fpu vme de pse hypervisor\n");
  runm_host_caps_probe(&caps, "/dev/null", p, "/nonexistent-vsock");
  ok(!caps.kvm_usable, "a device that is not KVM is not usable");
  ok(!caps.vsock, "no vsock without the device");
  runm_host_caps_probe(&caps, "/nonexistent-kvm", p, "/nonexistent-vsock");
  ok(!caps.kvm_usable && strstr(caps.kvm_why, "cannot open"), "missing /dev/kvm is explained");
  if (access("/dev/kvm", R_OK | W_OK) == 0) {
    runm_host_caps_probe(&caps, "/dev/kvm", p, "/nonexistent-vsock");
    ok(!caps.kvm_usable && strstr(caps.kvm_why, "vmx/svm"),
       "/dev/kvm without vmx/svm in cpuinfo is not usable (paravirtual KVM)");
  } else {
    ok(1, "# skip /dev/kvm not present");
  }
  caps.kvm_usable = false;
  caps.vsock = false;
  is_int(runm_accel_choose(RUNM_ACCEL_AUTO, &caps), RUNM_ACCEL_TCG, "auto falls back to TCG");
  caps.kvm_usable = true;
  is_int(runm_accel_choose(RUNM_ACCEL_AUTO, &caps), RUNM_ACCEL_KVM, "auto picks usable KVM");
  is_int(runm_accel_choose(RUNM_ACCEL_TCG, &caps), RUNM_ACCEL_TCG, "override to TCG wins");
  is_int(runm_transport_choose(RUNM_TRANSPORT_AUTO, &caps), RUNM_TRANSPORT_SERIAL,
         "auto transport is serial without vsock");
  caps.vsock = true;
  is_int(runm_transport_choose(RUNM_TRANSPORT_AUTO, &caps), RUNM_TRANSPORT_VSOCK,
         "auto transport is vsock where the host has it");
  ok(runm_accel_parse("kvm", &a, &err) == 0 && a == RUNM_ACCEL_KVM, "parse kvm");
  ok(runm_accel_parse("xen", &a, &err) < 0 && strstr(err->msg, "xen"), "unknown accel named");
  runm_error_release(&err);
  ok(runm_transport_parse("vsock", &t, &err) == 0 && t == RUNM_TRANSPORT_VSOCK, "parse vsock");

  /* ids become path components and QEMU -name values */
  ok(runm_vm_id_valid("abc-1_2.3"), "plain id is valid");
  ok(!runm_vm_id_valid(""), "empty id is invalid");
  ok(!runm_vm_id_valid("../x"), "path traversal id is invalid");
  ok(!runm_vm_id_valid("a/b"), "slash in id is invalid");
  ok(!runm_vm_id_valid(".hidden"), "id starting with a dot is invalid");
  ok(!runm_vm_id_valid("a,b"), "comma in id is invalid");
  ok(!runm_vm_id_valid("0123456789012345678901234567890123456789012345678901234567890123456789"),
     "id over 64 chars is invalid");

  /* console tail: whole lines, hostile bytes neutralised */
  snprintf(p, sizeof(p), "%s/console.log", dir);
  write_file(p, "line one\nline two\x1b[31m red\nlast line\n");
  {
    cleanup_free char *tail = runm_vm_console_tail(p, 22);
    ok(tail && strcmp(tail, "last line") == 0, "tail starts at a whole line");
    cleanup_free char *all = runm_vm_console_tail(p, 4096);
    ok(all && !strchr(all, '\x1b') && strstr(all, "line two?[31m red"),
       "escape sequences are neutralised");
  }

  /* state dir removal */
  snprintf(p, sizeof(p), "%s/vmdir", dir);
  mkdir(p, 0700);
  {
    char f[600];
    snprintf(f, sizeof(f), "%s/rpc.sock", p);
    write_file(f, "x");
    snprintf(f, sizeof(f), "%s/console.log", p);
    write_file(f, "x");
  }
  is_int(runm_vm_remove_dir(p, &err), 0, "state dir removed");
  ok(access(p, F_OK) != 0, "state dir is gone");
  is_int(runm_vm_remove_dir(p, &err), 0, "removing a missing dir is fine");

  snprintf(p, sizeof(p), "%s/cpuinfo-novmx", dir);
  unlink(p);
  snprintf(p, sizeof(p), "%s/console.log", dir);
  unlink(p);
  rmdir(dir);
  return tap_done();
}

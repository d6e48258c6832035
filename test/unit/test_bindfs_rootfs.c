/* The shim's bind mounts by bind_mode (host-shim/rootfs.c, fusebind.c),
 * against the real kernel and the built runm-bindfs (next to this test's
 * build dir, in ../bin): kernel binds, runm-bindfs binds and volumes, the
 * record, cleanup, and auto's fallback when the kernel refuses a bind (a
 * caller without CAP_SYS_ADMIN: mount(2) says EPERM; the helper it starts
 * is root's and mounts). Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusebind.h"
#include "rootfs.h"
#include "tap.h"


static char tmp[] = "/tmp/runm-bindfs-rootfs.XXXXXX";
static char bin_dir[PATH_MAX];

/* The fstype mounted at exactly mp ("" when none). */
static void fstype_at(const char *mp, char *out, size_t len)
{
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char line[4096];
  out[0] = '\0';
  while (f && fgets(line, sizeof(line), f)) {
    char point[PATH_MAX], *dash = strstr(line, " - ");
    if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && strcmp(point, mp) == 0)
      sscanf(dash + 3, "%63s", out);
  }
  if (f) fclose(f);
  (void)len;
}

static bool exists(const char *p)
{
  return access(p, F_OK) == 0;
}

static void write_file(const char *p, const char *s)
{
  FILE *f = fopen(p, "we");
  if (f) {
    fputs(s, f);
    fclose(f);
  }
}

static void path(char *out, const char *a, const char *b)
{
  snprintf(out, PATH_MAX, "%s/%s", a, b);
}

static const char *const bind_rw[] = {"rbind", "rw"};
static const char *const bind_ro[] = {"rbind", "ro"};

static void test_kernel(const char *state, const char *bundle, const char *src)
{
  runm_error_t err = NULL;
  char target[PATH_MAX], type[64];
  struct rootfs_mount m = {"bind", src, bind_rw, 2};
  path(target, bundle, "rootfs");
  is_int(rootfs_mount(bundle, &m, 1, SHIM_BIND_KERNEL, NULL, &err), 0, "kernel: bind mounts");
  fstype_at(target, type, sizeof(type));
  ok(type[0] && strncmp(type, "fuse", 4) != 0, "kernel: <bundle>/rootfs is the kernel's bind");
  is_int(rootfs_unmount(bundle, &err), 0, "kernel: unmounts");
  fstype_at(target, type, sizeof(type));
  is_str(type, "", "kernel: nothing left mounted");
  runm_error_release(&err);
  (void)state;
}

static void test_fuse(const char *state, const char *bundle, const char *src)
{
  runm_error_t err = NULL;
  struct fusebind fb;
  struct runm_logger log = {.component = "test", .max_level = RUNM_LOG_ERROR};
  char target[PATH_MAX], type[64], p[PATH_MAX], rec[PATH_MAX], vdir[PATH_MAX];
  struct rootfs_mount m = {"bind", src, bind_ro, 2};
  struct runm_vm_share share = {.path = src, .readonly = false};

  path(target, bundle, "rootfs");
  is_int(fusebind_init(&fb, state, "vm-fuse", bin_dir, &log, &err), 0, "fuse: init");
  if (!ok(rootfs_mount(bundle, &m, 1, SHIM_BIND_FUSE, &fb, &err) == 0, "fuse: rootfs mounts"))
    printf("#   %s\n", err ? err->msg : "?");
  fstype_at(target, type, sizeof(type));
  is_str(type, "fuse.runm-bindfs", "fuse: <bundle>/rootfs is a runm-bindfs mount");
  path(p, target, "hello");
  ok(exists(p), "fuse: the source's file shows");
  path(p, target, "new");
  ok(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS, "fuse: a ro bind refuses writes (EROFS)");
  snprintf(rec, sizeof(rec), "%s/fuse/vm-fuse/mounts", state);
  ok(exists(rec), "fuse: the mount is recorded");

  ok(fusebind_volume(&fb, &share, &err) == 0, "fuse: a volume mounts");
  snprintf(vdir, sizeof(vdir), "%s/fuse/vm-fuse/v0", state);
  is_str(share.path, vdir, "fuse: the share now points at the mirror");
  is_str(share.guest_path, src, "fuse: ...and the guest mounts it at the source's path");
  fstype_at(vdir, type, sizeof(type));
  is_str(type, "fuse.runm-bindfs", "fuse: the volume is a runm-bindfs mount");
  path(p, vdir, "from-volume");
  write_file(p, "v");
  path(p, src, "from-volume");
  ok(exists(p), "fuse: a write through the volume reaches the source");
  unlink(p);

  /* What `delete` does for a dead shim: only the record to go by. */
  is_int(fusebind_cleanup(state, "vm-fuse", &log, &err), 0, "fuse: cleanup");
  fstype_at(target, type, sizeof(type));
  is_str(type, "", "fuse: the rootfs is unmounted");
  fstype_at(vdir, type, sizeof(type));
  is_str(type, "", "fuse: the volume is unmounted");
  ok(!exists(vdir) && !exists(rec), "fuse: mount point, record and dir are gone");
  snprintf(p, sizeof(p), "%s/fuse", state);
  ok(!exists(p), "fuse: the empty fuse/ dir is gone");
  is_int(fusebind_cleanup(state, "vm-fuse", &log, &err), 0, "fuse: cleanup again is a no-op");
  runm_error_release(&err);
}

static void test_fuse_errors(const char *state, const char *bundle)
{
  runm_error_t err = NULL;
  struct fusebind fb;
  struct runm_logger log = {.component = "test", .max_level = RUNM_LOG_ERROR};
  char target[PATH_MAX], type[64], missing[PATH_MAX];
  struct rootfs_mount m = {"bind", missing, bind_rw, 2};

  snprintf(missing, sizeof(missing), "%s/no-such-snapshot", tmp);
  path(target, bundle, "rootfs");
  fusebind_init(&fb, state, "vm-bad", bin_dir, &log, &err);
  if (!ok(rootfs_mount(bundle, &m, 1, SHIM_BIND_FUSE, &fb, &err) < 0 && err &&
              strstr(err->msg, "does not exist"),
          "fuse: a missing source fails with runm-bindfs's message"))
    printf("#   %s\n", err ? err->msg : "(no error)");
  runm_error_release(&err);
  fstype_at(target, type, sizeof(type));
  is_str(type, "", "fuse: ...and nothing is mounted");
  snprintf(fb.exe, sizeof(fb.exe), "%s/no-such-helper", tmp);
  m.source = tmp;
  ok(rootfs_mount(bundle, &m, 1, SHIM_BIND_FUSE, &fb, &err) < 0 && err && strstr(err->msg, "runm-bindfs"),
     "fuse: a missing helper is an error naming runm-bindfs");
  runm_error_release(&err);
  is_int(fusebind_cleanup(state, "vm-bad", &log, &err), 0, "fuse: cleanup after failures");
  runm_error_release(&err);
}

/* Drops CAP_SYS_ADMIN from this process's effective and permitted sets
 * (not the bounding set: a root program it execs has it again). */
static int drop_sys_admin(void)
{
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  unsigned i = CAP_SYS_ADMIN / 32, bit = 1u << (CAP_SYS_ADMIN % 32);
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[i].effective &= ~bit;
  d[i].permitted &= ~bit;
  return (int)syscall(SYS_capset, &h, d);
}

/* auto: where the kernel refuses the bind (EPERM), runm-bindfs makes it. */
static void test_auto_fallback(const char *state, const char *src)
{
  runm_error_t err = NULL;
  char bundle[PATH_MAX], target[PATH_MAX], type[64], ustate[PATH_MAX];
  struct runm_logger log = {.component = "test", .max_level = RUNM_LOG_ERROR};
  int status = -1;
  pid_t pid;

  path(bundle, tmp, "ubundle");
  path(ustate, tmp, "ustate");
  mkdir(bundle, 0755);
  mkdir(ustate, 0700);
  path(target, bundle, "rootfs");
  pid = fork();
  if (pid == 0) {
    struct fusebind fb;
    struct rootfs_mount m = {"bind", src, bind_rw, 2};
    runm_error_t e = NULL;
    if (drop_sys_admin() < 0) _exit(3);
    mkdir(target, 0755);
    if (mount(src, target, NULL, MS_BIND, NULL) == 0 || errno != EPERM) _exit(6);
    if (fusebind_init(&fb, ustate, "vm-auto", bin_dir, &log, &e) < 0) _exit(4);
    if (rootfs_mount(bundle, &m, 1, SHIM_BIND_AUTO, &fb, &e) < 0) {
      printf("#   child: %s\n", e->msg);
      fflush(stdout);
      _exit(5);
    }
    _exit(0);
  }
  waitpid(pid, &status, 0);
  is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
         "auto: without CAP_SYS_ADMIN (mount(2): EPERM) rootfs_mount succeeds");
  fstype_at(target, type, sizeof(type));
  is_str(type, "fuse.runm-bindfs", "auto: ...through runm-bindfs");
  is_int(fusebind_cleanup(ustate, "vm-auto", &log, &err), 0, "auto: cleanup by the record");
  fstype_at(target, type, sizeof(type));
  is_str(type, "", "auto: nothing left mounted");
  runm_error_release(&err);
  (void)state;
}

/* Leftovers of a failed check first (lazily: nothing may recurse into a
 * mirror and delete its source), then the tree, never crossing a mount. */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int remove_tmp(void)
{
  const char *const mps[] = {"bundle/rootfs", "ubundle/rootfs", "state/fuse/vm-fuse/v0"};
  char p[PATH_MAX];
  for (size_t i = 0; i < sizeof(mps) / sizeof(mps[0]); i++) {
    path(p, tmp, mps[i]);
    umount2(p, MNT_DETACH);
  }
  return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int main(void)
{
  char state[PATH_MAX], bundle[PATH_MAX], src[PATH_MAX], p[PATH_MAX], self[PATH_MAX];
  ssize_t n;

  if (geteuid() != 0) {
    printf("ok 1 # skip: needs root (mounts)\n1..1\n");
    return 0;
  }
  /* build/test/test_x -> build/bin */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';
  *strrchr(self, '/') = '\0';
  snprintf(bin_dir, sizeof(bin_dir), "%s/../bin", self);
  if (!ok(access(bin_dir, F_OK) == 0 && mkdtemp(tmp) != NULL, "setup")) return tap_done();
  chmod(tmp, 0755);
  path(state, tmp, "state");
  path(bundle, tmp, "bundle");
  path(src, tmp, "src");
  mkdir(state, 0711);
  mkdir(bundle, 0711);
  mkdir(src, 0755);
  chmod(src, 0777);
  path(p, src, "hello");
  write_file(p, "hi");

  test_kernel(state, bundle, src);
  test_fuse(state, bundle, src);
  test_fuse_errors(state, bundle);
  test_auto_fallback(state, src);

  ok(remove_tmp() == 0 && !exists(tmp), "temp dir removed, nothing mounted in it");
  return tap_done();
}

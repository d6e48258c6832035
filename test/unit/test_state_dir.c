/* State dir checks (runm_state_dir_check, runm_vm_dir_check) and the
 * console's size cap (vm_console.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "tap.h"
#include "vm.h"

static int refused(const char *path, bool create, const char *want)
{
  runm_error_t err = NULL;
  int r = runm_state_dir_check(path, create, &err);
  int hit = r < 0 && err && strstr(err->msg, want) != NULL;
  if (!hit) printf("#   got %d: %s\n", r, err ? err->msg : "(no error)");
  runm_error_release(&err);
  return hit;
}

static void check_dirs(const char *base)
{
  char p[512], q[512];
  runm_error_t err = NULL;
  struct stat st;

  snprintf(p, sizeof(p), "%s/new", base);
  is_int(runm_state_dir_check(p, true, &err), 0, "a missing dir is made");
  ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0700, "made 0700");
  is_int(runm_state_dir_check(p, true, &err), 0, "an existing own 0700 dir passes");
  is_int(runm_vm_dir_check(p, &err), 0, "a 0700 VM dir passes");
  chmod(p, 0755);
  is_int(runm_state_dir_check(p, false, &err), 0, "0755 passes for a state root (shim's 0711 too)");
  ok(runm_vm_dir_check(p, &err) < 0 && strstr(err->msg, "not 0700"), "a 0755 VM dir is refused");
  runm_error_release(&err);
  chmod(p, 0777);
  ok(refused(p, true, "group or others may write"), "a world-writable dir is refused");
  chmod(p, 0770);
  ok(refused(p, false, "mode 0770"), "a group-writable dir is refused, naming the mode");
  chmod(p, 0700);

  snprintf(q, sizeof(q), "%s/link", base);
  if (symlink(p, q) < 0) abort();
  ok(refused(q, true, "is a symlink"), "a symlink to our own dir is refused");

  snprintf(q, sizeof(q), "%s/file", base);
  close(open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ok(refused(q, true, "not a directory"), "a file is refused");

  snprintf(q, sizeof(q), "%s/theirs", base);
  if (mkdir(q, 0700) < 0) abort();
  if (geteuid() == 0 && chown(q, 65534, 65534) == 0) {
    ok(refused(q, true, "owned by uid 65534"), "a dir another user made first is refused");
  } else {
    ok(1, "a dir another user made first is refused # SKIP needs root");
  }
  ok(refused("", false, "no state dir"), "an empty path is refused");
}

/* Feeds 5 MiB through the console pipe: the file stays under the cap and
 * keeps the newest bytes. */
static void check_console(const char *base)
{
  char dir[512], p[600];
  struct runm_vm_console *c = NULL;
  int cw = -1, lw = -1;
  runm_error_t err = NULL;
  struct stat st;
  char line[128];
  size_t total = 0;

  snprintf(dir, sizeof(dir), "%s/vm1", base);
  if (mkdir(dir, 0700) < 0) abort();
  is_int(runm_vm_console_start(dir, &c, &cw, &lw, &err), 0, "console keeper starts");
  for (unsigned i = 0; total < 5u << 20; i++) {
    int n = snprintf(line, sizeof(line), "line %08u %s\n", i,
                     "flood flood flood flood flood flood flood flood flood flood");
    if (write(cw, line, (size_t)n) != n) abort();
    total += (size_t)n;
  }
  if (write(cw, "the last line\n", 14) != 14 || write(lw, "qemu: warning\n", 14) != 14) abort();
  for (int i = 0; i < 3000; i++) { /* 30 MiB of QEMU warnings */
    char big[10240];
    memset(big, 'w', sizeof(big));
    if (write(lw, big, sizeof(big)) != (ssize_t)sizeof(big)) abort();
  }
  if (write(lw, "\nqemu: last\n", 12) != 12) abort();
  close(cw);
  close(lw);
  runm_vm_console_stop(c);
  snprintf(p, sizeof(p), "%s/console.log", dir);
  ok(stat(p, &st) == 0 && st.st_size <= (off_t)RUNM_VM_CONSOLE_MAX && st.st_size > 0,
     "5 MiB of console output: console.log stays <= 1 MiB");
  printf("# console.log: %lld bytes\n", (long long)st.st_size);
  {
    cleanup_free char *tail = runm_vm_console_tail(p, 200);
    ok(tail && strstr(tail, "the last line"), "the newest console bytes are kept");
  }
  snprintf(p, sizeof(p), "%s/qemu.log", dir);
  ok(stat(p, &st) == 0 && st.st_size <= (off_t)RUNM_VM_QEMU_LOG_MAX, "30 MiB of QEMU output: qemu.log stays <= 64 KiB");
  {
    cleanup_free char *tail = runm_vm_console_tail(p, 100);
    ok(tail && strstr(tail, "qemu: last"), "the newest QEMU output is kept");
  }
  snprintf(p, sizeof(p), "%s/console.log.tmp", dir);
  ok(access(p, F_OK) < 0, "no temporary file left");
}

int main(void)
{
  char base[] = "/tmp/runm-test-statedir.XXXXXX";
  char cmd[600];
  if (mkdtemp(base) == NULL) abort();
  check_dirs(base);
  check_console(base);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
  if (system(cmd) != 0) printf("# cleanup failed\n");
  return tap_done();
}

/* runm-linux-mounter main: runs the boot steps in order; on the first
 * failure prints one line on the console and reboots, which with
 * reboot=t and QEMU -no-reboot ends the VM instead of hanging it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "mounter.h"

#define PROG "runm-linux-mounter"

static uint64_t boottime_ns(void)
{
  return (uint64_t)runm_clock_ns(CLOCK_BOOTTIME);
}

/* One write, so the line is never interleaved with kernel output. */
static void report(const runm_error_t err)
{
  cleanup_free char *msg = runm_error_string(err);
  char line[1024];
  int fd = 2, n;

  n = snprintf(line, sizeof(line), PROG ": %s\n", msg ? msg : "error");
  if (n < 0) return;
  if ((size_t)n >= sizeof(line)) {
    n = sizeof(line) - 1;
    line[n - 1] = '\n';
  }
  if (fcntl(fd, F_GETFD) < 0) fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0 && write(fd, line, (size_t)n) < 0) {
    /* Nowhere else to report to. */
  }
}

static int boot(uint64_t start_ns, runm_error_t *err)
{
  struct mounter_config cfg;
  char dev[64];
  int ret;

  ret = mounter_mount_kernel_fs(err);
  if (ret < 0) return ret;
  mounter_open_console();
  ret = mounter_load_modules(err);
  if (ret < 0) return ret;
  ret = mounter_read_config(&cfg, err);
  if (ret < 0) return ret;
  ret = mounter_find_mbin(cfg.mbin, dev, sizeof(dev), err);
  if (ret < 0) return ret;
  ret = mounter_build_newroot(dev, err);
  if (ret < 0) return ret;
  ret = mounter_switch_root(err);
  if (ret < 0) return ret;
  ret = mounter_enter_time_ns(MOUNTER_MONOTONIC_OFFSET_S, err);
  if (ret < 0) return ret;
  return mounter_exec_init(cfg.init, start_ns, err);
}

int main(void)
{
  uint64_t start_ns = boottime_ns();
  cleanup_error runm_error_t err = NULL;

  /* It mounts over and deletes /: refuse to run anywhere but as a VM's
   * first process. */
  if (getpid() != 1) {
    fputs(PROG ": must run as PID 1 (the initramfs /init)\n", stderr);
    return 1;
  }
  mounter_open_console();
  umask(022);

  boot(start_ns, &err); /* returns only on failure */
  report(err);
  sync();
  reboot(RB_AUTOBOOT);
  return 1;
}

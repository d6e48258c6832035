/* Guest system setup before serving: settings from the kernel command line,
 * the mounts runc needs, the clock (the network is net.c's). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "cmdline_keys.h"
#include "init.h"

int init_config_parse(struct init_config *cfg, const char *cmdline, runm_error_t *err)
{
  char num[32], dbg[8];
  int r;

  memset(cfg, 0, sizeof(*cfg));
  snprintf(cfg->transport, sizeof(cfg->transport), "serial");
  snprintf(cfg->port_name, sizeof(cfg->port_name), "runm.rpc");
  cfg->vsock_port = 1024;

  if (runm_cmdline_get(cmdline, RUNM_KEY_ID, cfg->vm_id, sizeof(cfg->vm_id)) < 0)
    return runm_make_error(err, EINVAL, RUNM_KEY_ID " is too long");
  if (runm_cmdline_get(cmdline, RUNM_KEY_TRANSPORT, cfg->transport, sizeof(cfg->transport)) < 0 ||
      (strcmp(cfg->transport, "serial") != 0 && strcmp(cfg->transport, "vsock") != 0))
    return runm_make_error(err, EINVAL, RUNM_KEY_TRANSPORT " must be `serial` or `vsock`");
  if (runm_cmdline_get(cmdline, RUNM_KEY_PORT, cfg->port_name, sizeof(cfg->port_name)) < 0)
    return runm_make_error(err, EINVAL, RUNM_KEY_PORT " is too long");
  r = runm_cmdline_get(cmdline, RUNM_KEY_VSOCK_PORT, num, sizeof(num));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_VSOCK_PORT " is too long");
  if (r == 1) {
    char *end;
    unsigned long v = strtoul(num, &end, 10);
    if (*num == '\0' || *end != '\0' || v == 0 || v > 0xffffffffUL)
      return runm_make_error(err, EINVAL, RUNM_KEY_VSOCK_PORT " `%s` is not a port number", num);
    cfg->vsock_port = (unsigned)v;
  }
  if (runm_cmdline_get(cmdline, RUNM_KEY_TIME, cfg->time, sizeof(cfg->time)) < 0)
    return runm_make_error(err, EINVAL, RUNM_KEY_TIME " is too long");
  if (runm_cmdline_get(cmdline, RUNM_KEY_DEBUG, dbg, sizeof(dbg)) == 1) cfg->debug = dbg[0] == '1';
  return 0;
}

static int mount_one(const char *src, const char *dst, const char *type, unsigned long flags,
                     const char *data, runm_error_t *err)
{
  if (mkdir(dst, 0755) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir `%s`", dst);
  if (mount(src, dst, type, flags, data) < 0)
    return runm_make_error(err, errno, "mount %s on `%s`", type, dst);
  return 0;
}

static int set_clock(const char *spec, runm_error_t *err)
{
  struct timespec ts = {0};
  char *end;

  if (spec[0] == '\0') return 0;
  ts.tv_sec = strtoll(spec, &end, 10);
  if (*end == '.') {
    char frac[10] = "000000000";
    size_t n = strspn(end + 1, "0123456789");
    memcpy(frac, end + 1, n > 9 ? 9 : n);
    ts.tv_nsec = strtol(frac, NULL, 10);
    end += 1 + n;
  }
  if (*end != '\0' || ts.tv_sec <= 0)
    return runm_make_error(err, EINVAL, RUNM_KEY_TIME " `%s` is not SECONDS[.NANOS]", spec);
  if (clock_settime(CLOCK_REALTIME, &ts) < 0) return runm_make_error(err, errno, "clock_settime");
  return 0;
}

int init_setup_system(const struct init_config *cfg, struct runm_logger *log, runm_error_t *err)
{
  /* The mounter moved /dev, /proc and /sys here; the rest is ours. */
  static const struct {
    const char *src, *dst, *type;
    unsigned long flags;
    const char *data;
  } mounts[] = {
      {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
      {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
      {"mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
      {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate"},
      {"run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
      {"tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
  };
  int ret;

  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return runm_make_error(err, errno, "set subreaper");
  for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
    ret = mount_one(mounts[i].src, mounts[i].dst, mounts[i].type, mounts[i].flags, mounts[i].data,
                    err);
    if (ret < 0) return ret;
  }
  if (unlink("/dev/ptmx") < 0 && errno != ENOENT) return runm_make_error(err, errno, "rm /dev/ptmx");
  if (symlink("pts/ptmx", "/dev/ptmx") < 0) return runm_make_error(err, errno, "link /dev/ptmx");
  if (mkdir("/run/runm", 0700) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir /run/runm");

  /* Enable every controller for the containers runc will create. */
  {
    cleanup_close int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
    static const char *const ctrls[] = {"+cpu", "+cpuset", "+memory", "+pids", "+io", "+hugetlb"};
    for (size_t i = 0; fd >= 0 && i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
      if (write(fd, ctrls[i], strlen(ctrls[i])) < 0 && errno != ENOENT && errno != EINVAL)
        runm_log(log, RUNM_LOG_WARN, "enable cgroup controller %s: %m", ctrls[i]);
  }

  /* The kernel sizes these for the VM's RAM (threads-max ~1900 at 256 MiB,
   * and init's RLIMIT_NPROC half of it): what bounds a container is the
   * host's limits (the shim's, given to runc per task: rlimits.h) and the
   * VM's memory, as under runc-v2. Their kernel maximums, then. */
  {
    /* Largest first; the kernel refuses what is above its own maximum
     * (PID_MAX_LIMIT is 32768 with CONFIG_BASE_SMALL, as runm's is). */
    static const struct {
      const char *path, *values[2];
    } sysctls[] = {
        {"/proc/sys/kernel/pid_max", {"4194304", "32768"}},
        {"/proc/sys/kernel/threads-max", {"1073741823", NULL}}, /* FUTEX_TID_MASK */
    };
    for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
      cleanup_close int fd = open(sysctls[i].path, O_WRONLY | O_CLOEXEC);
      bool set = false;
      for (size_t k = 0; fd >= 0 && !set && k < 2 && sysctls[i].values[k]; k++)
        set = pwrite(fd, sysctls[i].values[k], strlen(sysctls[i].values[k]), 0) > 0;
      if (!set) runm_log(log, RUNM_LOG_WARN, "raise %s: %m", sysctls[i].path);
    }
  }

  ret = set_clock(cfg->time, err);
  if (ret < 0) return ret;
  if (cfg->vm_id[0] && sethostname(cfg->vm_id, strnlen(cfg->vm_id, 64)) < 0)
    runm_log(log, RUNM_LOG_WARN, "sethostname: %m");
  return 0;
}

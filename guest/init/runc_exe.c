/* runc from a sealed memfd (runc_exe.h).
 *
 * Why: runc 1.1, at every `runc init` (each create and exec), copies its
 * own binary into a fresh memfd and re-executes itself from it, its guard
 * against CVE-2019-5736 (a container overwriting the host's runc through
 * /proc/self/exe). Under TCG that copy of ~9 MiB and the second exec are a
 * large part of a create. runc skips the copy when /proc/self/exe already
 * is a memfd carrying F_SEAL_SEAL|SHRINK|GROW|WRITE (cloned_binary.c,
 * is_self_cloned): such a file cannot be written by anyone, so the guard
 * holds. So init copies runc once into such a memfd and runs runc from it
 * (exec of /proc/self/fd/N, the reaper's alias for RUNC_PATH): runc
 * unmodified, its /proc/self/exe the sealed memfd. (A bind mount of the
 * memfd over RUNC_PATH, runc's memfd-bind, is refused by this kernel:
 * the memfd's mount is not in init's namespace.)
 *
 * It runs on a thread of its own once init serves (so the boot to the
 * first Ping does not pay for reading all of runc from the squashfs under
 * TCG), at the lowest priority; a runc started meanwhile waits for it
 * (reaper_exe_path) rather than clone itself as well. A failure only costs
 * speed: it is logged, and runc runs from its path as before. */
#include "runc_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "reaper.h"
#include "runc.h"

#define RUNC_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int runc_exe_seal(const char *path, runm_error_t *err)
{
  cleanup_close int src = open(path, O_RDONLY | O_CLOEXEC);
  cleanup_close int mfd = -1;
  struct stat st;
  off_t left;
  int fd;

  if (src < 0) return runm_make_error(err, errno, "open `%s`", path);
  if (fstat(src, &st) < 0) return runm_make_error(err, errno, "stat `%s`", path);
  if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "`%s` is not a regular file", path);
  mfd = memfd_create("runc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return runm_make_error(err, errno, "memfd_create");
  if (fchmod(mfd, 0555) < 0) return runm_make_error(err, errno, "chmod the runc memfd");
  for (left = st.st_size; left > 0;) {
    ssize_t n = sendfile(mfd, src, NULL, (size_t)left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "copy `%s` into a memfd", path);
    if (n == 0) return runm_make_error(err, EIO, "`%s` shrank while it was copied", path);
    left -= n;
  }
  if (fcntl(mfd, F_ADD_SEALS, RUNC_SEALS) < 0) return runm_make_error(err, errno, "seal the runc memfd");
  fd = mfd;
  mfd = -1;
  return fd;
}

struct seal_job {
  struct runm_logger *log;
  struct reaper *reaper;
  int64_t *sealed_ns; /* the boot timeline's entry (Info) */
};

static void *seal_thread(void *arg)
{
  struct seal_job *j = arg;
  cleanup_error runm_error_t err = NULL;
  int fd;

  /* Lowest priority: the guest has one CPU, and a Ping or a Create's own
   * work should not wait behind the copy. */
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) < 0) {
    /* only slower for others */
  }
  fd = runc_exe_seal(RUNC_PATH, &err);
  reaper_set_exe(j->reaper, fd);
  if (fd < 0) {
    runm_log_error(j->log, err, "runc from a sealed memfd (runc will clone itself at every start)");
  } else {
    __atomic_store_n(j->sealed_ns, runm_clock_ns(CLOCK_BOOTTIME), __ATOMIC_SEQ_CST);
    runm_log(j->log, RUNM_LOG_DEBUG, "%s runs from a sealed memfd", RUNC_PATH);
  }
  free(j);
  return NULL;
}

void runc_exe_start(struct runm_logger *log, struct reaper *reaper, int64_t *sealed_ns)
{
  struct seal_job *j = malloc(sizeof(*j));
  pthread_t t;
  int ret;

  if (j == NULL) {
    runm_log(log, RUNM_LOG_WARN, "runc from a sealed memfd: out of memory");
    return;
  }
  j->log = log;
  j->reaper = reaper;
  j->sealed_ns = sealed_ns;
  reaper_expect_exe(reaper, RUNC_PATH);
  ret = pthread_create(&t, NULL, seal_thread, j);
  if (ret != 0) {
    reaper_set_exe(reaper, -1);
    free(j);
    errno = ret;
    runm_log(log, RUNM_LOG_WARN, "runc from a sealed memfd: start thread: %m");
    return;
  }
  pthread_detach(t);
}

/* runm-bindfs mounts made by the shim, and their record (see fusebind.h).
 * The shim is threaded: the helper is started with posix_spawn, and
 * daemonises itself; its first process exits 0 once the mount is up. */
#include "fusebind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

extern char **environ;

#define HELPER "runm-bindfs"
#define HELPER_TIMEOUT_MS 30000
#define ERR_MAX 600

int fusebind_init(struct fusebind *fb, const char *state_dir, const char *vm_id, const char *exe_dir,
                  const struct runm_logger *log, runm_error_t *err)
{
  memset(fb, 0, sizeof(*fb));
  fb->log = log;
  if (snprintf(fb->dir, sizeof(fb->dir), "%s/fuse/%s", state_dir, vm_id) >= (int)sizeof(fb->dir))
    return runm_make_error(err, ENAMETOOLONG, "FUSE state dir for `%s`", vm_id);
  /* The helper shipped with this shim first; then whatever PATH offers. */
  snprintf(fb->exe, sizeof(fb->exe), "%s/%s", exe_dir && exe_dir[0] ? exe_dir : ".", HELPER);
  if (access(fb->exe, X_OK) != 0) snprintf(fb->exe, sizeof(fb->exe), "%s", HELPER);
  return 0;
}

/* <state_dir>/fuse/<vm id>, made on first use. Another shim's cleanup may
 * remove an empty <state_dir>/fuse between our two mkdirs: try again. */
static int ensure_dir(struct fusebind *fb, runm_error_t *err)
{
  char parent[PATH_MAX];
  char *slash;
  snprintf(parent, sizeof(parent), "%s", fb->dir);
  slash = strrchr(parent, '/');
  *slash = '\0';
  for (int tries = 0; tries < 3; tries++) {
    if (mkdir(parent, 0700) < 0 && errno != EEXIST)
      return runm_make_error(err, errno, "mkdir `%s`", parent);
    if (mkdir(fb->dir, 0700) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT) break;
  }
  return runm_make_error(err, errno, "mkdir `%s`", fb->dir);
}

static int record(struct fusebind *fb, const char *dst, runm_error_t *err)
{
  char path[PATH_MAX + 16];
  cleanup_close int fd = -1;
  cleanup_free char *line = NULL;
  int n;

  if (strchr(dst, '\n')) return runm_make_error(err, EINVAL, "mount point `%s` has a newline", dst);
  if (ensure_dir(fb, err) < 0) return -1;
  snprintf(path, sizeof(path), "%s/mounts", fb->dir);
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return runm_make_error(err, errno, "open `%s`", path);
  n = asprintf(&line, "%s\n", dst);
  if (n < 0) return runm_make_error(err, ENOMEM, "record");
  if (write(fd, line, (size_t)n) != n) return runm_make_error(err, errno, "write `%s`", path);
  return 0;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the helper; its stderr (the reason, when it fails) lands in msg. */
static int run_helper(struct fusebind *fb, char *const argv[], char *msg, size_t msg_len,
                      int *status, runm_error_t *err)
{
  posix_spawn_file_actions_t fa;
  int pfd[2], r;
  size_t used = 0;
  pid_t pid;
  int64_t deadline = now_ms() + HELPER_TIMEOUT_MS;

  msg[0] = '\0';
  if (pipe2(pfd, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  /* Nothing of the shim's (ttrpc sockets, QEMU channels) in the daemon. */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  r = strchr(fb->exe, '/') ? posix_spawn(&pid, fb->exe, &fa, NULL, argv, environ)
                           : posix_spawnp(&pid, fb->exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (r != 0) {
    close(pfd[0]);
    return runm_make_error(err, r, "run `%s` (is runm-bindfs installed next to the shim or on PATH?)",
                           fb->exe);
  }
  /* Until EOF: the daemon lets go of stderr before its parent exits. */
  for (;;) {
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    int64_t left = deadline - now_ms();
    char buf[256];
    ssize_t n;
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    n = read(pfd[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (used + 1 < msg_len) {
      size_t k = (size_t)n < msg_len - 1 - used ? (size_t)n : msg_len - 1 - used;
      memcpy(msg + used, buf, k);
      used += k;
      msg[used] = '\0';
    }
  }
  close(pfd[0]);
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return runm_make_error(err, errno, "wait for runm-bindfs");
  }
  while (used > 0 && (msg[used - 1] == '\n' || msg[used - 1] == ' ')) msg[--used] = '\0';
  if (now_ms() >= deadline)
    return runm_make_error(err, ETIMEDOUT, "runm-bindfs did not mount within %d s", HELPER_TIMEOUT_MS / 1000);
  return 0;
}

int fusebind_mount(struct fusebind *fb, const char *src, const char *dst, const char *opts,
                   runm_error_t *err)
{
  char *argv[6] = {(char *)HELPER, (char *)src, (char *)dst, NULL, NULL, NULL};
  char msg[ERR_MAX];
  int status = 0;

  if (opts && opts[0]) {
    argv[3] = (char *)"-o";
    argv[4] = (char *)opts;
  }
  if (record(fb, dst, err) < 0) return -1;
  if (run_helper(fb, argv, msg, sizeof(msg), &status, err) < 0)
    return runm_error_wrap(err, "mount `%s` on `%s` with runm-bindfs", src, dst);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return runm_make_error(err, EIO, "runm-bindfs `%s` `%s`%s%s failed (%s %d): %s", src, dst,
                           argv[3] ? " -o " : "", argv[3] ? opts : "", WIFEXITED(status) ? "exit" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                           msg[0] ? msg : "no message");
  runm_log(fb->log, RUNM_LOG_DEBUG, "runm-bindfs: `%s` mirrored at `%s` (%s)", src, dst,
           argv[3] ? opts : "rw");
  return 0;
}

int fusebind_volume(struct fusebind *fb, struct runm_vm_share *share, runm_error_t *err)
{
  unsigned i = fb->n_volumes;
  char *mp;
  if (i >= RUNM_VM_MAX_SHARES) return runm_make_error(err, E2BIG, "more than %d FUSE volumes", RUNM_VM_MAX_SHARES);
  char name[PATH_MAX];
  mp = fb->volume[i];
  /* fb->dir is shorter than PATH_MAX - 64: the name always fits. */
  snprintf(name, sizeof(name), "%s/v%u", fb->dir, i);
  memcpy(mp, name, strlen(name) + 1);
  if (ensure_dir(fb, err) < 0) return -1;
  if (mkdir(mp, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", mp);
  if (fusebind_mount(fb, share->path, mp, share->readonly ? "ro" : NULL, err) < 0) {
    rmdir(mp);
    return -1;
  }
  fb->n_volumes++;
  share->guest_path = share->path;
  share->path = mp;
  return 0;
}

/* ---- cleanup (also from `delete`, in a fresh process) -------------------- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* Is a runm-bindfs FUSE file system mounted at exactly mp? */
static bool is_ours_mounted(const char *mp)
{
  cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  bool found = false;

  if (f == NULL) return false;
  while (!found && getline(&line, &cap, f) > 0) {
    char *save = NULL, *tok, *point = NULL, *dash;
    int field = 0;
    dash = strstr(line, " - ");
    if (dash == NULL) continue;
    *dash = '\0';
    for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
      if (++field == 5) point = tok;
    if (point == NULL) continue;
    unescape(point);
    found = strcmp(point, mp) == 0 && strncmp(dash + 3, "fuse.runm-bindfs ", 17) == 0;
  }
  return found;
}

/* SIGTERM to a runm-bindfs process serving mp (argv[0] names runm-bindfs,
 * argv[2] is mp): one the unmount did not end, e.g. stuck on its source. */
static void stop_helpers(const char *mp)
{
  cleanup_dir DIR *d = opendir("/proc");
  struct dirent *e;
  if (d == NULL) return;
  while ((e = readdir(d))) {
    char path[64], buf[8192];
    const char *argv0, *base;
    cleanup_close int fd = -1;
    ssize_t n;
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) continue;
    buf[n] = '\0';
    argv0 = buf;
    base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    if (strcmp(base, HELPER) != 0 && strcmp(base, "fuse3." HELPER) != 0) continue;
    {
      const char *a1 = argv0 + strlen(argv0) + 1;
      const char *a2 = a1 < buf + n ? a1 + strlen(a1) + 1 : buf + n;
      if (a2 < buf + n && strcmp(a2, mp) == 0) kill(atoi(e->d_name), SIGTERM);
    }
  }
}

int fusebind_cleanup(const char *state_dir, const char *vm_id, const struct runm_logger *log,
                     runm_error_t *err)
{
  char dir[PATH_MAX], rec[PATH_MAX + 16], parent[PATH_MAX];
  cleanup_file FILE *f = NULL;
  cleanup_free char *line = NULL;
  size_t cap = 0, dl;
  ssize_t n;
  int ret = 0;

  snprintf(parent, sizeof(parent), "%s/fuse", state_dir);
  if (snprintf(dir, sizeof(dir), "%s/%s", parent, vm_id) >= (int)sizeof(dir)) return 0;
  snprintf(rec, sizeof(rec), "%s/mounts", dir);
  dl = strlen(dir);
  f = fopen(rec, "re");
  if (f == NULL && errno != ENOENT) return runm_make_error(err, errno, "open `%s`", rec);
  while (f && (n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] == '\n') line[n - 1] = '\0';
    if (line[0] != '/') continue;
    /* Stacked mounts come off one by one. */
    for (int i = 0; i < 8 && is_ours_mounted(line); i++)
      if (umount2(line, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) {
        if (ret == 0) ret = runm_make_error(err, errno, "unmount runm-bindfs at `%s`", line);
        break;
      }
    stop_helpers(line);
    runm_log(log, RUNM_LOG_DEBUG, "runm-bindfs at `%s` unmounted", line);
    /* Volume mount points are ours to remove; a rootfs dir is the bundle's. */
    if (strncmp(line, dir, dl) == 0 && line[dl] == '/' && rmdir(line) < 0 && errno != ENOENT && ret == 0)
      ret = runm_make_error(err, errno, "remove `%s`", line);
  }
  if (ret < 0) return ret; /* the record stays for the next try */
  if (unlink(rec) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", rec);
  if (rmdir(dir) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", dir);
  rmdir(parent); /* shared by every shim: only when empty */
  return 0;
}

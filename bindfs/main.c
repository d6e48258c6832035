/* runm-bindfs SRC DST [-o OPTS] [-f] [-d] [-s]: mirrors SRC at DST through
 * FUSE, read-write or read-only, with bindfs-style uid/gid maps. Without
 * -f it returns once the mount is up and serves it in the background;
 * SIGTERM, SIGINT or an unmount of DST end it cleanly. Also a mount helper:
 * `mount -t fuse3.runm-bindfs SRC DST -o OPTS` runs it through mount.fuse3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindfs.h"
#include "cleanup.h"

#define VERSION "0.1.0"

struct args {
  const char *src, *dst;
  bool foreground, single_thread;
};

static void usage(FILE *f)
{
  fprintf(f,
          "usage: runm-bindfs [-f] [-d] [-s] [-o OPT[,OPT...]] SRC DST\n"
          "Mirrors directory SRC at DST through FUSE.\n"
          "  -f            stay in the foreground\n"
          "  -d            debug output (implies -f)\n"
          "  -s            single-threaded (the default; see max_threads)\n"
          "  -o ro         read-only: every write fails with EROFS\n"
          "  -o map=A/B:@G/@H  source owner A shows as B (group G as H), and B is\n"
          "                stored as A on create and chown (bindfs syntax)\n"
          "  -o allow_other, default_permissions, no_default_permissions\n"
          "  -o cache=auto|never|always, attr_timeout=S, entry_timeout=S, negative_timeout=S\n"
          "  -o writeback, direct_io, no_splice, no_readdirplus\n"
          "  -o max_threads=N  N > 1: libfuse's multithreaded loop (default: one thread)\n"
          "  -o suid, nosuid, dev, nodev, exec, noexec, sync, async, atime, noatime,\n"
          "     dirsync, allow_root, auto_unmount, fsname=, subtype=, max_read=, blksize=\n"
          "See docs/bindfs.md.\n");
}

static int fail(runm_error_t err)
{
  cleanup_free char *msg = runm_error_string(err);
  fprintf(stderr, "runm-bindfs: %s\n", msg ? msg : "error");
  return 1;
}

static int parse_args(int argc, char **argv, struct args *a, struct bindfs_options *o,
                      runm_error_t *err)
{
  memset(a, 0, sizeof(*a));
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (strcmp(s, "-o") == 0) {
      if (i + 1 >= argc) return runm_make_error(err, EINVAL, "-o needs an argument");
      if (bindfs_options_parse(o, argv[++i], err) < 0) return -1;
    } else if (strncmp(s, "-o", 2) == 0) {
      if (bindfs_options_parse(o, s + 2, err) < 0) return -1;
    } else if (strcmp(s, "-f") == 0) {
      a->foreground = true;
    } else if (strcmp(s, "-d") == 0) {
      a->foreground = true;
      if (bindfs_options_parse(o, "debug", err) < 0) return -1;
    } else if (strcmp(s, "-s") == 0) {
      a->single_thread = true;
    } else if (s[0] == '-' && s[1] != '\0') {
      return runm_make_error(err, EINVAL, "unknown flag `%s` (see --help)", s);
    } else if (a->src == NULL) {
      a->src = s;
    } else if (a->dst == NULL) {
      a->dst = s;
    } else {
      return runm_make_error(err, EINVAL, "unexpected argument `%s`: only SRC and DST are taken", s);
    }
  }
  if (a->src == NULL || a->dst == NULL)
    return runm_make_error(err, EINVAL, "SRC and DST are required (usage: runm-bindfs SRC DST [-o OPTS])");
  if (o->debug) a->foreground = true;
  return 0;
}

/* The source directory, opened O_PATH; its canonical path in *real. */
static int open_source(const char *src, char **real, runm_error_t *err)
{
  struct stat st;
  int fd = open(src, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return runm_make_error(err, ENOENT, "source `%s` does not exist", src);
    return runm_make_error(err, errno, "source `%s`", src);
  }
  if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
    close(fd);
    return runm_make_error(err, ENOTDIR, "source `%s` is not a directory", src);
  }
  *real = realpath(src, NULL);
  if (*real == NULL) {
    int e = errno;
    close(fd);
    return runm_make_error(err, e, "source `%s`", src);
  }
  return fd;
}

/* The mount point, canonical in *real_dst: the daemon unmounts it by path
 * after fuse_daemonize has moved it to /. */
static int check_mountpoint(const char *dst, const char *real_src, char **real_dst, runm_error_t *err)
{
  struct stat st;
  cleanup_free char *real = NULL;
  size_t l = strlen(real_src);
  if (stat(dst, &st) < 0) {
    if (errno == ENOENT) return runm_make_error(err, ENOENT, "mount point `%s` does not exist", dst);
    return runm_make_error(err, errno, "mount point `%s`", dst);
  }
  if (!S_ISDIR(st.st_mode))
    return runm_make_error(err, ENOTDIR, "mount point `%s` is not a directory", dst);
  real = realpath(dst, NULL);
  if (real == NULL) return runm_make_error(err, errno, "mount point `%s`", dst);
  /* Below SRC, the mirror would reach its own mount point and walk into
   * itself (DST == SRC is fine: the source is opened before mounting). */
  if (strncmp(real, real_src, l) == 0 && (real[l] == '/' || (l == 1 && real[1])))
    return runm_make_error(err, 0, "mount point `%s` is inside the source `%s`: the mirror would loop into itself", dst, real_src);
  *real_dst = steal_pointer(&real);
  return 0;
}

/* One O_PATH fd per inode the kernel holds: allow as many as we may. */
static void raise_nofile(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Single-threaded unless max_threads=N > 1: measured on 2 CPUs (see
 * docs/bindfs.md), libfuse's worker pool hands each request to another
 * thread than the one that served the last, and that hop cost more than
 * the parallelism gave, for sequential and for parallel clients alike. */
static int serve(struct fuse_session *se, const struct args *a, const struct bindfs_options *o)
{
  struct fuse_loop_config *lc;
  int r;
  if (a->single_thread || o->max_threads <= 1) return fuse_session_loop(se);
  lc = fuse_loop_cfg_create();
  if (lc == NULL) return fuse_session_loop(se);
  /* One /dev/fuse fd per worker; workers stay once started. */
  fuse_loop_cfg_set_clone_fd(lc, 1);
  fuse_loop_cfg_set_max_threads(lc, o->max_threads);
  fuse_loop_cfg_set_idle_threads(lc, o->max_threads);
  r = fuse_session_loop_mt(se, lc);
  fuse_loop_cfg_destroy(lc);
  return r;
}

int main(int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  struct bindfs fs;
  struct args a;
  struct fuse_lowlevel_ops ops;
  struct fuse_session *se;
  cleanup_free char *real_src = NULL, *real_dst = NULL;
  int root_fd, r;

  if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc == 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("runm-bindfs %s (libfuse %s)\n", VERSION, fuse_pkgversion());
    return 0;
  }
  memset(&fs, 0, sizeof(fs));
  fs.proc_fd = -1;
  bindfs_options_init(&fs.opts);
  if (parse_args(argc, argv, &a, &fs.opts, &err) < 0) {
    bindfs_options_free(&fs.opts);
    return fail(err);
  }
  root_fd = open_source(a.src, &real_src, &err);
  if (root_fd < 0 || check_mountpoint(a.dst, real_src, &real_dst, &err) < 0 ||
      bindfs_options_finish(&fs.opts, real_src, &err) < 0) {
    if (root_fd >= 0) close(root_fd);
    bindfs_options_free(&fs.opts);
    return fail(err);
  }
  /* Checked here so a missing /proc fails before anything is mounted;
   * reopened after fuse_daemonize, whose fork gives us a new pid. */
  fs.proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fs.proc_fd < 0) {
    runm_make_error(&err, errno, "open /proc/self/fd (is /proc mounted?)");
    close(root_fd);
    bindfs_options_free(&fs.opts);
    return fail(err);
  }
  fs.euid = geteuid();
  fs.egid = getegid();
  fs.privileged = fs.euid == 0;
  r = bindfs_inodes_init(&fs.inodes, root_fd);
  if (r < 0) {
    runm_make_error(&err, -r, "source `%s`", a.src);
    close(fs.proc_fd);
    bindfs_options_free(&fs.opts);
    return fail(err);
  }
  /* Modes reach the source exactly as the caller's kernel masked them. */
  umask(0);
  raise_nofile();

  {
    char *fargv[4] = {argv[0], "-o", fs.opts.fuse_opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(fs.opts.fuse_opts ? 3 : 1, fargv);
    bindfs_ops_fill(&ops);
    se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
    fuse_opt_free_args(&args);
  }
  r = 1;
  if (se == NULL) {
    runm_make_error(&err, EINVAL, "FUSE refused the options `%s`", fs.opts.fuse_opts);
    fail(err);
    goto out;
  }
  /* libfuse only takes signals still at their default: a shell starts
   * background jobs with SIGINT ignored, and `kill -INT` must still
   * unmount cleanly. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  if (fuse_set_signal_handlers(se) != 0) {
    runm_make_error(&err, errno, "signal handlers");
    fail(err);
    goto out_session;
  }
  if (fuse_session_mount(se, real_dst) != 0) {
    runm_make_error(&err, 0, "cannot mount `%s` on `%s` (see the fuse: line above)", a.src, a.dst);
    fail(err);
    goto out_signals;
  }
  /* The parent exits 0 only now, with DST mounted: callers can use it. */
  if (fuse_daemonize(a.foreground) != 0) {
    fuse_session_unmount(se);
    goto out_signals;
  }
  close(fs.proc_fd);
  fs.proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fs.proc_fd < 0) {
    fuse_session_unmount(se);
    goto out_signals;
  }
  r = serve(se, &a, &fs.opts) < 0 ? 1 : 0;
  fuse_session_unmount(se);
out_signals:
  fuse_remove_signal_handlers(se);
out_session:
  fuse_session_destroy(se);
out:
  bindfs_inodes_destroy(&fs.inodes);
  if (fs.proc_fd >= 0) close(fs.proc_fd);
  bindfs_options_free(&fs.opts);
  return r;
}

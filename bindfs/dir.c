/* Directories: opendir, readdir and readdirplus (entries with their
 * attributes, so `ls -l` and walks need no lookup round trips), releasedir,
 * fsyncdir. An open directory's fh is a struct dir_handle. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindfs.h"
#include "cleanup.h"

/* The kernel asks for READDIRPLUS at offset 0 of every listing, wanted or
 * not, and for more only once it has seen lookups of the entries (ls -l,
 * find). The first answer is kept this short so that a plain listing pays
 * for few lookups; the kernel's own advice decides the rest. */
#define PLUS_FIRST_BATCH 8

struct dir_handle {
  pthread_mutex_t lock; /* guards everything below: one reader at a time */
  DIR *dp;
  struct dirent *entry; /* read but not yet sent (did not fit the last reply) */
  off_t offset;         /* position of dp, as the kernel knows it */
};

static struct dir_handle *dir_of(const struct fuse_file_info *fi)
{
  return (struct dir_handle *)(uintptr_t)fi->fh;
}

static int do_opendir(struct bindfs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
  char n[16];
  cleanup_close int fd = -1;
  struct dir_handle *d;

  snprintf(n, sizeof(n), "%d", bindfs_inode_of(fs, ino)->fd);
  fd = openat(fs->proc_fd, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  d = calloc(1, sizeof(*d));
  if (d == NULL) return ENOMEM;
  d->dp = fdopendir(fd);
  if (d->dp == NULL) {
    int e = errno;
    free(d);
    return e;
  }
  fd = -1; /* owned by dp */
  pthread_mutex_init(&d->lock, NULL);
  fi->fh = (uintptr_t)d;
  if (fs->opts.cache == BINDFS_CACHE_ALWAYS) fi->cache_readdir = 1;
  return 0;
}

static void dir_free(struct dir_handle *d)
{
  closedir(d->dp);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  int r = do_opendir(bindfs_of(req), ino, fi);
  if (r) fuse_reply_err(req, r);
  else if (fuse_reply_open(req, fi) == -ENOENT) dir_free(dir_of(fi));
}

static bool is_dot(const char *n)
{
  return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Fills buf (size bytes) with entries from offset on; *used is what it
 * holds. An error after the first entry ends the reply early instead. */
static int do_readdir(fuse_req_t req, fuse_ino_t ino, char *buf, size_t size, off_t offset,
                      struct fuse_file_info *fi, bool plus, size_t *used)
{
  struct bindfs *fs = bindfs_of(req);
  struct dir_handle *d = dir_of(fi);
  size_t rem = size;
  unsigned n_entries = 0;
  int err = 0;

  pthread_mutex_lock(&d->lock);
  if (offset != d->offset) {
    seekdir(d->dp, offset);
    d->entry = NULL;
    d->offset = offset;
  }
  for (;; n_entries++) {
    struct fuse_entry_param e;
    size_t n;
    fuse_ino_t looked_up = 0;

    if (plus && offset == 0 && n_entries >= PLUS_FIRST_BATCH) break;
    if (d->entry == NULL) {
      errno = 0;
      d->entry = readdir(d->dp);
      if (d->entry == NULL) {
        err = errno;
        break;
      }
    }
    if (plus) {
      int r = is_dot(d->entry->d_name) ? ENOENT : bindfs_do_lookup(fs, ino, d->entry->d_name, &e);
      if (r == 0) {
        looked_up = e.ino;
      } else {
        /* Gone since readdir, or . and ..: a plain entry (no node). */
        memset(&e, 0, sizeof(e));
        e.attr.st_ino = d->entry->d_ino;
        e.attr.st_mode = (mode_t)d->entry->d_type << 12;
      }
      n = fuse_add_direntry_plus(req, buf + size - rem, rem, d->entry->d_name, &e, d->entry->d_off);
    } else {
      struct stat st = {.st_ino = d->entry->d_ino, .st_mode = (mode_t)d->entry->d_type << 12};
      n = fuse_add_direntry(req, buf + size - rem, rem, d->entry->d_name, &st, d->entry->d_off);
    }
    if (n > rem) {
      /* Did not fit: the kernel will ask again from here. */
      if (looked_up) bindfs_inode_unref(&fs->inodes, bindfs_inode_of(fs, looked_up), 1);
      break;
    }
    rem -= n;
    d->offset = d->entry->d_off;
    d->entry = NULL;
  }
  pthread_mutex_unlock(&d->lock);
  *used = size - rem;
  /* Entries already in the buffer were looked up: send them. */
  return *used > 0 ? 0 : err;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi, bool plus)
{
  cleanup_free char *buf = malloc(size ? size : 1);
  size_t used = 0;
  int r;
  if (buf == NULL) return (void)fuse_reply_err(req, ENOMEM);
  r = do_readdir(req, ino, buf, size, off, fi, plus, &used);
  if (r) fuse_reply_err(req, r);
  else fuse_reply_buf(req, buf, used);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
  readdir_common(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
  readdir_common(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  dir_free(dir_of(fi));
  fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
  int fd = dirfd(dir_of(fi)->dp);
  int r = datasync ? fdatasync(fd) : fsync(fd);
  fuse_reply_err(req, r < 0 ? errno : 0);
}

void bindfs_dir_ops(struct fuse_lowlevel_ops *ops)
{
  ops->opendir = op_opendir;
  ops->readdir = op_readdir;
  ops->readdirplus = op_readdirplus;
  ops->releasedir = op_releasedir;
  ops->fsyncdir = op_fsyncdir;
}

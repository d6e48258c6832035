/* File data: open and create, read (spliced from the source file where
 * the kernel allows), write_buf, release, fsync, fallocate, lseek
 * (SEEK_DATA/SEEK_HOLE) and copy_file_range. An open file's fh is a
 * regular fd on the source file. There is no flush: every close(2) would
 * cost a round trip to report what a local source never reports at
 * close (the kernel stops sending FLUSH once it is ENOSYS). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bindfs.h"
#include "cleanup.h"

static bool writes(int flags)
{
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* The flags the source file is opened with. */
static int source_flags(const struct bindfs *fs, int flags)
{
  flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
  /* The writeback cache writes whole pages and computes append offsets
   * itself: it must be able to read, and O_APPEND would misplace data. */
  if (fs->opts.writeback) {
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
    flags &= ~O_APPEND;
  }
  return flags | O_CLOEXEC;
}

static void set_cache_flags(const struct bindfs *fs, struct fuse_file_info *fi)
{
  if (fs->opts.direct_io) fi->direct_io = 1;
  /* With AUTO_INVAL_DATA the kernel drops cached pages when it sees a new
   * mtime or size, so keeping them across opens is safe enough for
   * cache=auto; cache=never drops them on every open. */
  else if (fs->opts.cache != BINDFS_CACHE_NEVER) fi->keep_cache = 1;
}

static int do_open(struct bindfs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  char n[16];
  int fd;

  if (fs->opts.ro && writes(fi->flags)) return EROFS;
  snprintf(n, sizeof(n), "%d", in->fd);
  fd = openat(fs->proc_fd, n, source_flags(fs, fi->flags));
  if (fd < 0) return errno;
  fi->fh = (uint64_t)fd;
  set_cache_flags(fs, fi);
  /* O_TRUNC (atomic_o_trunc) changed the file: its cached pages are stale. */
  if (fi->flags & O_TRUNC) fi->keep_cache = 0;
  return 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  int r = do_open(bindfs_of(req), ino, fi);
  if (r) fuse_reply_err(req, r);
  else if (fuse_reply_open(req, fi) == -ENOENT) close((int)fi->fh); /* the call was interrupted */
}

static int do_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     struct fuse_file_info *fi, struct fuse_entry_param *e)
{
  struct bindfs *fs = bindfs_of(req);
  int dfd = bindfs_inode_of(fs, parent)->fd;
  cleanup_close int fd = -1;
  int r;

  if (fs->opts.ro) return EROFS;
  /* O_NOFOLLOW: the kernel sends CREATE on a negative dentry, but the name
   * may have become a symlink in SRC since (made there directly, or through
   * another mount of it): following it would create or truncate a file
   * outside SRC, as root. A symlink there fails with ELOOP instead. */
  fd = openat(dfd, name,
              source_flags(fs, fi->flags) | O_CREAT | O_NOFOLLOW | (fi->flags & O_EXCL), mode);
  if (fd < 0) return errno;
  if ((r = bindfs_do_lookup(fs, parent, name, e)) != 0) return r;
  r = bindfs_set_owner(fs, req, dfd, fd);
  if (r < 0) {
    unlinkat(dfd, name, 0);
    bindfs_inode_unref(&fs->inodes, bindfs_inode_of(fs, e->ino), 1);
    return -r;
  }
  if (r > 0 && fstat(fd, &e->attr) == 0) bindfs_map_attr(fs, &e->attr);
  fi->fh = (uint64_t)runm_steal_fd(&fd);
  set_cache_flags(fs, fi);
  return 0;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
  struct fuse_entry_param e;
  int r = do_create(req, parent, name, mode, fi, &e);
  if (r) fuse_reply_err(req, r);
  else if (fuse_reply_create(req, &e, fi) == -ENOENT) close((int)fi->fh);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  /* An fd buffer: libfuse splices it into /dev/fuse when the connection
   * does splice (no copy through this process), else reads it. */
  buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  buf.buf[0].fd = (int)fi->fh;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static ssize_t do_write_buf(struct bindfs *fs, struct fuse_bufvec *in, off_t off,
                            const struct fuse_file_info *fi)
{
  struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
  if (fs->opts.ro) return -EROFS;
  out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  out.buf[0].fd = (int)fi->fh;
  out.buf[0].pos = off;
  return fuse_buf_copy(&out, in, 0);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
                         struct fuse_file_info *fi)
{
  ssize_t n = do_write_buf(bindfs_of(req), in, off, fi);
  if (n < 0) fuse_reply_err(req, (int)-n);
  else fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  close((int)fi->fh);
  fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
  int r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
  fuse_reply_err(req, r < 0 ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi)
{
  if (bindfs_of(req)->opts.ro) return (void)fuse_reply_err(req, EROFS);
  fuse_reply_err(req, fallocate((int)fi->fh, mode, off, len) < 0 ? errno : 0);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
  off_t r = lseek((int)fi->fh, off, whence);
  if (r < 0) fuse_reply_err(req, errno);
  else fuse_reply_lseek(req, r);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
                               struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                               struct fuse_file_info *fi_out, size_t len, int flags)
{
  ssize_t n;
  if (bindfs_of(req)->opts.ro) return (void)fuse_reply_err(req, EROFS);
  n = copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh, &off_out, len, (unsigned)flags);
  if (n < 0) fuse_reply_err(req, errno);
  else fuse_reply_write(req, (size_t)n);
}

void bindfs_file_ops(struct fuse_lowlevel_ops *ops)
{
  ops->open = op_open;
  ops->create = op_create;
  ops->read = op_read;
  ops->write_buf = op_write_buf;
  ops->release = op_release;
  ops->fsync = op_fsync;
  ops->fallocate = op_fallocate;
  ops->lseek = op_lseek;
  ops->copy_file_range = op_copy_file_range;
}

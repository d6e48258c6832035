/* Extended attributes: get, set, list, remove, on the source inode through
 * its /proc/self/fd magic link (xattr syscalls refuse O_PATH fds). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "bindfs.h"
#include "cleanup.h"

#define XATTR_SIZE_MAX_ 65536

/* The kernel keeps user.* off symlinks (and other non-regular, non-dir
 * inodes); the magic link path would report that as ENOENT, so the rule is
 * applied here with the kernel's own errors. */
static bool user_ns_refused(const struct bindfs_inode *in, const char *name)
{
  return strncmp(name, "user.", 5) == 0 && in->type != S_IFREG && in->type != S_IFDIR;
}

static ssize_t do_getxattr(struct bindfs *fs, fuse_ino_t ino, const char *name, char *buf,
                           size_t size)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  char proc[64];
  ssize_t n;
  if (user_ns_refused(in, name)) return -ENODATA;
  bindfs_proc_path(in, proc, sizeof(proc));
  n = getxattr(proc, name, buf, size);
  return n < 0 ? -errno : n;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
  cleanup_free char *buf = NULL;
  ssize_t n;
  if (size > XATTR_SIZE_MAX_) size = XATTR_SIZE_MAX_;
  if (size && (buf = malloc(size)) == NULL) return (void)fuse_reply_err(req, ENOMEM);
  n = do_getxattr(bindfs_of(req), ino, name, buf, size);
  if (n < 0) fuse_reply_err(req, (int)-n);
  else if (size == 0) fuse_reply_xattr(req, (size_t)n);
  else fuse_reply_buf(req, buf, (size_t)n);
}

static ssize_t do_listxattr(struct bindfs *fs, fuse_ino_t ino, char *buf, size_t size)
{
  char proc[64];
  ssize_t n;
  bindfs_proc_path(bindfs_inode_of(fs, ino), proc, sizeof(proc));
  n = listxattr(proc, buf, size);
  return n < 0 ? -errno : n;
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
  cleanup_free char *buf = NULL;
  ssize_t n;
  if (size > XATTR_SIZE_MAX_) size = XATTR_SIZE_MAX_;
  if (size && (buf = malloc(size)) == NULL) return (void)fuse_reply_err(req, ENOMEM);
  n = do_listxattr(bindfs_of(req), ino, buf, size);
  if (n < 0) fuse_reply_err(req, (int)-n);
  else if (size == 0) fuse_reply_xattr(req, (size_t)n);
  else fuse_reply_buf(req, buf, (size_t)n);
}

static int do_setxattr(struct bindfs *fs, fuse_ino_t ino, const char *name, const char *value,
                       size_t size, int flags)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  char proc[64];
  if (fs->opts.ro) return EROFS;
  if (user_ns_refused(in, name)) return EPERM;
  bindfs_proc_path(in, proc, sizeof(proc));
  return setxattr(proc, name, value, size, flags) < 0 ? errno : 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
  fuse_reply_err(req, do_setxattr(bindfs_of(req), ino, name, value, size, flags));
}

static int do_removexattr(struct bindfs *fs, fuse_ino_t ino, const char *name)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  char proc[64];
  if (fs->opts.ro) return EROFS;
  if (user_ns_refused(in, name)) return EPERM;
  bindfs_proc_path(in, proc, sizeof(proc));
  return removexattr(proc, name) < 0 ? errno : 0;
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
  fuse_reply_err(req, do_removexattr(bindfs_of(req), ino, name));
}

void bindfs_xattr_ops(struct fuse_lowlevel_ops *ops)
{
  ops->getxattr = op_getxattr;
  ops->listxattr = op_listxattr;
  ops->setxattr = op_setxattr;
  ops->removexattr = op_removexattr;
}

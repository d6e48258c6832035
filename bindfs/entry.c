/* Names and attributes: lookup, forget, getattr/setattr, readlink, the
 * ops that create or remove names (mknod, mkdir, symlink, link, unlink,
 * rmdir, rename), statfs and access. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bindfs.h"
#include "cleanup.h"

void bindfs_proc_path(const struct bindfs_inode *in, char *buf, size_t len)
{
  snprintf(buf, len, "/proc/self/fd/%d", in->fd);
}

void bindfs_map_attr(const struct bindfs *fs, struct stat *st)
{
  st->st_uid = bindfs_map_show(&fs->opts.map.uid, st->st_uid);
  st->st_gid = bindfs_map_show(&fs->opts.map.gid, st->st_gid);
}

static int stat_fd(int fd, struct stat *st)
{
  return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

int bindfs_set_owner(struct bindfs *fs, fuse_req_t req, int parent_fd, int fd)
{
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  uid_t uid = bindfs_map_store(&fs->opts.map.uid, ctx->uid);
  gid_t gid = bindfs_map_store(&fs->opts.map.gid, ctx->gid);
  struct stat st, pst;

  if (!fs->privileged) return 0;
  if (uid == fs->euid && gid == fs->egid) return 0; /* the daemon's own: as created */
  if (stat_fd(fd, &st) != 0) return -errno;
  /* A set-group-id directory hands its group down, as in the kernel. */
  if (stat_fd(parent_fd, &pst) == 0 && (pst.st_mode & S_ISGID)) gid = pst.st_gid;
  if (st.st_uid == uid && st.st_gid == gid) return 0;
  if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return -errno;
  return 1;
}

int bindfs_do_lookup(struct bindfs *fs, fuse_ino_t parent, const char *name,
                     struct fuse_entry_param *e)
{
  struct bindfs_inode *dir = bindfs_inode_of(fs, parent), *in;
  cleanup_close int fd = -1;
  int r;

  memset(e, 0, sizeof(*e));
  e->attr_timeout = fs->opts.attr_timeout;
  e->entry_timeout = fs->opts.entry_timeout;
  fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  if ((r = stat_fd(fd, &e->attr)) != 0) return r;
  in = bindfs_inode_get(&fs->inodes, runm_steal_fd(&fd), &e->attr);
  if (in == NULL) return ENOMEM;
  bindfs_map_attr(fs, &e->attr);
  e->ino = (uintptr_t)in;
  return 0;
}

static void reply_entry(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
  if (r == 0) fuse_reply_entry(req, e);
  else fuse_reply_err(req, r);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
  struct bindfs *fs = bindfs_of(req);
  struct fuse_entry_param e;
  int r = bindfs_do_lookup(fs, parent, name, &e);
  /* A negative entry (ino 0) lets the kernel cache the miss. */
  if (r == ENOENT && fs->opts.negative_timeout > 0) {
    memset(&e, 0, sizeof(e));
    e.entry_timeout = fs->opts.negative_timeout;
    r = 0;
  }
  reply_entry(req, r, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
  struct bindfs *fs = bindfs_of(req);
  bindfs_inode_unref(&fs->inodes, bindfs_inode_of(fs, ino), nlookup);
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
  struct bindfs *fs = bindfs_of(req);
  for (size_t i = 0; i < count; i++)
    bindfs_inode_unref(&fs->inodes, bindfs_inode_of(fs, forgets[i].ino), forgets[i].nlookup);
  fuse_reply_none(req);
}

static int do_getattr(struct bindfs *fs, fuse_ino_t ino, struct stat *st)
{
  int r = stat_fd(bindfs_inode_of(fs, ino)->fd, st);
  if (r == 0) bindfs_map_attr(fs, st);
  return r;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
  struct bindfs *fs = bindfs_of(req);
  struct stat st;
  int r = do_getattr(fs, ino, &st);
  if (r) fuse_reply_err(req, r);
  else fuse_reply_attr(req, &st, fs->opts.attr_timeout);
}

static int do_setattr(struct bindfs *fs, fuse_ino_t ino, const struct stat *attr, int valid,
                      const struct fuse_file_info *fi, struct stat *out)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  char proc[64];
  int fh = fi ? (int)fi->fh : -1;

  if (fs->opts.ro) return EROFS;
  bindfs_proc_path(in, proc, sizeof(proc));
  if (valid & FUSE_SET_ATTR_MODE) {
    int r = fh >= 0 ? fchmod(fh, attr->st_mode) : fchmodat(AT_FDCWD, proc, attr->st_mode, 0);
    if (r < 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = valid & FUSE_SET_ATTR_UID ? bindfs_map_store(&fs->opts.map.uid, attr->st_uid) : (uid_t)-1;
    gid_t gid = valid & FUSE_SET_ATTR_GID ? bindfs_map_store(&fs->opts.map.gid, attr->st_gid) : (gid_t)-1;
    if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return errno;
  }
  if (valid & FUSE_SET_ATTR_SIZE) {
    int r = fh >= 0 ? ftruncate(fh, attr->st_size) : truncate(proc, attr->st_size);
    if (r < 0) return errno;
  }
  if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (valid & FUSE_SET_ATTR_ATIME_NOW) tv[0].tv_nsec = UTIME_NOW;
    else if (valid & FUSE_SET_ATTR_ATIME) tv[0] = attr->st_atim;
    if (valid & FUSE_SET_ATTR_MTIME_NOW) tv[1].tv_nsec = UTIME_NOW;
    else if (valid & FUSE_SET_ATTR_MTIME) tv[1] = attr->st_mtim;
    /* AT_EMPTY_PATH on the O_PATH fd: works for symlinks too. */
    int r = fh >= 0 ? futimens(fh, tv) : utimensat(in->fd, "", tv, AT_EMPTY_PATH);
    if (r < 0) return errno;
  }
  return do_getattr(fs, ino, out);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
                       struct fuse_file_info *fi)
{
  struct bindfs *fs = bindfs_of(req);
  struct stat st;
  int r = do_setattr(fs, ino, attr, valid, fi, &st);
  if (r) fuse_reply_err(req, r);
  else fuse_reply_attr(req, &st, fs->opts.attr_timeout);
}

static int do_readlink(struct bindfs *fs, fuse_ino_t ino, char *buf, size_t len)
{
  ssize_t n = readlinkat(bindfs_inode_of(fs, ino)->fd, "", buf, len);
  if (n < 0) return errno;
  if ((size_t)n >= len) return ENAMETOOLONG;
  buf[n] = '\0';
  return 0;
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
  char buf[PATH_MAX + 1];
  int r = do_readlink(bindfs_of(req), ino, buf, sizeof(buf));
  if (r) fuse_reply_err(req, r);
  else fuse_reply_readlink(req, buf);
}

/* mknod, mkdir and symlink: make the node, give it to its creator, look
 * it up. A node that cannot be given away is removed again. */
static int do_make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
                   const char *link, struct fuse_entry_param *e)
{
  struct bindfs *fs = bindfs_of(req);
  int dfd = bindfs_inode_of(fs, parent)->fd;
  int r;

  if (fs->opts.ro) return EROFS;
  if (link) r = symlinkat(link, dfd, name);
  else if (S_ISDIR(mode)) r = mkdirat(dfd, name, mode & 07777);
  else r = mknodat(dfd, name, mode, rdev);
  if (r < 0) return errno;
  r = bindfs_do_lookup(fs, parent, name, e);
  if (r) return r;
  r = bindfs_set_owner(fs, req, dfd, bindfs_inode_of(fs, e->ino)->fd);
  if (r > 0) {
    /* The reply must show the new owner (and the ctime chown set). */
    struct stat st;
    if (do_getattr(fs, e->ino, &st) == 0) e->attr = st;
    return 0;
  }
  if (r < 0) {
    unlinkat(dfd, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0);
    bindfs_inode_unref(&fs->inodes, bindfs_inode_of(fs, e->ino), 1);
    return -r;
  }
  return 0;
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
  struct fuse_entry_param e;
  reply_entry(req, do_make(req, parent, name, mode, rdev, NULL, &e), &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
  struct fuse_entry_param e;
  reply_entry(req, do_make(req, parent, name, S_IFDIR | mode, 0, NULL, &e), &e);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
  struct fuse_entry_param e;
  reply_entry(req, do_make(req, parent, name, S_IFLNK | 0777, 0, link, &e), &e);
}

static int do_link(struct bindfs *fs, fuse_ino_t ino, fuse_ino_t newparent, const char *name,
                   struct fuse_entry_param *e)
{
  struct bindfs_inode *in = bindfs_inode_of(fs, ino);
  int dfd = bindfs_inode_of(fs, newparent)->fd;

  if (fs->opts.ro) return EROFS;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc's magic link does not. */
  if (linkat(in->fd, "", dfd, name, AT_EMPTY_PATH) < 0) {
    char proc[64];
    if (errno != ENOENT && errno != EPERM) return errno;
    bindfs_proc_path(in, proc, sizeof(proc));
    if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0) return errno;
  }
  memset(e, 0, sizeof(*e));
  e->attr_timeout = fs->opts.attr_timeout;
  e->entry_timeout = fs->opts.entry_timeout;
  if (stat_fd(in->fd, &e->attr) != 0) return errno;
  bindfs_map_attr(fs, &e->attr);
  bindfs_inode_ref(&fs->inodes, in);
  e->ino = (uintptr_t)in;
  return 0;
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
  struct fuse_entry_param e;
  reply_entry(req, do_link(bindfs_of(req), ino, newparent, newname, &e), &e);
}

static int do_unlink(struct bindfs *fs, fuse_ino_t parent, const char *name, int flags)
{
  if (fs->opts.ro) return EROFS;
  return unlinkat(bindfs_inode_of(fs, parent)->fd, name, flags) < 0 ? errno : 0;
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
  fuse_reply_err(req, do_unlink(bindfs_of(req), parent, name, 0));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
  fuse_reply_err(req, do_unlink(bindfs_of(req), parent, name, AT_REMOVEDIR));
}

static int do_rename(struct bindfs *fs, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                     const char *newname, unsigned flags)
{
  if (fs->opts.ro) return EROFS;
  /* RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT pass through. */
  return renameat2(bindfs_inode_of(fs, parent)->fd, name, bindfs_inode_of(fs, newparent)->fd,
                   newname, flags) < 0
             ? errno
             : 0;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
  fuse_reply_err(req, do_rename(bindfs_of(req), parent, name, newparent, newname, flags));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
  struct statvfs sv;
  if (fstatvfs(bindfs_inode_of(bindfs_of(req), ino)->fd, &sv) < 0) fuse_reply_err(req, errno);
  else fuse_reply_statfs(req, &sv);
}

/* Only asked without default_permissions: the daemon checks for itself. */
static int do_access(struct bindfs *fs, fuse_ino_t ino, int mask)
{
  char proc[64];
  if (fs->opts.ro && (mask & W_OK)) return EROFS;
  bindfs_proc_path(bindfs_inode_of(fs, ino), proc, sizeof(proc));
  return faccessat(AT_FDCWD, proc, mask, 0) < 0 ? errno : 0;
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
  fuse_reply_err(req, do_access(bindfs_of(req), ino, mask));
}

void bindfs_entry_ops(struct fuse_lowlevel_ops *ops)
{
  ops->lookup = op_lookup;
  ops->forget = op_forget;
  ops->forget_multi = op_forget_multi;
  ops->getattr = op_getattr;
  ops->setattr = op_setattr;
  ops->readlink = op_readlink;
  ops->mknod = op_mknod;
  ops->mkdir = op_mkdir;
  ops->symlink = op_symlink;
  ops->link = op_link;
  ops->unlink = op_unlink;
  ops->rmdir = op_rmdir;
  ops->rename = op_rename;
  ops->statfs = op_statfs;
  ops->access = op_access;
}

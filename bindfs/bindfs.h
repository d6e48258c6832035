/* runm-bindfs's file-system state and the helpers its op files share.
 * The ops follow libfuse's example/passthrough_ll.c: each FUSE op is a
 * do_* function that returns 0 or a positive errno, under a thin op_*
 * wrapper that sends the reply. */
#ifndef BINDFS_BINDFS_H
#define BINDFS_BINDFS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "inode.h"
#include "options.h"

struct bindfs {
  /* Fixed once the session starts. */
  struct bindfs_options opts;
  int proc_fd;     /* /proc/self/fd: reopens an O_PATH fd with real access modes */
  bool privileged; /* euid 0: new inodes are chowned to their creator */
  uid_t euid;      /* the daemon's ids: what new inodes get by default */
  gid_t egid;
  /* Locks of its own; see inode.h. */
  struct bindfs_inodes inodes;
};

static inline struct bindfs *bindfs_of(fuse_req_t req)
{
  return (struct bindfs *)fuse_req_userdata(req);
}

static inline struct bindfs_inode *bindfs_inode_of(struct bindfs *fs, fuse_ino_t ino)
{
  return ino == FUSE_ROOT_ID ? &fs->inodes.root : (struct bindfs_inode *)(uintptr_t)ino;
}

/* entry.c */
/* Looks name up under parent: fills e (attributes mapped) and takes a
 * lookup reference on the inode. */
int bindfs_do_lookup(struct bindfs *fs, fuse_ino_t parent, const char *name,
                     struct fuse_entry_param *e);
/* Source attributes -> what the mount shows (uid/gid map). */
void bindfs_map_attr(const struct bindfs *fs, struct stat *st);
/* Gives a just-created inode to the caller (ids mapped back to the
 * source), as the kernel does for a creator; fd may be O_PATH. Returns 1
 * when it changed the owner, 0 when there was nothing to do, -errno. */
int bindfs_set_owner(struct bindfs *fs, fuse_req_t req, int parent_fd, int fd);
/* "/proc/self/fd/N" for an inode's fd: path-only syscalls on the inode. */
void bindfs_proc_path(const struct bindfs_inode *in, char *buf, size_t len);

/* ops.c: the complete op table (init, destroy and each file's ops). */
void bindfs_ops_fill(struct fuse_lowlevel_ops *ops);
/* Each op file's share of the table. */
void bindfs_entry_ops(struct fuse_lowlevel_ops *ops);
void bindfs_file_ops(struct fuse_lowlevel_ops *ops);
void bindfs_dir_ops(struct fuse_lowlevel_ops *ops);
void bindfs_xattr_ops(struct fuse_lowlevel_ops *ops);

#endif

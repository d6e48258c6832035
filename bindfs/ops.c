/* The FUSE op table and the connection setup: which kernel features
 * runm-bindfs asks for, and why. */
#include <string.h>

#include "bindfs.h"

#define MAX_WRITE (1u << 20)

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
  struct bindfs *fs = userdata;

  /* Large requests: 1 MiB writes (the kernel's FUSE_MAX_MAX_PAGES), as
   * much readahead as the kernel offers. */
  conn->max_write = MAX_WRITE;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  /* Splice file data between the source file and /dev/fuse: reads reach
   * the kernel without a copy through this process. */
  if (!fs->opts.no_splice)
    conn->want |= conn->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  else
    conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  /* Requests are read with one read(2). libfuse turns splice reads on when
   * write_buf exists; they cost every request (LOOKUP, GETATTR...) a splice
   * into a pipe plus a read out of it, to spare one copy of WRITE data. */
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  if (fs->opts.writeback) conn->want |= conn->capable & FUSE_CAP_WRITEBACK_CACHE;
  if (fs->opts.no_readdirplus) conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  else conn->want |= conn->capable & (FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  /* open(O_TRUNC) in one request instead of open + setattr. */
  conn->want |= conn->capable & FUSE_CAP_ATOMIC_O_TRUNC;
  /* Cached pages are dropped when the source's mtime or size changes. */
  conn->want |= conn->capable & FUSE_CAP_AUTO_INVAL_DATA;
  if (fs->opts.cache != BINDFS_CACHE_NEVER) conn->want |= conn->capable & FUSE_CAP_CACHE_SYMLINKS;
  conn->want |= conn->capable & FUSE_CAP_PARALLEL_DIROPS;
  /* Locks stay in the kernel (local to this mount), as without getlk. */
  conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

void bindfs_ops_fill(struct fuse_lowlevel_ops *ops)
{
  memset(ops, 0, sizeof(*ops));
  ops->init = op_init;
  bindfs_entry_ops(ops);
  bindfs_file_ops(ops);
  bindfs_dir_ops(ops);
  bindfs_xattr_ops(ops);
}

/* Squashfs output for runm-mkimage, on libsquashfs's low-level writers
 * (block processor, meta writers, directory writer), like gensquashfs does
 * but with every time, owner and ordering fixed. */
#include "sqfs_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>

#include "cleanup.h"

#define BLOCK_SIZE SQFS_DEFAULT_BLOCK_SIZE
/* Pad the image to this, so it is a whole number of device blocks. */
#define DEVBLK_SIZE 4096
#define READ_CHUNK (256 * 1024)

/* ---- an sqfs_file_t on an fd we own elsewhere (the temporary output) ---- */

struct fd_file {
  sqfs_file_t base;
  int fd;
  sqfs_u64 size;
  int last_errno; /* why the last I/O failed, for the error message */
};

static void fd_file_destroy(sqfs_object_t *obj)
{
  free(obj);
}

/* All of size bytes at offset: read into rd, or written from wr when rd is
 * NULL; short transfers and EINTR retried. */
static int fd_file_xfer(struct fd_file *f, sqfs_u64 offset, char *rd, const char *wr, size_t size)
{
  size_t done = 0;
  while (done < size) {
    off_t at = (off_t)(offset + done);
    ssize_t n = rd ? pread(f->fd, rd + done, size - done, at) : pwrite(f->fd, wr + done, size - done, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      f->last_errno = n < 0 ? errno : EIO;
      return SQFS_ERROR_IO;
    }
    done += (size_t)n;
  }
  return 0;
}

static int fd_file_read_at(sqfs_file_t *file, sqfs_u64 offset, void *buffer, size_t size)
{
  struct fd_file *f = (struct fd_file *)file;

  if (offset > f->size || size > f->size - offset) return SQFS_ERROR_OUT_OF_BOUNDS;
  return fd_file_xfer(f, offset, buffer, NULL, size);
}

static int fd_file_write_at(sqfs_file_t *file, sqfs_u64 offset, const void *buffer, size_t size)
{
  struct fd_file *f = (struct fd_file *)file;
  sqfs_u64 end = offset + size;
  int ret = fd_file_xfer(f, offset, NULL, buffer, size);

  if (ret != 0) return ret;
  if (end > f->size) f->size = end;
  return 0;
}

static sqfs_u64 fd_file_get_size(const sqfs_file_t *file)
{
  return ((const struct fd_file *)file)->size;
}

static int fd_file_truncate(sqfs_file_t *file, sqfs_u64 size)
{
  struct fd_file *f = (struct fd_file *)file;
  if (ftruncate(f->fd, (off_t)size) < 0) {
    f->last_errno = errno;
    return SQFS_ERROR_IO;
  }
  f->size = size;
  return 0;
}

static struct fd_file *fd_file_new(int fd)
{
  struct fd_file *f = calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  f->base.base.destroy = fd_file_destroy;
  f->base.base.copy = NULL;
  f->base.read_at = fd_file_read_at;
  f->base.write_at = fd_file_write_at;
  f->base.get_size = fd_file_get_size;
  f->base.truncate = fd_file_truncate;
  f->fd = fd;
  return f;
}

/* ---- writer state ---- */

struct sqfs_out {
  const char *name;
  struct fd_file *file;
  sqfs_compressor_t *cmp, *uncmp;
  sqfs_block_writer_t *blkwr;
  sqfs_frag_table_t *frags;
  sqfs_block_processor_t *proc;
  sqfs_id_table_t *ids;
  sqfs_meta_writer_t *im, *dm;
  sqfs_dir_writer_t *dirwr;
  sqfs_super_t super;
  struct mk_node **by_ino; /* inode number - 1 -> node */
  uint32_t n_inodes;
  uint32_t file_flags; /* SQFS_BLK_DONT_COMPRESS for raw data */
};

static void sqfs_out_release(struct sqfs_out *o)
{
  /* Reverse order of creation: users before what they use. */
  sqfs_destroy(o->dirwr);
  sqfs_destroy(o->dm);
  sqfs_destroy(o->im);
  sqfs_destroy(o->ids);
  sqfs_destroy(o->proc);
  sqfs_destroy(o->frags);
  sqfs_destroy(o->blkwr);
  sqfs_destroy(o->uncmp);
  sqfs_destroy(o->cmp);
  sqfs_destroy(o->file);
  free(o->by_ino);
}

static const char *sqfs_strerror(int code)
{
  switch (code) {
  case SQFS_ERROR_ALLOC:
    return "out of memory";
  case SQFS_ERROR_IO:
    return "I/O error";
  case SQFS_ERROR_COMPRESSOR:
    return "compressor error";
  case SQFS_ERROR_INTERNAL:
    return "internal error";
  case SQFS_ERROR_CORRUPTED:
    return "corrupted data";
  case SQFS_ERROR_UNSUPPORTED:
    return "unsupported";
  case SQFS_ERROR_OVERFLOW:
    return "numeric overflow";
  case SQFS_ERROR_OUT_OF_BOUNDS:
    return "out of bounds";
  case SQFS_ERROR_ARG_INVALID:
    return "invalid argument";
  case SQFS_ERROR_SEQUENCE:
    return "call sequence error";
  default:
    return "libsquashfs error";
  }
}

/* Turns a libsquashfs error code into a runm error, with the errno of a
 * failed write when there is one. */
static int fail(struct sqfs_out *o, int code, const char *what, runm_error_t *err)
{
  if (code == SQFS_ERROR_ALLOC) return runm_make_error(err, ENOMEM, "`%s`: %s", o->name, what);
  if (code == SQFS_ERROR_IO && o->file != NULL && o->file->last_errno != 0)
    return runm_make_error(err, o->file->last_errno, "`%s`: %s", o->name, what);
  return runm_make_error(err, 0, "`%s`: %s: %s", o->name, what, sqfs_strerror(code));
}

static int sqfs_out_init(struct sqfs_out *o, int fd, const char *compressor, runm_error_t *err)
{
  sqfs_block_processor_desc_t desc;
  sqfs_compressor_config_t cfg;
  int id, ret;

  id = sqfs_compressor_id_from_name(compressor);
  if (id != SQFS_COMP_GZIP && id != SQFS_COMP_XZ && id != SQFS_COMP_ZSTD)
    return runm_make_error(err, EINVAL, "unsupported compressor `%s` (gzip, xz or zstd)",
                           compressor);

  o->file = fd_file_new(fd);
  if (o->file == NULL) return runm_make_error(err, ENOMEM, "allocate");

  ret = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)id, BLOCK_SIZE, 0);
  if (ret == 0) ret = sqfs_compressor_create(&cfg, &o->cmp);
  if (ret != 0) return fail(o, ret, "create compressor", err);
  cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
  ret = sqfs_compressor_create(&cfg, &o->uncmp);
  if (ret != 0) return fail(o, ret, "create decompressor", err);

  /* mtime 0: no build time in the superblock. */
  ret = sqfs_super_init(&o->super, BLOCK_SIZE, 0, (SQFS_COMPRESSOR)id);
  if (ret == 0) ret = sqfs_super_write(&o->super, &o->file->base);
  if (ret != 0) return fail(o, ret, "write superblock", err);
  ret = o->cmp->write_options(o->cmp, &o->file->base);
  if (ret < 0) return fail(o, ret, "write compressor options", err);
  if (ret > 0) o->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

  o->blkwr = sqfs_block_writer_create(&o->file->base, DEVBLK_SIZE, 0);
  o->frags = sqfs_frag_table_create(0);
  o->ids = sqfs_id_table_create(0);
  o->im = sqfs_meta_writer_create(&o->file->base, o->cmp, 0);
  o->dm = sqfs_meta_writer_create(&o->file->base, o->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
  if (o->blkwr == NULL || o->frags == NULL || o->ids == NULL || o->im == NULL || o->dm == NULL)
    return runm_make_error(err, ENOMEM, "`%s`: create squashfs writers", o->name);
  o->dirwr = sqfs_dir_writer_create(o->dm, 0);
  if (o->dirwr == NULL) return runm_make_error(err, ENOMEM, "`%s`: create dir writer", o->name);

  /* One worker: the output order never depends on thread timing. */
  memset(&desc, 0, sizeof(desc));
  desc.size = sizeof(desc);
  desc.max_block_size = BLOCK_SIZE;
  desc.num_workers = 1;
  desc.max_backlog = 16;
  desc.cmp = o->cmp;
  desc.wr = o->blkwr;
  desc.tbl = o->frags;
  desc.file = &o->file->base;
  desc.uncmp = o->uncmp;
  ret = sqfs_block_processor_create_ex(&desc, &o->proc);
  if (ret != 0) return fail(o, ret, "create block processor", err);
  return 0;
}

/* ---- file data ---- */

static int append_file(struct sqfs_out *o, const struct mk_node *n, runm_error_t *err)
{
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  int ret;

  if (n->src == NULL) {
    ret = sqfs_block_processor_append(o->proc, n->data, n->data_len);
    return ret ? fail(o, ret, "write file data", err) : 0;
  }
  fd = open(n->src, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open `%s`", n->src);
  buf = malloc(READ_CHUNK);
  if (buf == NULL) return runm_make_error(err, ENOMEM, "allocate");
  for (;;) {
    ssize_t r = read(fd, buf, READ_CHUNK);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return runm_make_error(err, errno, "read `%s`", n->src);
    if (r == 0) return 0;
    ret = sqfs_block_processor_append(o->proc, buf, (size_t)r);
    if (ret) return fail(o, ret, "write file data", err);
  }
}

static int write_data(struct sqfs_out *o, struct mk_node *n, runm_error_t *err)
{
  size_t i;
  int ret;

  if (n->kind == MK_FILE) {
    ret = sqfs_block_processor_begin_file(o->proc, &n->inode, NULL, o->file_flags);
    if (ret) return fail(o, ret, "begin file", err);
    ret = append_file(o, n, err);
    if (ret < 0) return ret;
    ret = sqfs_block_processor_end_file(o->proc);
    if (ret) return fail(o, ret, "end file", err);
  }
  for (i = 0; i < n->n_children; i++) {
    ret = write_data(o, n->children[i], err);
    if (ret < 0) return ret;
  }
  return 0;
}

/* ---- inodes and directories ---- */

/* gensquashfs's numbering: a directory's children are numbered after the
 * contents of its subdirectories and before the directory itself, so every
 * inode is written after everything it refers to; the root comes last. */
static int number_inodes(struct sqfs_out *o, struct mk_node *dir, runm_error_t *err)
{
  size_t i;
  int ret;

  for (i = 0; i < dir->n_children; i++) {
    if (dir->children[i]->kind != MK_DIR) continue;
    ret = number_inodes(o, dir->children[i], err);
    if (ret < 0) return ret;
  }
  for (i = 0; i < dir->n_children; i++) {
    if (o->n_inodes == UINT32_MAX - 1) return runm_make_error(err, EOVERFLOW, "too many inodes");
    dir->children[i]->ino = ++o->n_inodes;
  }
  return 0;
}

static void fill_by_ino(struct sqfs_out *o, struct mk_node *n)
{
  size_t i;
  o->by_ino[n->ino - 1] = n;
  for (i = 0; i < n->n_children; i++) fill_by_ino(o, n->children[i]);
}

static uint16_t sqfs_mode(const struct mk_node *n)
{
  switch (n->kind) {
  case MK_DIR:
    return (uint16_t)(S_IFDIR | n->perm);
  case MK_FILE:
    return (uint16_t)(S_IFREG | n->perm);
  case MK_SYMLINK:
    return (uint16_t)(S_IFLNK | n->perm);
  case MK_CHARDEV:
    return (uint16_t)(S_IFCHR | n->perm);
  default:
    return 0;
  }
}

/* The kernel's new_encode_dev(), which squashfs stores. */
static uint32_t encode_dev(dev_t d)
{
  unsigned ma = major(d), mi = minor(d);
  return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

static int dir_inode(struct sqfs_out *o, struct mk_node *n, sqfs_inode_generic_t **out,
                     runm_error_t *err)
{
  sqfs_inode_generic_t *inode;
  uint32_t nlink = 2 + (uint32_t)mk_tree_subdirs(n);
  /* The root's ".." points one past the last inode, as mksquashfs does. */
  uint32_t parent = n->parent ? n->parent->ino : o->n_inodes + 1;
  size_t i;
  int ret;

  ret = sqfs_dir_writer_begin(o->dirwr, 0);
  if (ret) return fail(o, ret, "begin directory", err);
  for (i = 0; i < n->n_children; i++) {
    struct mk_node *c = n->children[i];
    ret = sqfs_dir_writer_add_entry(o->dirwr, c->name, c->ino, c->inode_ref, sqfs_mode(c));
    if (ret) return fail(o, ret, "add directory entry", err);
  }
  ret = sqfs_dir_writer_end(o->dirwr);
  if (ret) return fail(o, ret, "end directory", err);
  inode = sqfs_dir_writer_create_inode(o->dirwr, nlink, 0xFFFFFFFF, parent);
  if (inode == NULL) return runm_make_error(err, ENOMEM, "allocate directory inode");
  if (inode->base.type == SQFS_INODE_DIR)
    inode->data.dir.nlink = nlink;
  else
    inode->data.dir_ext.nlink = nlink;
  *out = inode;
  return 0;
}

static int other_inode(const struct mk_node *n, sqfs_inode_generic_t **out, runm_error_t *err)
{
  size_t extra = n->kind == MK_SYMLINK ? strlen(n->target) : 0;
  sqfs_inode_generic_t *inode = calloc(1, sizeof(*inode) + extra);

  if (inode == NULL) return runm_make_error(err, ENOMEM, "allocate inode");
  if (n->kind == MK_SYMLINK) {
    inode->base.type = SQFS_INODE_SLINK;
    inode->data.slink.nlink = 1;
    inode->data.slink.target_size = (sqfs_u32)extra;
    memcpy(inode->extra, n->target, extra);
    inode->payload_bytes_available = inode->payload_bytes_used = (sqfs_u32)extra;
  } else {
    inode->base.type = SQFS_INODE_CDEV;
    inode->data.dev.nlink = 1;
    inode->data.dev.devno = encode_dev(n->rdev);
  }
  *out = inode;
  return 0;
}

static int write_inode(struct sqfs_out *o, struct mk_node *n, runm_error_t *err)
{
  sqfs_inode_generic_t *inode = NULL;
  sqfs_u64 block;
  sqfs_u32 offset;
  int ret;

  switch (n->kind) {
  case MK_DIR:
    ret = dir_inode(o, n, &inode, err);
    break;
  case MK_FILE:
    /* Filled in by the block processor; nlink 1 needs no extended inode. */
    inode = steal_pointer(&n->inode);
    ret = inode ? 0 : runm_make_error(err, 0, "`%s`: file has no inode", n->name);
    break;
  case MK_SYMLINK:
  case MK_CHARDEV:
    ret = other_inode(n, &inode, err);
    break;
  default:
    ret = runm_make_error(err, EINVAL, "unknown node kind");
    break;
  }
  if (ret < 0) return ret;

  inode->base.mode = sqfs_mode(n);
  inode->base.mod_time = 0;
  inode->base.inode_number = n->ino;
  ret = sqfs_id_table_id_to_index(o->ids, 0, &inode->base.uid_idx);
  if (ret == 0) ret = sqfs_id_table_id_to_index(o->ids, 0, &inode->base.gid_idx);
  if (ret == 0) {
    sqfs_meta_writer_get_position(o->im, &block, &offset);
    n->inode_ref = (block << 16) | offset;
    ret = sqfs_meta_writer_write_inode(o->im, inode);
  }
  if (n->kind == MK_SYMLINK || n->kind == MK_CHARDEV)
    free(inode);
  else
    sqfs_free(inode);
  return ret ? fail(o, ret, "write inode", err) : 0;
}

static int write_tree(struct sqfs_out *o, struct mk_node *root, runm_error_t *err)
{
  uint32_t i;
  int ret;

  ret = number_inodes(o, root, err);
  if (ret < 0) return ret;
  root->ino = ++o->n_inodes;
  o->by_ino = calloc(o->n_inodes, sizeof(*o->by_ino));
  if (o->by_ino == NULL) return runm_make_error(err, ENOMEM, "allocate");
  fill_by_ino(o, root);

  o->super.inode_table_start = o->file->size;
  for (i = 0; i < o->n_inodes; i++) {
    ret = write_inode(o, o->by_ino[i], err);
    if (ret < 0) return ret;
  }
  ret = sqfs_meta_writer_flush(o->im);
  if (ret == 0) ret = sqfs_meta_writer_flush(o->dm);
  if (ret) return fail(o, ret, "flush metadata", err);
  o->super.root_inode_ref = root->inode_ref;
  o->super.directory_table_start = o->file->size;
  ret = sqfs_meta_write_write_to_file(o->dm);
  if (ret) return fail(o, ret, "write directory table", err);
  o->super.inode_count = o->n_inodes;
  return 0;
}

static int finish(struct sqfs_out *o, runm_error_t *err)
{
  static const char zeros[DEVBLK_SIZE];
  int ret;

  ret = sqfs_frag_table_write(o->frags, &o->file->base, &o->super, o->cmp);
  if (ret) return fail(o, ret, "write fragment table", err);
  ret = sqfs_id_table_write(o->ids, &o->file->base, &o->super, o->cmp);
  if (ret) return fail(o, ret, "write id table", err);
  o->super.bytes_used = o->file->size;
  ret = sqfs_super_write(&o->super, &o->file->base);
  if (ret) return fail(o, ret, "update superblock", err);
  if (o->file->size % DEVBLK_SIZE) {
    size_t pad = DEVBLK_SIZE - o->file->size % DEVBLK_SIZE;
    ret = o->file->base.write_at(&o->file->base, o->file->size, zeros, pad);
    if (ret) return fail(o, ret, "pad image", err);
  }
  return 0;
}

static void free_file_inodes(struct mk_node *n)
{
  size_t i;
  sqfs_free(n->inode);
  n->inode = NULL;
  for (i = 0; i < n->n_children; i++) free_file_inodes(n->children[i]);
}

int mk_write_squashfs(struct mk_node *root, int fd, const char *name, const char *compressor,
                      bool raw_data, runm_error_t *err)
{
  struct sqfs_out o = {.name = name, .file_flags = raw_data ? SQFS_BLK_DONT_COMPRESS : 0};
  int ret;

  ret = sqfs_out_init(&o, fd, compressor, err);
  if (ret == 0) ret = write_data(&o, root, err);
  if (ret == 0) {
    int r = sqfs_block_processor_finish(o.proc);
    if (r) ret = fail(&o, r, "write data blocks", err);
  }
  if (ret == 0) ret = write_tree(&o, root, err);
  if (ret == 0) ret = finish(&o, err);
  /* The block processor points into the tree's inode slots: destroy it
   * before freeing whatever is left there. */
  sqfs_out_release(&o);
  free_file_inodes(root);
  return ret;
}

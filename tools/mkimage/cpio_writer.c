/* newc cpio output for runm-mkimage's initramfs. */
#include "cpio_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"

#define NEWC_HEADER_LEN 110
#define READ_CHUNK (256 * 1024)

struct cpio_out {
  int fd;
  const char *name;
  uint64_t offset;
  uint32_t next_ino;
};

static int write_all(struct cpio_out *o, const void *buf, size_t len, runm_error_t *err)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = write(o->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "write `%s`", o->name);
    p += n;
    len -= (size_t)n;
    o->offset += (uint64_t)n;
  }
  return 0;
}

static int pad4(struct cpio_out *o, runm_error_t *err)
{
  static const char zeros[4];
  size_t pad = (4 - (o->offset & 3)) & 3;
  return pad ? write_all(o, zeros, pad, err) : 0;
}

struct newc_entry {
  uint32_t ino, mode, nlink, filesize, rdevmajor, rdevminor;
  const char *path;
};

static int write_header(struct cpio_out *o, const struct newc_entry *e, runm_error_t *err)
{
  char hdr[NEWC_HEADER_LEN + 1];
  size_t namesize = strlen(e->path) + 1;
  int ret;

  /* uid, gid, mtime, devmajor, devminor and check are always 0. */
  snprintf(hdr, sizeof(hdr),
           "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", e->ino, e->mode, 0u,
           0u, e->nlink, 0u, e->filesize, 0u, 0u, e->rdevmajor, e->rdevminor,
           (unsigned)namesize, 0u);
  ret = write_all(o, hdr, NEWC_HEADER_LEN, err);
  if (ret == 0) ret = write_all(o, e->path, namesize, err);
  if (ret == 0) ret = pad4(o, err);
  return ret;
}

static int copy_file(struct cpio_out *o, const char *src, uint64_t size, runm_error_t *err)
{
  cleanup_free char *buf = malloc(READ_CHUNK);
  cleanup_close int fd = -1;
  uint64_t left = size;
  char extra;
  int ret;

  if (buf == NULL) return runm_make_error(err, ENOMEM, "allocate");
  fd = open(src, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open `%s`", src);
  while (left > 0) {
    ssize_t n = read(fd, buf, left < READ_CHUNK ? (size_t)left : READ_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "read `%s`", src);
    if (n == 0) return runm_make_error(err, 0, "`%s` shrank while being read", src);
    ret = write_all(o, buf, (size_t)n, err);
    if (ret < 0) return ret;
    left -= (uint64_t)n;
  }
  if (read(fd, &extra, 1) != 0) return runm_make_error(err, 0, "`%s` grew while being read", src);
  return 0;
}

static int write_node(struct cpio_out *o, const struct mk_node *n, const char *path,
                      runm_error_t *err)
{
  struct newc_entry e = {.ino = ++o->next_ino, .nlink = 1, .path = path};
  struct stat st;
  int ret;

  switch (n->kind) {
  case MK_DIR:
    e.mode = S_IFDIR | n->perm;
    e.nlink = 2 + (uint32_t)mk_tree_subdirs(n);
    return write_header(o, &e, err);
  case MK_SYMLINK:
    e.mode = S_IFLNK | n->perm;
    e.filesize = (uint32_t)strlen(n->target);
    ret = write_header(o, &e, err);
    if (ret == 0) ret = write_all(o, n->target, e.filesize, err);
    return ret ? ret : pad4(o, err);
  case MK_CHARDEV:
    e.mode = S_IFCHR | n->perm;
    e.rdevmajor = major(n->rdev);
    e.rdevminor = minor(n->rdev);
    return write_header(o, &e, err);
  case MK_FILE:
    e.mode = S_IFREG | n->perm;
    if (n->src == NULL) {
      if (n->data_len > UINT32_MAX) return runm_make_error(err, EFBIG, "`%s`", path);
      e.filesize = (uint32_t)n->data_len;
      ret = write_header(o, &e, err);
      if (ret == 0) ret = write_all(o, n->data, n->data_len, err);
      return ret ? ret : pad4(o, err);
    }
    if (stat(n->src, &st) < 0) return runm_make_error(err, errno, "stat `%s`", n->src);
    if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "`%s` is not a regular file", n->src);
    /* newc sizes are 32-bit. */
    if ((uint64_t)st.st_size > UINT32_MAX) return runm_make_error(err, EFBIG, "`%s`", n->src);
    e.filesize = (uint32_t)st.st_size;
    ret = write_header(o, &e, err);
    if (ret == 0) ret = copy_file(o, n->src, (uint64_t)st.st_size, err);
    return ret ? ret : pad4(o, err);
  default:
    return runm_make_error(err, EINVAL, "unknown node kind");
  }
}

static int write_tree(struct cpio_out *o, const struct mk_node *dir, const char *prefix,
                      runm_error_t *err)
{
  size_t i;
  int ret;

  for (i = 0; i < dir->n_children; i++) {
    const struct mk_node *c = dir->children[i];
    cleanup_free char *path = NULL;

    if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", c->name) < 0)
      return runm_make_error(err, ENOMEM, "allocate");
    ret = write_node(o, c, path, err);
    if (ret == 0 && c->kind == MK_DIR) ret = write_tree(o, c, path, err);
    if (ret < 0) return ret;
  }
  return 0;
}

int mk_write_cpio(struct mk_node *root, int fd, const char *name, runm_error_t *err)
{
  struct cpio_out o = {.fd = fd, .name = name};
  struct newc_entry trailer = {.nlink = 1, .path = "TRAILER!!!"};
  int ret;

  ret = write_tree(&o, root, "", err);
  if (ret == 0) ret = write_header(&o, &trailer, err);
  return ret;
}

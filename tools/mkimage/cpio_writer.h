/* Serializes a runm-mkimage tree as a reproducible newc cpio archive (the
 * kernel's initramfs format), uncompressed. */
#ifndef RUNM_MKIMAGE_CPIO_WRITER_H
#define RUNM_MKIMAGE_CPIO_WRITER_H

#include "error.h"
#include "tree.h"

/* Write root (sorted by the caller; the root itself is not an entry) to fd:
 * entries in pre-order (parents before children), inode numbers 1, 2, ...
 * in that order, uid/gid/mtime/dev 0, then TRAILER!!!. name is used in
 * messages. */
int mk_write_cpio(struct mk_node *root, int fd, const char *name, runm_error_t *err);

#endif

/* Serializes a runm-mkimage tree as a reproducible squashfs image. */
#ifndef RUNM_MKIMAGE_SQFS_WRITER_H
#define RUNM_MKIMAGE_SQFS_WRITER_H

#include <stdbool.h>

#include "error.h"
#include "tree.h"

/* gzip: measured under QEMU TCG (runm's guest kernel, runc --version from
 * the image): gzip ~0.75 s, zstd ~1.0 s, xz ~1.9 s; zstd is only ~8%
 * smaller. zstd and xz stay available for KVM-only users. */
#define MK_SQFS_DEFAULT_COMPRESSOR "gzip"

/* Write root (sorted by the caller) to fd, which must be empty. Every
 * inode gets uid/gid 0 and mtime 0, the superblock time is 0, inode numbers
 * follow the tree order, data is written in tree order: the same tree gives
 * the same bytes. compressor is "gzip", "xz" or "zstd" (metadata, and file
 * data unless raw_data: then data blocks are stored as they are); name is
 * used in messages. */
int mk_write_squashfs(struct mk_node *root, int fd, const char *name, const char *compressor,
                      bool raw_data, runm_error_t *err);

#endif

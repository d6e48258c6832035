/* The in-memory file tree runm-mkimage builds before writing an image:
 * normalized relative paths, sorted children, fixed ownership and times. */
#ifndef RUNM_MKIMAGE_TREE_H
#define RUNM_MKIMAGE_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct sqfs_inode_generic_t;

enum mk_kind { MK_DIR, MK_FILE, MK_SYMLINK, MK_CHARDEV };

struct mk_node {
  char *name; /* one path component; "" for the root */
  enum mk_kind kind;
  mode_t perm;  /* permission bits only */
  char *src;    /* MK_FILE: host file to copy (or NULL with data) */
  char *data;   /* MK_FILE: in-memory content when src is NULL */
  size_t data_len;
  char *target; /* MK_SYMLINK */
  dev_t rdev;   /* MK_CHARDEV */
  struct mk_node *parent;
  struct mk_node **children; /* MK_DIR, sorted by mk_tree_sort */
  size_t n_children, cap_children;

  /* Scratch space for the image writers. */
  uint32_t ino;
  uint64_t inode_ref;
  struct sqfs_inode_generic_t *inode;
};

int mk_tree_new(struct mk_node **out, runm_error_t *err);
void mk_tree_free(struct mk_node *root);
static inline void mk_tree_freep(struct mk_node **root)
{
  mk_tree_free(*root);
}
#define cleanup_tree __attribute__((cleanup(mk_tree_freep)))

/* Add one entry at dst (relative, '/'-separated; no "." or ".." or empty
 * components), creating missing parent directories with mode 0755. Adding
 * the same file from the same source twice is a no-op; any other clash is
 * an error. For MK_FILE, src names the host file; the mode is normalized to
 * 0755 when any execute bit is set in perm, 0644 otherwise. */
int mk_tree_add_file(struct mk_node *root, const char *dst, const char *src, mode_t perm,
                     runm_error_t *err);
int mk_tree_add_data(struct mk_node *root, const char *dst, const char *data, size_t len,
                     mode_t perm, runm_error_t *err);
int mk_tree_add_symlink(struct mk_node *root, const char *dst, const char *target,
                        runm_error_t *err);
int mk_tree_add_dir(struct mk_node *root, const char *dst, mode_t perm, runm_error_t *err);
int mk_tree_add_chardev(struct mk_node *root, const char *dst, dev_t rdev, mode_t perm,
                        runm_error_t *err);
struct mk_node *mk_tree_lookup(struct mk_node *root, const char *dst);

/* Sort every directory's children by name (byte order), recursively. */
void mk_tree_sort(struct mk_node *root);
/* Number of subdirectories of a directory. */
size_t mk_tree_subdirs(const struct mk_node *dir);

#endif

/* The inode table: one entry per source inode the kernel knows about,
 * found by (st_dev, st_ino). An entry holds an O_PATH|O_NOFOLLOW fd on
 * the source inode and the kernel's lookup count; the FUSE node id is the
 * entry's address. */
#ifndef BINDFS_INODE_H
#define BINDFS_INODE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct bindfs_inode {
  /* Fixed from creation to free: no lock needed to read them. */
  int fd;      /* O_PATH|O_NOFOLLOW */
  dev_t dev;
  ino_t ino;
  mode_t type; /* S_IFMT bits */
  /* Guarded by bindfs_inodes.lock. */
  uint64_t nlookup;
  struct bindfs_inode *hash_next;
};

struct bindfs_inodes {
  pthread_mutex_t lock; /* guards buckets, n_buckets, count and every entry's nlookup/hash_next */
  struct bindfs_inode **buckets;
  size_t n_buckets, count;
  struct bindfs_inode root; /* never in the table, never freed */
};

/* Takes ownership of root_fd (O_PATH on the source directory). */
int bindfs_inodes_init(struct bindfs_inodes *t, int root_fd);
void bindfs_inodes_destroy(struct bindfs_inodes *t);

/* The entry for (st->st_dev, st->st_ino) with its lookup count raised by
 * one: an existing entry (fd is then closed), or a new one that takes fd.
 * NULL with errno = ENOMEM when allocation fails (fd is closed). */
struct bindfs_inode *bindfs_inode_get(struct bindfs_inodes *t, int fd, const struct stat *st);
/* Raises the lookup count of an entry the caller already holds. */
void bindfs_inode_ref(struct bindfs_inodes *t, struct bindfs_inode *in);
/* Drops n lookups (the kernel's FORGET); frees the entry at zero. */
void bindfs_inode_unref(struct bindfs_inodes *t, struct bindfs_inode *in, uint64_t n);
size_t bindfs_inodes_count(struct bindfs_inodes *t);

#endif

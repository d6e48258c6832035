/* The inode table (see inode.h): a chained hash on (dev, ino) that grows
 * with the number of inodes the kernel holds. */
#include "inode.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024

static size_t hash(dev_t dev, ino_t ino, size_t n)
{
  uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
  return (size_t)(h ^ (h >> 29)) & (n - 1);
}

int bindfs_inodes_init(struct bindfs_inodes *t, int root_fd)
{
  struct stat st;
  if (fstat(root_fd, &st) < 0) {
    int e = errno;
    close(root_fd);
    return -e;
  }
  t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
  if (t->buckets == NULL) {
    close(root_fd);
    return -ENOMEM;
  }
  pthread_mutex_init(&t->lock, NULL);
  t->n_buckets = INITIAL_BUCKETS;
  t->count = 0;
  t->root = (struct bindfs_inode){.fd = root_fd, .dev = st.st_dev, .ino = st.st_ino,
                                  .type = st.st_mode & S_IFMT, .nlookup = 2};
  return 0;
}

void bindfs_inodes_destroy(struct bindfs_inodes *t)
{
  for (size_t i = 0; i < t->n_buckets; i++) {
    struct bindfs_inode *in = t->buckets[i], *next;
    for (; in; in = next) {
      next = in->hash_next;
      close(in->fd);
      free(in);
    }
  }
  free(t->buckets);
  t->buckets = NULL;
  t->n_buckets = t->count = 0;
  if (t->root.fd >= 0) close(t->root.fd);
  t->root.fd = -1;
  pthread_mutex_destroy(&t->lock);
}

/* Called with the lock held; a failed grow leaves the table as it was. */
static void grow_locked(struct bindfs_inodes *t)
{
  size_t n = t->n_buckets * 2;
  struct bindfs_inode **b = calloc(n, sizeof(*b));
  if (b == NULL) return;
  for (size_t i = 0; i < t->n_buckets; i++) {
    struct bindfs_inode *in = t->buckets[i], *next;
    for (; in; in = next) {
      size_t h = hash(in->dev, in->ino, n);
      next = in->hash_next;
      in->hash_next = b[h];
      b[h] = in;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->n_buckets = n;
}

struct bindfs_inode *bindfs_inode_get(struct bindfs_inodes *t, int fd, const struct stat *st)
{
  struct bindfs_inode *in, *fresh;

  if (st->st_dev == t->root.dev && st->st_ino == t->root.ino) {
    close(fd);
    bindfs_inode_ref(t, &t->root);
    return &t->root;
  }
  /* Allocated outside the lock; dropped if another thread won the race. */
  fresh = calloc(1, sizeof(*fresh));
  pthread_mutex_lock(&t->lock);
  for (in = t->buckets[hash(st->st_dev, st->st_ino, t->n_buckets)]; in; in = in->hash_next)
    if (in->ino == st->st_ino && in->dev == st->st_dev) {
      in->nlookup++;
      pthread_mutex_unlock(&t->lock);
      free(fresh);
      close(fd);
      return in;
    }
  if (fresh == NULL) {
    pthread_mutex_unlock(&t->lock);
    close(fd);
    errno = ENOMEM;
    return NULL;
  }
  fresh->fd = fd;
  fresh->dev = st->st_dev;
  fresh->ino = st->st_ino;
  fresh->type = st->st_mode & S_IFMT;
  fresh->nlookup = 1;
  if (t->count + 1 > t->n_buckets * 2) grow_locked(t);
  {
    size_t h = hash(st->st_dev, st->st_ino, t->n_buckets);
    fresh->hash_next = t->buckets[h];
    t->buckets[h] = fresh;
  }
  t->count++;
  pthread_mutex_unlock(&t->lock);
  return fresh;
}

void bindfs_inode_ref(struct bindfs_inodes *t, struct bindfs_inode *in)
{
  pthread_mutex_lock(&t->lock);
  in->nlookup++;
  pthread_mutex_unlock(&t->lock);
}

void bindfs_inode_unref(struct bindfs_inodes *t, struct bindfs_inode *in, uint64_t n)
{
  struct bindfs_inode **pp;

  pthread_mutex_lock(&t->lock);
  in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
  if (in->nlookup > 0 || in == &t->root) {
    pthread_mutex_unlock(&t->lock);
    return;
  }
  for (pp = &t->buckets[hash(in->dev, in->ino, t->n_buckets)]; *pp; pp = &(*pp)->hash_next)
    if (*pp == in) {
      *pp = in->hash_next;
      break;
    }
  t->count--;
  pthread_mutex_unlock(&t->lock);
  close(in->fd);
  free(in);
}

size_t bindfs_inodes_count(struct bindfs_inodes *t)
{
  size_t n;
  pthread_mutex_lock(&t->lock);
  n = t->count;
  pthread_mutex_unlock(&t->lock);
  return n;
}

/* Scope-bound cleanup helpers: every fd, heap block, FILE*, DIR* and child
 * released on every return path. */
#ifndef RUNM_CLEANUP_H
#define RUNM_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void runm_freep(void *p)
{
  free(*(void **)p);
}

static inline void runm_closep(int *fd)
{
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}

static inline void runm_fclosep(FILE **f)
{
  if (*f) fclose(*f);
}

static inline void runm_closedirp(DIR **d)
{
  if (*d) closedir(*d);
}

#define cleanup_free __attribute__((cleanup(runm_freep)))
#define cleanup_close __attribute__((cleanup(runm_closep)))
#define cleanup_file __attribute__((cleanup(runm_fclosep)))
#define cleanup_dir __attribute__((cleanup(runm_closedirp)))

/* Ownership moves are visible at the call site and type-checked. */
static inline void *runm_steal_pointer(void *pp)
{
  void **p = (void **)pp;
  void *r = *p;
  *p = NULL;
  return r;
}
#define steal_pointer(pp) ((__typeof__(*(pp)))runm_steal_pointer(pp))

static inline int runm_steal_fd(int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#endif

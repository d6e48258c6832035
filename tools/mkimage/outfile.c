/* Temporary-file-then-rename output for runm-mkimage. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mk_outfile_open(struct mk_outfile *o, const char *path, runm_error_t *err)
{
  const char *slash = strrchr(path, '/');
  int dir_len = slash ? (int)(slash - path + 1) : 0;

  if (*path == '\0' || (slash && slash[1] == '\0'))
    return runm_make_error(err, EINVAL, "output `%s` is not a file name", path);
  o->path = strdup(path);
  if (o->path == NULL) return runm_make_error(err, ENOMEM, "allocate");
  /* Same directory, so the final rename is atomic. */
  if (asprintf(&o->tmp, "%.*s.%s.XXXXXX", dir_len, path, path + dir_len) < 0) {
    o->tmp = NULL;
    return runm_make_error(err, ENOMEM, "allocate");
  }
  o->fd = mkostemp(o->tmp, O_CLOEXEC);
  if (o->fd < 0) {
    int saved = errno;
    free(o->tmp);
    o->tmp = NULL;
    return runm_make_error(err, saved, "create temporary file for `%s`", path);
  }
  /* Fixed mode: the output must not depend on the caller's umask. */
  if (fchmod(o->fd, 0644) < 0) return runm_make_error(err, errno, "chmod `%s`", o->tmp);
  return 0;
}

int mk_outfile_commit(struct mk_outfile *o, runm_error_t *err)
{
  int fd = o->fd;

  o->fd = -1;
  if (fsync(fd) < 0) {
    int saved = errno;
    close(fd);
    return runm_make_error(err, saved, "fsync `%s`", o->tmp);
  }
  if (close(fd) < 0) return runm_make_error(err, errno, "close `%s`", o->tmp);
  if (rename(o->tmp, o->path) < 0)
    return runm_make_error(err, errno, "rename `%s` to `%s`", o->tmp, o->path);
  free(o->tmp);
  o->tmp = NULL;
  return 0;
}

void mk_outfile_release(struct mk_outfile *o)
{
  int saved = errno;

  if (o->fd >= 0) close(o->fd);
  o->fd = -1;
  if (o->tmp != NULL) unlink(o->tmp);
  free(o->tmp);
  free(o->path);
  o->tmp = NULL;
  o->path = NULL;
  errno = saved;
}

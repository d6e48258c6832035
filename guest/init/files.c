/* Small file-system helpers several init files need: making a path's
 * directories, and writing a whole file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fdio.h"
#include "init.h"

int init_mkdir_p(const char *path, runm_error_t *err)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
    return runm_make_error(err, ENAMETOOLONG, "path `%s`", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0755) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", buf);
      *p = c;
      if (c == '\0') break;
    }
  }
  return 0;
}

int init_write_file(const char *path, const void *data, size_t len, mode_t mode, runm_error_t *err)
{
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return runm_make_error(err, errno, "create `%s`", path);
  if (runm_write_all(fd, data, len) < 0) return runm_make_error(err, errno, "write `%s`", path);
  return 0;
}

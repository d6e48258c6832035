/* AF_UNIX sockets by path (unix_socket.h). Before this file, a dozen sites
 * each filled their own sockaddr_un, some with snprintf (silently cutting a
 * long path, then binding or dialling the wrong name). */
#include "unix_socket.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

static int fill_addr(struct sockaddr_un *addr, const char *path, runm_error_t *err)
{
  size_t len = strlen(path);
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (len == 0) return runm_make_error(err, EINVAL, "empty unix socket path");
  if (len >= sizeof(addr->sun_path))
    return runm_make_error(err, ENAMETOOLONG, "unix socket path `%s` is longer than %zu bytes", path,
                           sizeof(addr->sun_path) - 1);
  memcpy(addr->sun_path, path, len + 1);
  return 0;
}

/* addr filled for path, and a close-on-exec socket of type: the fd, or a
 * negative errno with err set. */
static int open_socket(struct sockaddr_un *addr, const char *path, int type, runm_error_t *err)
{
  int fd, r = fill_addr(addr, path, err);

  if (r < 0) return r;
  fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return runm_make_error(err, errno, "socket for `%s`", path);
  return fd;
}

int runm_unix_connect(const char *path, int type, runm_error_t *err)
{
  struct sockaddr_un addr;
  cleanup_close int fd = open_socket(&addr, path, type, err);

  if (fd < 0) return fd;
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int e = errno;
    /* Interrupted, the connect goes on in the background: wait for it. */
    if (e == EINTR) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      socklen_t len = sizeof(e);
      while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
      }
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
    }
    if (e != 0) return runm_make_error(err, e, "connect `%s`", path);
  }
  return runm_steal_fd(&fd);
}

int runm_unix_listen(const char *path, int type, int backlog, runm_error_t *err)
{
  struct sockaddr_un addr;
  cleanup_close int fd = open_socket(&addr, path, type, err);

  if (fd < 0) return fd;
  /* Linux creates the socket inode with the socket's own mode: set it
   * before bind so that there is no moment when others may connect. */
  if (fchmod(fd, 0600) < 0) return runm_make_error(err, errno, "fchmod socket for `%s`", path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return runm_make_error(err, errno, "bind `%s`", path);
  if (chmod(path, 0600) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    unlink(path);
    return runm_make_error(err, e, "listen on `%s`", path);
  }
  return runm_steal_fd(&fd);
}

/* Console socket and pty helpers (see tty.h). */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "unix_socket.h"

/* runc sends the pty's name as the message body; more than this is not a
 * message from runc. */
#define CONSOLE_MSG_MAX 4096
/* Room for a few fds so a sender passing more than one is detected and its
 * extra fds are closed rather than truncated silently. */
#define CONSOLE_MAX_FDS 4

int tty_console_listen(const char *path, runm_error_t *err)
{
  int fd = runm_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 1, err);
  if (fd < 0) return runm_error_wrap(err, "console socket");
  return fd;
}

int tty_receive_master(int conn, runm_error_t *err)
{
  char data[CONSOLE_MSG_MAX];
  union {
    char buf[CMSG_SPACE(sizeof(int) * CONSOLE_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof(ctl.buf)};
  int fds[CONSOLE_MAX_FDS * 2];
  int nfds = 0, master = -1;
  ssize_t n;
  struct termios t;

  memset(ctl.buf, 0, sizeof(ctl.buf));
  do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return runm_make_error(err, errno, "receive on console socket");
  /* Collect every fd that arrived, whatever else is wrong, so none leaks. */
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    size_t k;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
      continue;
    k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && nfds < (int)(sizeof(fds) / sizeof(fds[0])); i++)
      memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  if (nfds == 1 && !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) master = fds[0];
  else
    for (int i = 0; i < nfds; i++) close(fds[i]);
  if (n == 0 && nfds == 0) return runm_make_error(err, EPIPE, "console socket closed without a pty");
  if (master < 0)
    return runm_make_error(err, EPROTO, "console socket message carried %d fds%s, expected one pty",
                           nfds, msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC) ? " (truncated)" : "");
  if (tcgetattr(master, &t) < 0) {
    int e = errno;
    close(master);
    return runm_make_error(err, e, "fd from the console socket is not a terminal");
  }
  if (fcntl(master, F_SETFL, O_RDWR | O_NONBLOCK) < 0) {
    int e = errno;
    close(master);
    return runm_make_error(err, e, "pty master O_NONBLOCK");
  }
  return master;
}

int tty_resize(int master, unsigned rows, unsigned cols, runm_error_t *err)
{
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};

  if (rows > 0xffff || cols > 0xffff)
    return runm_make_error(err, EINVAL, "window size %ux%u is out of range", rows, cols);
  if (ioctl(master, TIOCSWINSZ, &ws) < 0) return runm_make_error(err, errno, "TIOCSWINSZ");
  return 0;
}

/* Unit tests for lib/unix_socket.c: AF_UNIX connect and listen by path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "unix_socket.h"

static char dir[64];

static char *msg_of(runm_error_t *err)
{
  static char buf[512];
  char *s = runm_error_string(*err);
  snprintf(buf, sizeof(buf), "%s", s ? s : "");
  free(s);
  runm_error_release(err);
  return buf;
}

int main(void)
{
  runm_error_t err = NULL;
  char path[200], longp[200];
  struct stat st;
  int lfd, cfd, afd, r;

  snprintf(dir, sizeof(dir), "/tmp/runm-test-unix.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof(path), "%s/s.sock", dir);

  lfd = runm_unix_listen(path, SOCK_STREAM, 4, &err);
  ok(lfd >= 0, "listen on a fresh path");
  ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600, "the socket is mode 0600");
  ok((fcntl(lfd, F_GETFD) & FD_CLOEXEC) != 0, "the listening fd is close-on-exec");
  cfd = runm_unix_connect(path, SOCK_STREAM, &err);
  ok(cfd >= 0, "connect to it");
  ok((fcntl(cfd, F_GETFD) & FD_CLOEXEC) != 0, "the connected fd is close-on-exec");
  ok((fcntl(cfd, F_GETFL) & O_NONBLOCK) == 0, "blocking unless asked");
  afd = accept(lfd, NULL, NULL);
  ok(afd >= 0 && write(cfd, "x", 1) == 1, "the connection carries bytes");
  char c = 0;
  ok(read(afd, &c, 1) == 1 && c == 'x', "and the other end reads them");
  close(afd);
  close(cfd);

  r = runm_unix_listen(path, SOCK_STREAM, 4, &err);
  ok(r == -EADDRINUSE, "listen on a taken path fails with EADDRINUSE");
  ok(strstr(msg_of(&err), path) != NULL, "the error names the path");
  ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "the existing socket is left in place");
  close(lfd);
  unlink(path);

  cfd = runm_unix_connect(path, SOCK_STREAM | SOCK_NONBLOCK, &err);
  ok(cfd == -ENOENT, "connect to a missing path fails with ENOENT");
  ok(strstr(msg_of(&err), "connect `") != NULL, "the error says connect and names the path");

  /* A path one byte too long for sun_path must not be cut to one that fits. */
  memset(longp, 'a', sizeof(longp));
  snprintf(longp, sizeof(((struct sockaddr_un *)0)->sun_path) + 1, "%s/%0120d", dir, 0);
  ok(strlen(longp) == sizeof(((struct sockaddr_un *)0)->sun_path), "a 108-byte path (test setup)");
  r = runm_unix_listen(longp, SOCK_STREAM, 1, &err);
  ok(r == -ENAMETOOLONG, "listen: a path longer than sun_path is refused");
  ok(strstr(msg_of(&err), "is longer than 107 bytes") != NULL, "and the error says why");
  char cut[200];
  snprintf(cut, sizeof(((struct sockaddr_un *)0)->sun_path), "%s", longp);
  ok(access(cut, F_OK) < 0, "nothing was bound at the truncated path");
  ok(runm_unix_connect(longp, SOCK_STREAM, &err) == -ENAMETOOLONG, "connect: a path longer than sun_path is refused");
  runm_error_release(&err);
  ok(runm_unix_connect("", SOCK_STREAM, NULL) == -EINVAL, "an empty path is refused (err may be NULL)");

  snprintf(path, sizeof(path), "%s/q.sock", dir);
  lfd = runm_unix_listen(path, SOCK_SEQPACKET | SOCK_NONBLOCK, 1, &err);
  ok(lfd >= 0 && (fcntl(lfd, F_GETFL) & O_NONBLOCK), "SOCK_SEQPACKET | SOCK_NONBLOCK listen");
  cfd = runm_unix_connect(path, SOCK_SEQPACKET, &err);
  int type = 0;
  socklen_t tl = sizeof(type);
  ok(cfd >= 0 && getsockopt(cfd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_SEQPACKET,
     "SOCK_SEQPACKET connect");
  close(cfd);
  close(lfd);
  unlink(path);
  rmdir(dir);
  return tap_done();
}

/* AF_UNIX sockets by path, the one place that fills a sockaddr_un: a path
 * that does not fit is an error (never truncated), every socket is
 * O_CLOEXEC, and a listening socket is 0600 before anyone can connect. */
#ifndef RUNM_UNIX_SOCKET_H
#define RUNM_UNIX_SOCKET_H

#include "error.h"

/* A socket of `type` (SOCK_STREAM or SOCK_SEQPACKET, optionally
 * | SOCK_NONBLOCK) connected to path. Returns the fd, or a negative errno
 * with err set (err may be NULL where only success matters). An
 * interrupted connect is waited for, not reported as EINTR. */
int runm_unix_connect(const char *path, int type, runm_error_t *err);

/* A socket of `type` bound to path (mode 0600) and listening with backlog.
 * The path must not exist (bind fails with EADDRINUSE; an existing file is
 * never removed). Returns the fd, or a negative errno with err set; on
 * failure after bind the path is removed again. */
int runm_unix_listen(const char *path, int type, int backlog, runm_error_t *err);

#endif

/* Terminals: the console socket runc sends a container's pty master
 * through, and window size changes on that master. */
#ifndef RUNM_TTY_H
#define RUNM_TTY_H

#include "error.h"

/* A listening unix socket at path (0600) for `runc --console-socket`. */
int tty_console_listen(const char *path, runm_error_t *err);
/* Reads the one message runc sends on an accepted console connection and
 * returns the pty master it carries (O_CLOEXEC, O_NONBLOCK). Anything else
 * (no fd, several fds, not a terminal) is an error and leaks nothing. */
int tty_receive_master(int conn, runm_error_t *err);
int tty_resize(int master, unsigned rows, unsigned cols, runm_error_t *err);

#endif

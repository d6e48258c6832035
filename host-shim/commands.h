/* containerd-shim-runm-v1's commands (commands.c): the flags containerd
 * passes, `start` (spawn or reuse the shim, print its address) and `delete`
 * (clean up after a shim that died); main.c serves. */
#ifndef SHIM_COMMANDS_H
#define SHIM_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

#define LISTEN_FD 3

struct args {
  const char *ns, *address, *publish_binary, *id, *bundle, *socket;
  bool debug;
  const char *action; /* "start", "delete", or NULL (serve) */
};

int parse_args(int argc, char **argv, struct args *a);
/* The socket the shim of a's task (of `group`'s pod when not NULL) serves. */
void socket_path(const struct shim_config *cfg, const struct args *a, const char *group, char *out, size_t len);
/* The directory of the running binary ("" when unknown). */
void exe_dir(char *out, size_t len);
/* Prints "containerd-shim-runm-v1: WHAT: ERR" to stderr; returns 1. */
int die(const char *what, runm_error_t err);
int cmd_start(const struct args *a, int argc, char **argv);
int cmd_delete(const struct args *a);
/* `-info`: RuntimeInfo for the options on stdin (info.h) on stdout. */
int cmd_info(void);

#endif

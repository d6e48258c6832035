/* Attached stdio for runmctl run/exec. */
#ifndef RUNMCTL_ATTACH_H
#define RUNMCTL_ATTACH_H

#include <stdbool.h>

#include "error.h"

struct runm_rpc_client;
struct runm_rpc_stream;

/* Opens the process's Stdio stream (before Start, so no output waits). */
struct runm_rpc_stream *attach_open(struct runm_rpc_client *cl, const char *id,
                                    const char *exec_id, runm_error_t *err);
/* Relays until the process's exit message; *status is its exit status. */
int attach_relay(struct runm_rpc_client *cl, struct runm_rpc_stream *st, const char *id,
                 const char *exec_id, bool tty, bool with_stdin, int *status, runm_error_t *err);
/* Sends our terminal's size (fd) as ResizePty; no-op when fd is no tty. */
int attach_resize(struct runm_rpc_client *cl, const char *id, const char *exec_id, int fd,
                  runm_error_t *err);

#endif

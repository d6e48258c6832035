/* A process's stdio in pipes mode, and the Stdio stream that relays it. */
#ifndef RUNM_STDIO_RELAY_H
#define RUNM_STDIO_RELAY_H

#include "container.h"
#include "error.h"
#include "rpc.h"

/* Makes the pipes of a pipes-mode process: init keeps the parent ends
 * (p->in_w, out_r, err_r; O_NONBLOCK) and the child ends wait in
 * p->child_* until runc has inherited them. Without p->stdin the child's
 * stdin is /dev/null. */
int stdio_make_pipes(struct process *p, runm_error_t *err);
/* Drops init's copies of the child ends (after spawning runc). */
void stdio_close_child_ends(struct process *p);

/* The Stdio bidi stream (see guest.proto). */
int stdio_serve(struct registry *reg, struct runm_rpc_call *call, runm_error_t *err);

#endif

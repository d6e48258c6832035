/* The guest-to-host link: init's one long-lived runm.v1.Host client (over
 * the `runm.host` virtio-serial port, or vsock to the host CID) and the
 * guest-local sockets runm-fork-exec-proxy asks it through. */
#ifndef RUNM_HOSTLINK_H
#define RUNM_HOSTLINK_H

#include "error.h"

struct init_ctx;
struct hostlink;

/* The proxy's socket in the guest's runtime namespace (createContainer
 * hooks, in the container's mount namespace before pivot_root, see it
 * too): /run/runm is 0700. */
#define HOSTLINK_SOCKET "/run/runm/host.sock"

/* Reads runm.host_port / runm.host_vsock_port from the kernel command line;
 * without them (a VM whose owner serves no host channel) there is no link
 * and *out is NULL. Otherwise connects the channel (on its own thread) and
 * serves HOSTLINK_SOCKET. */
int hostlink_start(struct init_ctx *ctx, const char *cmdline, struct hostlink **out,
                   runm_error_t *err);

#endif

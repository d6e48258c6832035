/* vsock hosts: the guest dials the host CID for the guest-to-host channel.
 * gRPC (Debian's 1.51) can neither listen on vsock nor serve an accepted
 * fd, so each connection from the VM's CID is relayed to the shim's unix
 * socket. Untested on the build machines (no /dev/vhost-vsock); serial is
 * the tested path. */
#ifndef SHIM_HOST_VSOCK_H
#define SHIM_HOST_VSOCK_H

#include "error.h"
#include "log.h"

struct host_vsock;

/* Listens on vsock `port` (any local CID) and relays connections whose peer
 * is `peer_cid` to the unix socket `unix_path`; others are closed. */
struct host_vsock *host_vsock_start(unsigned port, unsigned peer_cid, const char *unix_path,
                                    const struct runm_logger *log, runm_error_t *err);
/* Stops accepting and ends every relay; NULL is a no-op. */
void host_vsock_stop(struct host_vsock *hv);

#endif

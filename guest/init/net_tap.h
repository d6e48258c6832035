/* The namespace mode's network configuration in the guest (net_tap.c). */
#ifndef INIT_NET_TAP_H
#define INIT_NET_TAP_H

#include <stddef.h>

#include "error.h"
#include "runm/v1/guest.pb-c.h"

#define NET_TAP_MAX_ADDRS 16
#define NET_TAP_MAX_ROUTES 32

/* Whether a configuration can be applied: a unicast MAC, an MTU of
 * 68-65535 (0 = keep), addresses and routes of 4 or 16 bytes with prefixes
 * that fit, gateways of the route's family, within the caps. Pure. */
int net_tap_check(const Runm__V1__NetworkConfig *c, runm_error_t *err);
/* "tap: eth0 02:..:.. mtu 1500, 10.4.0.5/24 via 10.4.0.1" (pure). */
void net_tap_describe(const Runm__V1__NetworkConfig *c, const char *ifname, char *out, size_t cap);

#endif

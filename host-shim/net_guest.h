/* What the guest is told about its NIC in the namespace mode: the CNI
 * interface's MAC, MTU, addresses and routes as runm.v1.NetworkConfig
 * (pure, unit-tested). */
#ifndef SHIM_NET_GUEST_H
#define SHIM_NET_GUEST_H

#include "netlink_if.h"
#include "runm/v1/guest.pb-c.h"

/* The message and everything it points to, in one place (no heap). */
struct net_guest_config {
  Runm__V1__NetworkConfig msg;
  Runm__V1__IpAddress addrs[NETIF_MAX_ADDRS];
  Runm__V1__IpAddress *addr_ptrs[NETIF_MAX_ADDRS];
  Runm__V1__IpRoute routes[NETIF_MAX_ROUTES];
  Runm__V1__IpRoute *route_ptrs[NETIF_MAX_ROUTES];
  struct netif src; /* the bytes the message points into */
};

/* Fills c from f (copied into c->src). */
void net_guest_config_build(struct net_guest_config *c, const struct netif *f);

#endif

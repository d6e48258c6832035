/* runm.v1.NetworkConfig from a CNI interface (net_guest.h). */
#include "net_guest.h"

#include <string.h>
#include <sys/socket.h>

static size_t family_len(int family)
{
  return family == AF_INET ? 4 : 16;
}

void net_guest_config_build(struct net_guest_config *c, const struct netif *f)
{
  Runm__V1__NetworkConfig init = RUNM__V1__NETWORK_CONFIG__INIT;
  c->src = *f;
  c->msg = init;
  c->msg.mac.data = c->src.mac;
  c->msg.mac.len = 6;
  c->msg.mtu = c->src.mtu;
  for (size_t i = 0; i < c->src.n_addrs && i < NETIF_MAX_ADDRS; i++) {
    Runm__V1__IpAddress a = RUNM__V1__IP_ADDRESS__INIT;
    a.addr.data = c->src.addrs[i].addr;
    a.addr.len = family_len(c->src.addrs[i].family);
    a.prefix = c->src.addrs[i].prefix;
    c->addrs[i] = a;
    c->addr_ptrs[i] = &c->addrs[i];
  }
  c->msg.n_addresses = c->src.n_addrs;
  c->msg.addresses = c->addr_ptrs;
  for (size_t i = 0; i < c->src.n_routes && i < NETIF_MAX_ROUTES; i++) {
    const struct netif_route *r = &c->src.routes[i];
    Runm__V1__IpRoute m = RUNM__V1__IP_ROUTE__INIT;
    m.dst.data = c->src.routes[i].dst;
    m.dst.len = family_len(r->family);
    m.prefix = r->dst_len;
    if (r->has_gw) {
      m.gateway.data = c->src.routes[i].gw;
      m.gateway.len = family_len(r->family);
    }
    m.metric = r->metric;
    c->routes[i] = m;
    c->route_ptrs[i] = &c->routes[i];
  }
  c->msg.n_routes = c->src.n_routes;
  c->msg.routes = c->route_ptrs;
}

/* The namespace mode's configuration, checked and described (net_tap.h):
 * pure, unit-tested and fuzzed (test/fuzz/fuzz_netconfig.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "net_tap.h"

static bool addr_len_ok(size_t len)
{
  return len == 4 || len == 16;
}

int net_tap_check(const Runm__V1__NetworkConfig *c, runm_error_t *err)
{
  if (c->mac.len != 6) return runm_make_error(err, EINVAL, "MAC is %zu bytes, not 6", c->mac.len);
  if (c->mac.data[0] & 1) return runm_make_error(err, EINVAL, "MAC is a multicast address");
  if (memcmp(c->mac.data, "\0\0\0\0\0\0", 6) == 0) return runm_make_error(err, EINVAL, "MAC is all zeros");
  if (c->mtu != 0 && (c->mtu < 68 || c->mtu > 65535))
    return runm_make_error(err, EINVAL, "MTU %u is not 68-65535", c->mtu);
  if (c->n_addresses > NET_TAP_MAX_ADDRS)
    return runm_make_error(err, E2BIG, "%zu addresses; at most %d", c->n_addresses, NET_TAP_MAX_ADDRS);
  if (c->n_routes > NET_TAP_MAX_ROUTES)
    return runm_make_error(err, E2BIG, "%zu routes; at most %d", c->n_routes, NET_TAP_MAX_ROUTES);
  for (size_t i = 0; i < c->n_addresses; i++) {
    const Runm__V1__IpAddress *a = c->addresses[i];
    if (!addr_len_ok(a->addr.len)) return runm_make_error(err, EINVAL, "address %zu is %zu bytes", i, a->addr.len);
    if (a->prefix > a->addr.len * 8)
      return runm_make_error(err, EINVAL, "address %zu: prefix %u is too long", i, a->prefix);
  }
  for (size_t i = 0; i < c->n_routes; i++) {
    const Runm__V1__IpRoute *r = c->routes[i];
    if (!addr_len_ok(r->dst.len)) return runm_make_error(err, EINVAL, "route %zu: destination is %zu bytes", i, r->dst.len);
    if (r->prefix > r->dst.len * 8) return runm_make_error(err, EINVAL, "route %zu: prefix %u is too long", i, r->prefix);
    if (r->gateway.len != 0 && r->gateway.len != r->dst.len)
      return runm_make_error(err, EINVAL, "route %zu: gateway of another family", i);
  }
  return 0;
}

void net_tap_describe(const Runm__V1__NetworkConfig *c, const char *ifname, char *out, size_t cap)
{
  size_t len;
  const uint8_t *m = c->mac.data;
  char a[INET6_ADDRSTRLEN];
  len = (size_t)snprintf(out, cap, "tap: %s %02x:%02x:%02x:%02x:%02x:%02x mtu %u", ifname, m[0], m[1], m[2], m[3],
                         m[4], m[5], c->mtu);
  for (size_t i = 0; i < c->n_addresses && len < cap; i++) {
    const Runm__V1__IpAddress *ad = c->addresses[i];
    inet_ntop(ad->addr.len == 4 ? AF_INET : AF_INET6, ad->addr.data, a, sizeof(a));
    len += (size_t)snprintf(out + len, cap - len, "%s%s/%u", i ? " " : ", ", a, ad->prefix);
  }
  for (size_t i = 0; i < c->n_routes && len < cap; i++) {
    const Runm__V1__IpRoute *r = c->routes[i];
    if (r->prefix != 0 || r->gateway.len == 0) continue;
    inet_ntop(r->gateway.len == 4 ? AF_INET : AF_INET6, r->gateway.data, a, sizeof(a));
    len += (size_t)snprintf(out + len, cap - len, " via %s", a);
  }
}


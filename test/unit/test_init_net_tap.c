/* Unit tests for guest/init/net_tap_check.c: which NetworkConfig the guest
 * applies (the namespace mode's ConfigureNetwork) and how it says what it
 * did. */
#include <arpa/inet.h>

#include "net_tap.h"
#include "tap.h"
#include "tap_err.h"

static uint8_t mac[6] = {0x02, 0, 0, 0x77, 0, 2};
static uint8_t v4[4] = {10, 77, 0, 2}, gw4[4] = {10, 77, 0, 1}, zero4[4], v6[16] = {0xfd, 0, 0, 0x77, [15] = 2};

static int check(Runm__V1__NetworkConfig *c, char *msg)
{
  runm_error_t err = NULL;
  return tap_take_error(net_tap_check(c, &err), &err, msg, 256);
}

int main(void)
{
  Runm__V1__NetworkConfig c = RUNM__V1__NETWORK_CONFIG__INIT;
  Runm__V1__IpAddress a4 = RUNM__V1__IP_ADDRESS__INIT, a6 = RUNM__V1__IP_ADDRESS__INIT;
  Runm__V1__IpRoute def = RUNM__V1__IP_ROUTE__INIT;
  Runm__V1__IpAddress *addrs[2] = {&a4, &a6};
  Runm__V1__IpRoute *routes[1] = {&def};
  char msg[256], out[256];

  c.mac.data = mac;
  c.mac.len = 6;
  c.mtu = 1450;
  a4.addr.data = v4;
  a4.addr.len = 4;
  a4.prefix = 24;
  a6.addr.data = v6;
  a6.addr.len = 16;
  a6.prefix = 64;
  c.n_addresses = 2;
  c.addresses = addrs;
  def.dst.data = zero4;
  def.dst.len = 4;
  def.gateway.data = gw4;
  def.gateway.len = 4;
  c.n_routes = 1;
  c.routes = routes;
  is_int(check(&c, msg), 0, "a CNI-shaped config passes");
  net_tap_describe(&c, "eth0", out, sizeof(out));
  is_str(out, "tap: eth0 02:00:00:77:00:02 mtu 1450, 10.77.0.2/24 fd00:77::2/64 via 10.77.0.1", "described");

  mac[0] = 0x03;
  ok(check(&c, msg) < 0 && strstr(msg, "multicast"), "a multicast MAC is refused");
  mac[0] = 0x02;
  c.mac.len = 5;
  ok(check(&c, msg) < 0 && strstr(msg, "5 bytes, not 6"), "a short MAC is refused");
  c.mac.len = 6;
  c.mtu = 67;
  ok(check(&c, msg) < 0 && strstr(msg, "MTU 67"), "MTU below 68 is refused");
  c.mtu = 0;
  is_int(check(&c, msg), 0, "MTU 0: keep the NIC's");
  a4.prefix = 33;
  ok(check(&c, msg) < 0 && strstr(msg, "prefix 33"), "a v4 prefix of 33 is refused");
  a4.prefix = 24;
  a4.addr.len = 5;
  ok(check(&c, msg) < 0 && strstr(msg, "address 0 is 5 bytes"), "a 5-byte address is refused");
  a4.addr.len = 4;
  def.gateway.data = v6;
  def.gateway.len = 16;
  ok(check(&c, msg) < 0 && strstr(msg, "gateway of another family"), "a v6 gateway on a v4 route is refused");
  def.gateway.len = 0;
  is_int(check(&c, msg), 0, "a route without a gateway (on-link)");
  c.n_routes = NET_TAP_MAX_ROUTES + 1;
  ok(check(&c, msg) < 0 && strstr(msg, "routes; at most"), "more routes than the cap are refused");
  c.n_routes = 1;
  c.n_addresses = NET_TAP_MAX_ADDRS + 1;
  ok(check(&c, msg) < 0 && strstr(msg, "addresses; at most"), "more addresses than the cap are refused");
  return tap_done();
}

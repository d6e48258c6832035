/* runm_netfilter_allow: which guest frames reach slirp. */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "vm.h"

/* An Ethernet + IPv4 (+ 20-byte TCP or 8-byte UDP) frame. */
static size_t frame(uint8_t *f, uint32_t dst, uint8_t proto, uint16_t sport, uint8_t tcp_flags,
                    uint16_t frag)
{
  memset(f, 0, 80);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t *ip = f + 14;
  ip[0] = 0x45;
  ip[6] = (uint8_t)(frag >> 8);
  ip[7] = (uint8_t)frag;
  ip[9] = proto;
  ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
  ip[16] = (uint8_t)(dst >> 24), ip[17] = (uint8_t)(dst >> 16), ip[18] = (uint8_t)(dst >> 8),
  ip[19] = (uint8_t)dst;
  ip[20] = (uint8_t)(sport >> 8);
  ip[21] = (uint8_t)sport;
  ip[20 + 13] = tcp_flags;
  return 14 + 20 + 20;
}

#define SYN 0x02
#define ACK 0x10
#define HOST 0x0a000202u

int main(void)
{
  uint8_t f[80];
  size_t n;
  uint16_t udp[] = {5353};

  n = frame(f, 0x5db8d822u, 6, 40000, SYN, 0);
  ok(runm_netfilter_allow(f, n, false, NULL, 0), "a SYN to an outside address passes");
  n = frame(f, HOST, 6, 40000, SYN, 0);
  ok(!runm_netfilter_allow(f, n, false, NULL, 0), "a SYN to 10.0.2.2 (host loopback) is dropped");
  ok(runm_netfilter_allow(f, n, true, NULL, 0), "... and passes with host loopback opted in");
  n = frame(f, HOST, 6, 8080, SYN | ACK, 0);
  ok(runm_netfilter_allow(f, n, false, NULL, 0), "a SYN-ACK to 10.0.2.2 (a published port) passes");
  n = frame(f, HOST, 6, 8080, ACK, 0);
  ok(runm_netfilter_allow(f, n, false, NULL, 0), "an ACK to 10.0.2.2 passes");
  n = frame(f, HOST, 6, 40000, ACK, 0x2000);
  ok(!runm_netfilter_allow(f, n, false, NULL, 0), "a fragment to 10.0.2.2 is dropped (MF)");
  n = frame(f, HOST, 6, 40000, ACK, 0x0001);
  ok(!runm_netfilter_allow(f, n, false, NULL, 0), "a fragment to 10.0.2.2 is dropped (offset)");
  n = frame(f, HOST, 17, 40000, 0, 0);
  ok(!runm_netfilter_allow(f, n, false, udp, 1), "UDP to 10.0.2.2 is dropped");
  n = frame(f, HOST, 17, 5353, 0, 0);
  ok(runm_netfilter_allow(f, n, false, udp, 1), "UDP to 10.0.2.2 from a published UDP port passes");
  n = frame(f, 0x7f000001u, 6, 40000, SYN, 0);
  ok(!runm_netfilter_allow(f, n, true, NULL, 0), "a raw frame to 127.0.0.1 is dropped, even opted in");
  n = frame(f, 0x00000000u, 6, 40000, SYN, 0);
  ok(!runm_netfilter_allow(f, n, true, NULL, 0), "a frame to 0.0.0.0 is dropped");
  n = frame(f, 0xa9fea9feu, 6, 40000, SYN, 0);
  ok(!runm_netfilter_allow(f, n, true, NULL, 0), "a frame to 169.254.169.254 is dropped");
  n = frame(f, 0xe00000fbu, 17, 5353, 0, 0);
  ok(!runm_netfilter_allow(f, n, true, NULL, 0), "multicast is dropped");
  n = frame(f, 0x0a000203u, 17, 40000, 0, 0);
  ok(runm_netfilter_allow(f, n, false, NULL, 0), "DNS to 10.0.2.3 passes");
  f[12] = 0x08, f[13] = 0x06;
  ok(runm_netfilter_allow(f, 42, false, NULL, 0), "ARP passes");
  f[12] = 0x86, f[13] = 0xdd;
  ok(!runm_netfilter_allow(f, 60, false, NULL, 0), "IPv6 is dropped");
  n = frame(f, HOST, 6, 40000, SYN, 0);
  ok(!runm_netfilter_allow(f, 14 + 20 + 10, false, NULL, 0), "a truncated TCP header to 10.0.2.2 is dropped");
  f[14] = 0x4f; /* IHL 60 > the frame */
  ok(!runm_netfilter_allow(f, 14 + 30, false, NULL, 0), "an IHL past the frame is dropped");
  ok(!runm_netfilter_allow(f, 10, false, NULL, 0), "a runt frame is dropped");
  return tap_done();
}

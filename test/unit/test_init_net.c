/* Unit tests for guest/init/net.c's pure parts: the runm.net* command-line
 * keys, and the resolv.conf and hosts texts (net.c compiled in). */
#include "../../guest/init/net.c"

#include "tap.h"
#include "tap_err.h"

/* parse_config on cmdline: its return, and the error text in msg. */
static int parse(const char *cmdline, struct net_config *nc, char *msg, size_t cap)
{
  runm_error_t err = NULL;
  return tap_take_error(parse_config(cmdline, nc, &err), &err, msg, cap);
}

static const char *ip(struct in_addr a, char *buf)
{
  return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void refused(const char *cmdline, const char *want_msg, const char *name)
{
  struct net_config nc;
  char msg[256];
  ok(parse(cmdline, &nc, msg, sizeof(msg)) < 0, name);
  if (!ok(strstr(msg, want_msg) != NULL, name)) printf("#   got '%s', want '%s' in it\n", msg, want_msg);
}

static void test_parse(void)
{
  struct net_config nc;
  char msg[256], a[INET_ADDRSTRLEN];

  is_int(parse("console=ttyS0 quiet", &nc, msg, sizeof(msg)), 0, "no runm.net: accepted");
  ok(nc.mode == NET_NONE, "no runm.net means none (lo only)");
  is_int(parse("runm.net=none runm.net.ip=junk", &nc, msg, sizeof(msg)), 0, "none ignores the other keys");

  is_int(parse("runm.net=user", &nc, msg, sizeof(msg)), 0, "user accepted");
  ok(nc.mode == NET_USER && nc.prefix == 24 && nc.have_gw && nc.n_dns == 1, "user: slirp's defaults");
  is_str(ip(nc.ip, a), "10.0.2.15", "user: default address is slirp's guest");
  is_str(ip(nc.gw, a), "10.0.2.2", "user: default gateway is slirp's host alias");
  is_str(ip(nc.dns[0], a), "10.0.2.3", "user: default DNS is slirp's");

  is_int(parse("runm.net=user runm.net.ip=10.0.2.20/16 runm.net.gw=10.0.2.1 "
               "runm.net.dns=1.1.1.1,8.8.8.8,9.9.9.9 runm.net.mac=52:54:00:AB:cd:0f",
               &nc, msg, sizeof(msg)),
         0, "every key given");
  is_str(ip(nc.ip, a), "10.0.2.20", "runm.net.ip address");
  is_int(nc.prefix, 16, "runm.net.ip prefix");
  is_str(ip(nc.gw, a), "10.0.2.1", "runm.net.gw");
  ok(nc.n_dns == 3 && strcmp(ip(nc.dns[2], a), "9.9.9.9") == 0, "runm.net.dns: three servers in order");
  ok(nc.have_mac && nc.mac[0] == 0x52 && nc.mac[3] == 0xab && nc.mac[5] == 0x0f, "runm.net.mac parsed");

  is_int(parse("runm.net=tap runm.net.ip=192.168.7.2/30", &nc, msg, sizeof(msg)), 0, "tap with an address");
  ok(nc.mode == NET_TAP && !nc.have_gw && nc.n_dns == 0, "tap: no gateway, no DNS by default");

  refused("runm.net=bridge", "runm.net `bridge` is not none, user or tap", "unknown mode refused, named");
  is_int(parse("runm.net=tap", &nc, msg, sizeof(msg)), 0, "tap without an address: the namespace mode");
  ok(nc.mode == NET_TAP && !nc.have_ip, "tap: the NIC waits for ConfigureNetwork");
  refused("runm.net=user runm.net.ip=10.0.2.20", "is not ADDR/PREFIX", "address without prefix refused");
  refused("runm.net=user runm.net.ip=10.0.2.20/0", "prefix `0` is not 1-32", "prefix 0 refused");
  refused("runm.net=user runm.net.ip=10.0.2.20/33", "prefix `33` is not 1-32", "prefix 33 refused");
  refused("runm.net=user runm.net.ip=10.0.2.20/2x", "prefix `2x` is not 1-32", "non-numeric prefix refused");
  refused("runm.net=user runm.net.ip=10.0.2.20/", "prefix `` is not 1-32", "empty prefix refused");
  refused("runm.net=user runm.net.ip=10.0.2.999/24", "runm.net.ip `10.0.2.999` is not an IPv4 address",
          "bad address refused, named");
  refused("runm.net=user runm.net.gw=fe80::1", "runm.net.gw `fe80::1` is not an IPv4 address",
          "IPv6 gateway refused");
  refused("runm.net=user runm.net.dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4", "names more than 3 servers",
          "a fourth DNS server refused (glibc reads three)");
  refused("runm.net=user runm.net.dns=1.1.1.1,nope", "runm.net.dns `nope`", "bad DNS server refused");
  refused("runm.net=user runm.net.mac=52:54:00:ab:cd", "is not xx:xx:xx:xx:xx:xx", "short MAC refused");
  refused("runm.net=user runm.net.mac=52:54:00:ab:cd:0f:00", "is not xx:xx:xx:xx:xx:xx", "long MAC refused");
  refused("runm.net=user runm.net.mac=5:54:00:ab:cd:0f0", "is not xx:xx:xx:xx:xx:xx", "misaligned MAC refused");

  char longv[300];
  snprintf(longv, sizeof(longv), "runm.net=user runm.net.dns=%0200d", 1);
  refused(longv, "runm.net.dns is too long", "an over-long value refused, not truncated");
}

static void test_files(void)
{
  struct net_config nc;
  char msg[256], text[512];

  parse("runm.net=user runm.net.dns=1.1.1.1,8.8.8.8", &nc, msg, sizeof(msg));
  resolv_text(&nc, text, sizeof(text));
  is_str(text, "# runm-linux-init (runm.net=user)\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n",
         "resolv.conf lists the servers in order");
  hosts_text(&nc, "web", text, sizeof(text));
  is_str(text, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.15\tweb\n",
         "hosts puts the hostname on the VM's address");
  parse("", &nc, msg, sizeof(msg));
  hosts_text(&nc, "web", text, sizeof(text));
  is_str(text, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb\n",
         "without a network the hostname is on 127.0.1.1");
  char small[40];
  hosts_text(&nc, "web", small, sizeof(small));
  ok(strlen(small) == sizeof(small) - 1, "a small buffer is filled, never overrun");
}

int main(void)
{
  test_parse();
  test_files();
  return tap_done();
}

/* Unit tests for the namespace mode's host pieces: the rtnetlink dump
 * parsers (netlink_if.c), the guest's NetworkConfig built from them
 * (net_guest.c), the mode a spec chooses (netmode.c), and, as root, the
 * namespace, TAP and tc redirects for real (netns.c) inside network and
 * mount namespaces this test makes for itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_guest.h"
#include "netlink_if.h"
#include "netmode.h"
#include "netns.h"
#include "tap.h"
#include "tap_err.h"

static char buf[8192];

static struct nlmsghdr *msg(uint16_t type, size_t extra)
{
  struct nlmsghdr *nlh;
  memset(buf, 0, sizeof(buf));
  nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  mnl_nlmsg_put_extra_header(nlh, extra);
  return nlh;
}

static struct nlmsghdr *link_msg(int index, const char *name, unsigned type, const uint8_t *mac, uint32_t mtu)
{
  struct nlmsghdr *nlh = msg(RTM_NEWLINK, sizeof(struct ifinfomsg));
  struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  ifi->ifi_index = index;
  ifi->ifi_type = (unsigned short)type;
  if (name) mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (mac) mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return nlh;
}

static struct nlmsghdr *addr_msg(int index, int family, const char *text, unsigned prefix, unsigned scope)
{
  struct nlmsghdr *nlh = msg(RTM_NEWADDR, sizeof(struct ifaddrmsg));
  struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  uint8_t a[16];
  ifa->ifa_family = (unsigned char)family;
  ifa->ifa_index = (unsigned)index;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_scope = (unsigned char)scope;
  inet_pton(family, text, a);
  mnl_attr_put(nlh, family == AF_INET ? IFA_LOCAL : IFA_ADDRESS, family == AF_INET ? 4 : 16, a);
  return nlh;
}

static struct nlmsghdr *route_msg(int oif, int family, const char *dst, unsigned len, const char *gw, unsigned proto,
                                  unsigned table)
{
  struct nlmsghdr *nlh = msg(RTM_NEWROUTE, sizeof(struct rtmsg));
  struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
  uint8_t a[16];
  rt->rtm_family = (unsigned char)family;
  rt->rtm_dst_len = (unsigned char)len;
  rt->rtm_protocol = (unsigned char)proto;
  rt->rtm_table = (unsigned char)table;
  rt->rtm_type = RTN_UNICAST;
  if (dst) {
    inet_pton(family, dst, a);
    mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, a);
  }
  if (gw) {
    inet_pton(family, gw, a);
    mnl_attr_put(nlh, RTA_GATEWAY, family == AF_INET ? 4 : 16, a);
  }
  mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
  mnl_attr_put_u32(nlh, RTA_PRIORITY, 7);
  return nlh;
}

static const uint8_t MAC[6] = {0x02, 0, 0, 0x77, 0, 2};

static void test_parsers(void)
{
  static struct netif_list l;
  struct netif *f;
  char text[INET6_ADDRSTRLEN];

  memset(&l, 0, sizeof(l));
  is_int(netif_parse_link(link_msg(1, "lo", ARPHRD_LOOPBACK, NULL, 65536), &l), 0, "link: lo");
  is_int(netif_parse_link(link_msg(2, "eth0", ARPHRD_ETHER, MAC, 1450), &l), 0, "link: eth0");
  is_int(netif_parse_link(link_msg(2, "eth0", ARPHRD_ETHER, MAC, 1450), &l), 0, "link: the same again");
  is_int((int)l.n, 2, "two links, a repeat not added");
  f = netif_find(&l, 2);
  ok(f && strcmp(f->name, "eth0") == 0 && f->has_mac && memcmp(f->mac, MAC, 6) == 0 && f->mtu == 1450 &&
         f->type == ARPHRD_ETHER,
     "eth0: name, MAC, MTU, type");
  is_int(netif_parse_link(link_msg(3, NULL, ARPHRD_ETHER, MAC, 0), &l), -1, "link without a name: malformed");
  is_int(netif_parse_link(link_msg(3, "a-name-far-too-long", ARPHRD_ETHER, MAC, 0), &l), -1,
         "link name longer than IFNAMSIZ: malformed");

  is_int(netif_parse_addr(addr_msg(2, AF_INET, "10.77.0.2", 24, RT_SCOPE_UNIVERSE), &l), 0, "address v4");
  is_int(netif_parse_addr(addr_msg(2, AF_INET6, "fe80::1", 64, RT_SCOPE_LINK), &l), 0, "address fe80::");
  is_int(netif_parse_addr(addr_msg(2, AF_INET6, "fd00:77::2", 64, RT_SCOPE_UNIVERSE), &l), 0, "address v6");
  is_int(netif_parse_addr(addr_msg(9, AF_INET, "10.9.0.2", 24, RT_SCOPE_UNIVERSE), &l), 0, "address of another link");
  is_int((int)f->n_addrs, 2, "eth0 keeps v4 and the global v6, not fe80::");
  inet_ntop(AF_INET, f->addrs[0].addr, text, sizeof(text));
  ok(strcmp(text, "10.77.0.2") == 0 && f->addrs[0].prefix == 24 && f->addrs[0].family == AF_INET, "v4 address/prefix");
  inet_ntop(AF_INET6, f->addrs[1].addr, text, sizeof(text));
  ok(strcmp(text, "fd00:77::2") == 0 && f->addrs[1].prefix == 64, "v6 address/prefix");
  {
    struct nlmsghdr *nlh = addr_msg(2, AF_INET, "10.0.0.1", 40, RT_SCOPE_UNIVERSE);
    is_int(netif_parse_addr(nlh, &l), -1, "v4 prefix 40: malformed");
  }

  is_int(netif_parse_route(route_msg(2, AF_INET, NULL, 0, "10.77.0.1", RTPROT_BOOT, RT_TABLE_MAIN), &l), 0, "default route");
  is_int(netif_parse_route(route_msg(2, AF_INET, "10.77.0.0", 24, NULL, RTPROT_KERNEL, RT_TABLE_MAIN), &l), 0,
         "kernel's prefix route");
  is_int(netif_parse_route(route_msg(2, AF_INET, "10.77.0.2", 32, NULL, RTPROT_KERNEL, RT_TABLE_LOCAL), &l), 0,
         "local table route");
  is_int(netif_parse_route(route_msg(2, AF_INET, "192.168.5.0", 24, "10.77.0.254", RTPROT_STATIC, RT_TABLE_MAIN), &l), 0,
         "a CNI route");
  is_int(netif_parse_route(route_msg(2, AF_INET6, "fe80::", 64, NULL, RTPROT_BOOT, RT_TABLE_MAIN), &l), 0, "fe80::/64");
  is_int((int)f->n_routes, 2, "eth0 keeps the default and the CNI route only");
  ok(f->routes[0].dst_len == 0 && f->routes[0].has_gw && f->routes[0].metric == 7, "default route: gateway, metric");
  inet_ntop(AF_INET, f->routes[1].dst, text, sizeof(text));
  ok(strcmp(text, "192.168.5.0") == 0 && f->routes[1].dst_len == 24, "CNI route destination");

  memset(&l, 0, sizeof(l));
  for (int i = 0; i < NETIF_MAX_LINKS + 1; i++) {
    char name[16];
    snprintf(name, sizeof(name), "d%d", i);
    netif_parse_link(link_msg(i + 1, name, ARPHRD_ETHER, MAC, 1500), &l);
  }
  ok(l.n == NETIF_MAX_LINKS && l.truncated, "more links than the cap: kept to the cap, marked truncated");
}

static void test_guest_config(void)
{
  static struct netif_list l;
  static struct net_guest_config c;
  uint8_t packed[2048];
  Runm__V1__NetworkConfig *back;
  size_t n;

  memset(&l, 0, sizeof(l));
  netif_parse_link(link_msg(2, "eth0", ARPHRD_ETHER, MAC, 1450), &l);
  netif_parse_addr(addr_msg(2, AF_INET, "10.77.0.2", 24, RT_SCOPE_UNIVERSE), &l);
  netif_parse_addr(addr_msg(2, AF_INET6, "fd00:77::2", 64, RT_SCOPE_UNIVERSE), &l);
  netif_parse_route(route_msg(2, AF_INET, NULL, 0, "10.77.0.1", RTPROT_BOOT, RT_TABLE_MAIN), &l);
  net_guest_config_build(&c, &l.links[0]);
  n = protobuf_c_message_get_packed_size(&c.msg.base);
  ok(n < sizeof(packed), "the config packs");
  protobuf_c_message_pack(&c.msg.base, packed);
  back = runm__v1__network_config__unpack(NULL, n, packed);
  ok(back != NULL, "and unpacks");
  if (back == NULL) return;
  ok(back->mac.len == 6 && memcmp(back->mac.data, MAC, 6) == 0 && back->mtu == 1450, "MAC and MTU");
  ok(back->n_addresses == 2 && back->addresses[0]->addr.len == 4 && back->addresses[0]->prefix == 24 &&
         back->addresses[1]->addr.len == 16 && back->addresses[1]->prefix == 64,
     "both addresses, by family");
  ok(back->n_routes == 1 && back->routes[0]->prefix == 0 && back->routes[0]->dst.len == 4 &&
         back->routes[0]->gateway.len == 4 && back->routes[0]->gateway.data[3] == 1 && back->routes[0]->metric == 7,
     "the default route: family-sized destination, gateway, metric");
  runm__v1__network_config__free_unpacked(back, NULL);
}

/* The parsed specs: *path points into one, so they live to test_mode's end. */
static json_object *parsed[16];
static size_t n_parsed;

static int choose(const char *json, enum runm_net_mode *m, const char **path, char *msg)
{
  runm_error_t err = NULL;
  json_object *o = json_tokener_parse(json);
  if (n_parsed < 16) parsed[n_parsed++] = o;
  return tap_take_error(spec_net_choose(o, m, path, &err), &err, msg, 256);
}

static void test_mode(void)
{
  enum runm_net_mode m;
  const char *p;
  char msg[256];
  const char *nsnew = "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}]}";

  choose("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]},\"hooks\":{\"createRuntime\":[{\"path\":\"/x\"}]}}", &m, &p, msg);
  ok(m == RUNM_NET_USER && p == NULL, "no network namespace (host network): user, even with hooks");
  choose("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/p\"}]}}", &m, &p, msg);
  ok(m == RUNM_NET_TAP && p && strcmp(p, "/run/netns/p") == 0, "a namespace path: tap there");
  char j[512];
  snprintf(j, sizeof(j), "{%s}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_USER, "a new namespace, no hooks (plain ctr run): user");
  snprintf(j, sizeof(j), "{%s,\"hooks\":{\"createRuntime\":[{\"path\":\"/x\"}],\"poststop\":[]}}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_TAP && p == NULL, "a new namespace with createRuntime hooks (nerdctl): tap, a new namespace");
  snprintf(j, sizeof(j), "{%s,\"hooks\":{\"poststop\":[{\"path\":\"/x\"}]}}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_TAP, "poststop hooks alone: tap");
  snprintf(j, sizeof(j), "{%s,\"hooks\":{\"poststart\":[{\"path\":\"/x\"}]}}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_USER, "poststart hooks only: user");
  snprintf(j, sizeof(j), "{%s,\"hooks\":{\"prestart\":[{\"path\":\"/x\"}]},\"annotations\":{\"io.runm.net\":\"user\"}}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_USER, "io.runm.net=user wins over hooks");
  choose("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/run/netns/p\"}]},\"annotations\":{\"io.runm.net\":\"none\"}}",
         &m, &p, msg);
  ok(m == RUNM_NET_NONE && p == NULL, "io.runm.net=none wins over a path");
  snprintf(j, sizeof(j), "{%s,\"annotations\":{\"io.runm.net\":\"tap\"}}", nsnew);
  choose(j, &m, &p, msg);
  ok(m == RUNM_NET_TAP && p == NULL, "io.runm.net=tap: a new namespace");
  ok(choose("{\"annotations\":{\"io.runm.net\":\"bridge\"}}", &m, &p, msg) < 0 &&
         strstr(msg, "`bridge` is not user, none or tap"),
     "an unknown mode is refused, named");
  ok(choose("{\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"netns/p\"}]}}", &m, &p, msg) < 0 &&
         strstr(msg, "`netns/p` is not absolute"),
     "a relative namespace path is refused");
  while (n_parsed) json_object_put(parsed[--n_parsed]);
}

/* ---- for real, as root ------------------------------------------------------ */

static int sh(const char *fmt, const char *arg)
{
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), fmt, arg, arg);
  return system(cmd);
}

static bool exists(const char *p)
{
  struct stat st;
  return lstat(p, &st) == 0;
}

static void test_live(void)
{
  char dir[] = "/tmp/runm-netif.XXXXXX", ns[PATH_MAX], msg[256];
  static struct task_net n, n2;
  runm_error_t err = NULL;
  bool found = false, has = false;
  int idx = 0;

  if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
    ok(1, "# SKIP live: needs root and /dev/net/tun");
    return;
  }
  /* Everything below happens in namespaces of this test's own. */
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    ok(0, "private network and mount namespaces");
    return;
  }
  if (mkdtemp(dir) == NULL) return;
  is_int(tap_take_error(task_net_open(&n, dir, "vm1", NULL, &err), &err, msg, sizeof(msg)), 0, "open: a new namespace");
  if (!n.active) {
    printf("# %s\n", msg);
    return;
  }
  snprintf(ns, sizeof(ns), "%s/net/vm1/netns", dir);
  ok(exists(ns) && n.tap_fd >= 0 && n.tap_index > 0, "its bind mount, the TAP and its index");
  is_int(sh("nsenter --net=%s ip link show tap0_runm >/dev/null 2>&1 && ! ip link show tap0_runm >/dev/null 2>&1",
            ns), 0, "the TAP is in the task's namespace, not the test's");
  is_int(tap_take_error(task_net_connect(&n, &found, &err), &err, msg, sizeof(msg)), 0, "connect with nothing there");
  ok(!found, "no interface but lo and the TAP: nothing to connect");
  /* CNI's veth: eth0 in the task's namespace, its peer in the test's. */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "nsenter --net=%s sh -c 'ip link add eth0 type veth peer name vpeer netns %d && ip link set eth0 mtu 1400 "
           "address 02:00:00:77:00:02 && ip addr add 10.77.0.2/24 dev eth0 && ip link set eth0 up && "
           "ip route add default via 10.77.0.1'",
           ns, (int)getpid());
  is_int(system(cmd), 0, "a veth as CNI's bridge plugin makes it");
  is_int(tap_take_error(task_net_connect(&n, &found, &err), &err, msg, sizeof(msg)), 0, "connect CNI's interface");
  ok(found && strcmp(n.cni.name, "eth0") == 0 && n.cni.mtu == 1400 && n.cni.n_addrs == 1 && n.cni.n_routes == 1,
     "found eth0 with its MTU, address and default route");
  ok(netif_tc_has_redirect(n.nl, n.cni.index, &has, &err) == 0 && has, "tc redirect on eth0's ingress");
  has = false;
  ok(netif_tc_has_redirect(n.nl, n.tap_index, &has, &err) == 0 && has, "tc redirect on the TAP's ingress");
  is_int(sh("nsenter --net=%s ip link show tap0_runm | grep -q '<.*UP.*> mtu 1400 '", ns), 0,
         "the TAP is up with eth0's MTU");

  /* A second task in the same (spec-named) namespace: refused, nothing
   * of the first touched. */
  ok(tap_take_error(task_net_open(&n2, dir, "vm2", ns, &err), &err, msg, sizeof(msg)) < 0 &&
         strstr(msg, "already has runm's TAP device"),
     "a second TAP in one namespace is refused, named");
  {
    char d2[PATH_MAX];
    snprintf(d2, sizeof(d2), "%s/net/vm2", dir);
    ok(!exists(d2), "and leaves no record");
  }

  /* The shim dies: only the record remains; shim delete's cleanup. */
  task_net_drop_tap(&n);
  mnl_socket_close(n.nl);
  close(n.ns_fd);
  is_int(tap_take_error(task_net_cleanup(dir, "vm1", &err), &err, msg, sizeof(msg)), 0, "cleanup from the record");
  ok(!exists(ns), "the namespace's bind is gone (the namespace with it)");
  {
    char d1[PATH_MAX];
    snprintf(d1, sizeof(d1), "%s/net", dir);
    ok(!exists(d1), "the record and the net dir are gone");
  }

  /* A spec-named namespace: ours removed, the namespace and eth0 stay. */
  char name[64];
  snprintf(name, sizeof(name), "runm-unit-%d", (int)getpid());
  sh("ip netns add %s", name);
  snprintf(ns, sizeof(ns), "/run/netns/%s", name);
  snprintf(cmd, sizeof(cmd), "nsenter --net=%s sh -c 'ip link add eth0 type veth peer name vpeer2 netns %d && ip link set eth0 up'",
           ns, (int)getpid());
  is_int(system(cmd), 0, "a veth in the spec's namespace");
  is_int(tap_take_error(task_net_open(&n2, dir, "vm3", ns, &err), &err, msg, sizeof(msg)), 0, "open: the spec's namespace");
  is_int(tap_take_error(task_net_connect(&n2, &found, &err), &err, msg, sizeof(msg)), 0, "connect in it");
  idx = n2.cni.index;
  is_int(tap_take_error(task_net_close(&n2, &err), &err, msg, sizeof(msg)), 0, "close");
  ok(exists(ns), "the spec's namespace stays");
  is_int(sh("nsenter --net=%s ip link show eth0 >/dev/null && ! nsenter --net=%s ip link show tap0_runm >/dev/null 2>&1", ns),
         0, "its eth0 stays, our TAP is gone");
  is_int(sh("test -z \"$(nsenter --net=%s tc qdisc show dev eth0 ingress)\"", ns), 0, "no ingress qdisc left on eth0");
  (void)idx;
  sh("ip netns del %s", name);
  rmdir(dir);
}

int main(void)
{
  test_parsers();
  test_guest_config();
  test_mode();
  test_live();
  return tap_done();
}

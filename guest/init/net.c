/* The guest's network, configured before serving from the kernel command
 * line with rtnetlink (no shell, no `ip`): lo up and, unless runm.net=none,
 * the virtio-net interface up with a static address, a default route, and
 * /etc/resolv.conf and /etc/hosts in the guest root (a tmpfs).
 *
 *   runm.net=none|user|tap   none (default when absent): lo only
 *   runm.net.ip=A.B.C.D/N    user default 10.0.2.15/24 (QEMU slirp's guest)
 *   runm.net.gw=A.B.C.D      user default 10.0.2.2 (slirp's host alias)
 *   runm.net.dns=A.B.C.D[,A.B.C.D...]  user default 10.0.2.3 (slirp's DNS)
 *   runm.net.mac=xx:xx:xx:xx:xx:xx     the interface to use (default: the
 *                            first Ethernet interface)
 *
 * A failure here never stops init: it is logged at error level on the
 * console and kept in init_net.status for `runmctl info`; the RPC service
 * comes up regardless, so the host can still reach the VM and ask. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cmdline.h"
#include "cmdline_keys.h"
#include "init.h"
#include "rtnl.h"

#define NET_MAX_DNS 3 /* what glibc and musl read from resolv.conf */

struct net_config {
  enum { NET_NONE, NET_USER, NET_TAP } mode;
  struct in_addr ip, gw, dns[NET_MAX_DNS];
  unsigned prefix, n_dns;
  bool have_ip, have_gw, have_mac;
  unsigned char mac[6];
};

static const char *mode_name(const struct net_config *nc)
{
  return nc->mode == NET_USER ? "user" : nc->mode == NET_TAP ? "tap" : "none";
}

static int parse_ipv4(const char *key, const char *s, struct in_addr *out, runm_error_t *err)
{
  if (inet_pton(AF_INET, s, out) != 1)
    return runm_make_error(err, EINVAL, "%s `%s` is not an IPv4 address", key, s);
  return 0;
}

static int parse_config(const char *cmdline, struct net_config *nc, runm_error_t *err)
{
  char v[128], *slash, *end;
  int r;

  memset(nc, 0, sizeof(*nc));
  r = runm_cmdline_get(cmdline, RUNM_KEY_NET, v, sizeof(v));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_NET " is too long");
  if (r == 0 || strcmp(v, "none") == 0)
    nc->mode = NET_NONE;
  else if (strcmp(v, "user") == 0)
    nc->mode = NET_USER;
  else if (strcmp(v, "tap") == 0)
    nc->mode = NET_TAP;
  else
    return runm_make_error(err, EINVAL, RUNM_KEY_NET " `%s` is not none, user or tap", v);
  if (nc->mode == NET_NONE) return 0;

  if (nc->mode == NET_USER) {
    inet_pton(AF_INET, "10.0.2.15", &nc->ip);
    nc->prefix = 24;
    inet_pton(AF_INET, "10.0.2.2", &nc->gw);
    nc->have_gw = true;
    inet_pton(AF_INET, "10.0.2.3", &nc->dns[0]);
    nc->n_dns = 1;
  }
  r = runm_cmdline_get(cmdline, RUNM_KEY_NET_IP, v, sizeof(v));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_NET_IP " is too long");
  if (r == 1) {
    unsigned long p;
    slash = strchr(v, '/');
    if (slash == NULL) return runm_make_error(err, EINVAL, RUNM_KEY_NET_IP " `%s` is not ADDR/PREFIX", v);
    *slash = '\0';
    p = strtoul(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || p < 1 || p > 32)
      return runm_make_error(err, EINVAL, RUNM_KEY_NET_IP " prefix `%s` is not 1-32", slash + 1);
    if (parse_ipv4(RUNM_KEY_NET_IP, v, &nc->ip, err) < 0) return -1;
    nc->prefix = (unsigned)p;
    nc->have_ip = true;
  } else if (nc->mode == NET_USER) {
    nc->have_ip = true; /* slirp's */
  }
  r = runm_cmdline_get(cmdline, RUNM_KEY_NET_GW, v, sizeof(v));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_NET_GW " is too long");
  if (r == 1) {
    if (parse_ipv4(RUNM_KEY_NET_GW, v, &nc->gw, err) < 0) return -1;
    nc->have_gw = true;
  }
  r = runm_cmdline_get(cmdline, RUNM_KEY_NET_DNS, v, sizeof(v));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_NET_DNS " is too long");
  if (r == 1) {
    char *save = NULL, *tok;
    nc->n_dns = 0;
    for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      if (nc->n_dns == NET_MAX_DNS)
        return runm_make_error(err, EINVAL, RUNM_KEY_NET_DNS " names more than %d servers", NET_MAX_DNS);
      if (parse_ipv4(RUNM_KEY_NET_DNS, tok, &nc->dns[nc->n_dns++], err) < 0) return -1;
    }
  }
  r = runm_cmdline_get(cmdline, RUNM_KEY_NET_MAC, v, sizeof(v));
  if (r < 0) return runm_make_error(err, EINVAL, RUNM_KEY_NET_MAC " is too long");
  if (r == 1) {
    unsigned m[6];
    char extra;
    if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &extra) != 6 ||
        strlen(v) != 17)
      return runm_make_error(err, EINVAL, RUNM_KEY_NET_MAC " `%s` is not xx:xx:xx:xx:xx:xx", v);
    for (int i = 0; i < 6; i++) nc->mac[i] = (unsigned char)m[i];
    nc->have_mac = true;
  }
  return 0;
}

/* ---- interfaces (rtnetlink, rtnl.h) ---------------------------------------- */


/* Finds lo and the interface to configure (by MAC, else the first Ethernet
 * interface by index) in one RTM_GETLINK dump. */
static int find_links(struct nl *nl, const struct net_config *nc, struct link *lo, struct link *eth,
                      runm_error_t *err)
{
  char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
  struct nl_req rq;
  struct ifinfomsg *ifi;

  lo->index = eth->index = 0;
  nl_begin(&rq, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
  ifi = nl_body(&rq);
  ifi->ifi_family = AF_UNSPEC;
  if (nl_send(nl, &rq, "list interfaces", err) < 0) return -1;
  for (;;) {
    ssize_t n = nl_recv(nl, buf, sizeof(buf), "list interfaces", err);
    if (n < 0) return -1;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      struct link l = {0};
      struct rtattr *a;
      int alen;
      bool have_mac = false;
      if (h->nlmsg_seq != nl->seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return runm_make_error(err, h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ? -e->error : EPROTO,
                               "list interfaces");
      }
      if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi))) continue;
      ifi = NLMSG_DATA(h);
      l.index = ifi->ifi_index;
      alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
      for (a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type == IFLA_IFNAME) {
          size_t len = RTA_PAYLOAD(a) < sizeof(l.name) ? RTA_PAYLOAD(a) : sizeof(l.name) - 1;
          memcpy(l.name, RTA_DATA(a), len);
          l.name[len < sizeof(l.name) ? len : sizeof(l.name) - 1] = '\0';
        } else if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
          memcpy(l.mac, RTA_DATA(a), 6);
          have_mac = true;
        }
      }
      if (ifi->ifi_type == ARPHRD_LOOPBACK && lo->index == 0)
        *lo = l;
      else if (ifi->ifi_type == ARPHRD_ETHER && have_mac && eth->index == 0 &&
               (!nc->have_mac || memcmp(l.mac, nc->mac, 6) == 0))
        *eth = l;
    }
  }
}

int init_net_find_nic(struct nl *nl, struct link *eth, runm_error_t *err)
{
  struct net_config any = {.mode = NET_TAP};
  struct link lo;
  if (find_links(nl, &any, &lo, eth, err) < 0) return -1;
  if (eth->index == 0) return runm_make_error(err, ENODEV, "the VM has no network interface (virtio-net)");
  return 0;
}

static int link_up(struct nl *nl, const struct link *l, runm_error_t *err)
{
  struct nl_req rq;
  struct ifinfomsg *ifi;
  char what[64];

  nl_begin(&rq, RTM_NEWLINK, 0, sizeof(*ifi));
  ifi = nl_body(&rq);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = l->index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  snprintf(what, sizeof(what), "bring %s up", l->name);
  return nl_call(nl, &rq, what, err);
}

static int add_address(struct nl *nl, const struct link *l, const struct net_config *nc,
                       runm_error_t *err)
{
  struct nl_req rq;
  struct ifaddrmsg *ifa;
  struct in_addr brd;
  uint32_t mask = nc->prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> nc->prefix);
  char what[96], a[INET_ADDRSTRLEN];

  brd.s_addr = nc->ip.s_addr | htonl(~mask);
  nl_begin(&rq, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
  ifa = nl_body(&rq);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)nc->prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned)l->index;
  nl_attr(&rq, IFA_LOCAL, &nc->ip, sizeof(nc->ip));
  nl_attr(&rq, IFA_ADDRESS, &nc->ip, sizeof(nc->ip));
  if (nc->prefix < 31) nl_attr(&rq, IFA_BROADCAST, &brd, sizeof(brd));
  inet_ntop(AF_INET, &nc->ip, a, sizeof(a));
  snprintf(what, sizeof(what), "add address %s/%u to %s", a, nc->prefix, l->name);
  return nl_call(nl, &rq, what, err);
}

static int add_default_route(struct nl *nl, const struct link *l, const struct net_config *nc,
                             runm_error_t *err)
{
  struct nl_req rq;
  struct rtmsg *rt;
  uint32_t oif = (uint32_t)l->index;
  char what[96], a[INET_ADDRSTRLEN];

  nl_begin(&rq, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
  rt = nl_body(&rq);
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  nl_attr(&rq, RTA_GATEWAY, &nc->gw, sizeof(nc->gw));
  nl_attr(&rq, RTA_OIF, &oif, sizeof(oif));
  inet_ntop(AF_INET, &nc->gw, a, sizeof(a));
  snprintf(what, sizeof(what), "add default route via %s dev %s", a, l->name);
  return nl_call(nl, &rq, what, err);
}

/* ---- files in the guest root ---------------------------------------------- */

/* resolv.conf's text: the configured servers (pure, for the unit tests). */
static void resolv_text(const struct net_config *nc, char *text, size_t cap)
{
  char a[INET_ADDRSTRLEN];
  size_t len = (size_t)snprintf(text, cap, "# runm-linux-init (" RUNM_KEY_NET "=%s)\n", mode_name(nc));
  for (unsigned i = 0; i < nc->n_dns && len < cap; i++) {
    inet_ntop(AF_INET, &nc->dns[i], a, sizeof(a));
    len += (size_t)snprintf(text + len, cap - len, "nameserver %s\n", a);
  }
}

/* hosts' text: localhost, and the hostname on the VM's address (on
 * 127.0.1.1 without a network, as Debian does). */
static void hosts_text(const struct net_config *nc, const char *host, char *text, size_t cap)
{
  char a[INET_ADDRSTRLEN];
  size_t len = (size_t)snprintf(text, cap, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  if (len >= cap) return;
  if (nc->mode != NET_NONE) {
    inet_ntop(AF_INET, &nc->ip, a, sizeof(a));
    snprintf(text + len, cap - len, "%s\t%s\n", a, host);
  } else {
    snprintf(text + len, cap - len, "127.0.1.1\t%s\n", host);
  }
}

/* resolv.conf for the configured servers (none: no file), and hosts. */
static int write_etc(const struct net_config *nc, runm_error_t *err)
{
  char text[512], host[65] = "";

  if (nc->mode != NET_NONE) {
    resolv_text(nc, text, sizeof(text));
    if (init_write_file("/etc/resolv.conf", text, strlen(text), 0644, err) < 0) return -1;
  }
  if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0') snprintf(host, sizeof(host), "runm");
  hosts_text(nc, host, text, sizeof(text));
  return init_write_file("/etc/hosts", text, strlen(text), 0644, err);
}

/* ---- entry point ------------------------------------------------------------ */

/* Per-step times for `runm.debug=1`: boot time matters, and TCG is slow. */
struct steps {
  char text[200];
  size_t len;
  int64_t last;
};

static void step(struct steps *sp, const char *name)
{
  int64_t now = init_boottime_ns();
  int n = snprintf(sp->text + sp->len, sizeof(sp->text) - sp->len, "%s%s %.1f", sp->len ? ", " : "",
                   name, (now - sp->last) / 1e6);
  if (n > 0 && (size_t)n < sizeof(sp->text) - sp->len) sp->len += (size_t)n;
  sp->last = now;
}

/* IPv6 stays off on the NIC: slirp runs with ipv6=off, and without it the
 * kernel would still autoconfigure a link-local address, run DAD and send
 * router solicitations for nothing. lo keeps ::1. */
static void ipv6_off(const struct link *l, const struct runm_logger *log)
{
  char path[96];
  cleanup_close int fd = -1;
  snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", l->name);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1", 1) != 1) runm_log(log, RUNM_LOG_DEBUG, "disable IPv6 on %s: %m", l->name);
}

static int configure(struct nl *nl, const struct net_config *nc, struct init_net *st,
                     const struct runm_logger *log, struct steps *sp, runm_error_t *err)
{
  struct link lo, eth;
  char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN] = "-", dns[3 * INET_ADDRSTRLEN + 3] = "";

  if (find_links(nl, nc, &lo, &eth, err) < 0) return -1;
  step(sp, "links");
  if (lo.index == 0) return runm_make_error(err, ENODEV, "no loopback interface");
  if (link_up(nl, &lo, err) < 0) return -1;
  step(sp, "lo");
  if (nc->mode == NET_NONE) {
    if (write_etc(nc, err) < 0) return -1;
    step(sp, "files");
    snprintf(st->status, sizeof(st->status), "none (lo only)");
    return 0;
  }
  if (eth.index == 0 && nc->mode == NET_TAP && !nc->have_ip) {
    /* No NIC: there is nothing for ConfigureNetwork to configure either. */
    return runm_make_error(err, ENODEV, RUNM_KEY_NET "=tap but the VM has no network interface (virtio-net)");
  }
  if (nc->mode == NET_TAP && !nc->have_ip) {
    /* The namespace mode: CNI configures the host side after boot; the
     * NIC waits for ConfigureNetwork (net_tap.c), up already (the slow
     * part under TCG, done here as in user mode) with no address and no
     * IPv6 (ConfigureNetwork turns it on for CNI's IPv6 addresses). */
    ipv6_off(&eth, log);
    if (link_up(nl, &eth, err) < 0) return -1;
    step(sp, eth.name);
    if (write_etc(nc, err) < 0) return -1;
    snprintf(st->status, sizeof(st->status), "tap: %s waiting for the host's configuration", eth.name);
    return 0;
  }
  if (eth.index == 0) {
    if (nc->have_mac)
      return runm_make_error(err, ENODEV, "no network interface with MAC %02x:%02x:%02x:%02x:%02x:%02x",
                             nc->mac[0], nc->mac[1], nc->mac[2], nc->mac[3], nc->mac[4], nc->mac[5]);
    return runm_make_error(err, ENODEV,
                           RUNM_KEY_NET "=%s but the VM has no network interface (virtio-net)",
                           mode_name(nc));
  }
  ipv6_off(&eth, log);
  if (link_up(nl, &eth, err) < 0) return -1;
  step(sp, eth.name);
  if (add_address(nl, &eth, nc, err) < 0) return -1;
  if (nc->have_gw && add_default_route(nl, &eth, nc, err) < 0) return -1;
  step(sp, "address+route");
  if (write_etc(nc, err) < 0) return -1;
  step(sp, "files");

  inet_ntop(AF_INET, &nc->ip, ip, sizeof(ip));
  if (nc->have_gw) inet_ntop(AF_INET, &nc->gw, gw, sizeof(gw));
  for (unsigned i = 0; i < nc->n_dns; i++) {
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &nc->dns[i], a, sizeof(a));
    snprintf(dns + strlen(dns), sizeof(dns) - strlen(dns), "%s%s", i ? "," : "", a);
  }
  snprintf(st->status, sizeof(st->status), "%s: %s %s/%u via %s, dns %s", mode_name(nc), eth.name,
           ip, nc->prefix, gw, dns[0] ? dns : "-");
  return 0;
}

void init_net_setup(const char *cmdline, struct init_net *st, const struct runm_logger *log)
{
  cleanup_error runm_error_t err = NULL;
  struct net_config nc;
  struct nl nl = {.fd = -1};
  int64_t t0 = init_boottime_ns();
  struct steps sp = {.last = t0};
  int ret;

  memset(st, 0, sizeof(*st));
  pthread_mutex_init(&st->lock, NULL);
  ret = parse_config(cmdline, &nc, &err);
  if (ret == 0) st->tap_waiting = nc.mode == NET_TAP && !nc.have_ip;
  if (ret == 0) ret = nl_open(&nl, &err);
  step(&sp, "netlink");
  if (ret == 0) ret = configure(&nl, &nc, st, log, &sp, &err);
  if (nl.fd >= 0) close(nl.fd);
  st->setup_ns = init_boottime_ns() - t0;
  if (ret < 0) {
    cleanup_free char *msg = runm_error_string(err);
    st->failed = true;
    snprintf(st->status, sizeof(st->status), "error: %s", msg ? msg : "unknown");
    /* Loud, but not fatal: the host still reaches the RPC service. */
    runm_log(log, RUNM_LOG_ERROR, "network setup failed: %s", msg ? msg : "unknown");
    return;
  }
  runm_log(log, RUNM_LOG_DEBUG, "network: %s (%.1f ms: %s)", st->status, st->setup_ns / 1e6, sp.text);
}

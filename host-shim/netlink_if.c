/* rtnetlink through libmnl (netlink_if.h). What the dump parsers read comes
 * from the host kernel about a namespace CNI plugins configured: trusted
 * as to format, but capped all the same (a CNI chain may add many). */
#include "netlink_if.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/tc_act/tc_gact.h>
#include <net/if_arp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"

#define NL_BUF (32 * 1024)

struct netif *netif_find(struct netif_list *l, int index)
{
  for (size_t i = 0; i < l->n; i++)
    if (l->links[i].index == index) return &l->links[i];
  return NULL;
}

int netif_parse_link(const struct nlmsghdr *nlh, struct netif_list *l)
{
  const struct ifinfomsg *ifi;
  struct nlattr *a;
  struct netif f;

  if (nlh->nlmsg_type != RTM_NEWLINK) return 0;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi))) return -1;
  ifi = mnl_nlmsg_get_payload(nlh);
  memset(&f, 0, sizeof(f));
  f.index = ifi->ifi_index;
  f.type = ifi->ifi_type;
  f.flags = ifi->ifi_flags;
  mnl_attr_for_each(a, nlh, sizeof(*ifi))
  {
    switch (mnl_attr_get_type(a)) {
    case IFLA_IFNAME: {
      const char *n = mnl_attr_get_str(a);
      size_t len = strnlen(n, mnl_attr_get_payload_len(a));
      if (len == 0 || len >= sizeof(f.name)) return -1;
      memcpy(f.name, n, len);
      f.name[len] = '\0';
      break;
    }
    case IFLA_ADDRESS:
      if (mnl_attr_get_payload_len(a) == 6) {
        memcpy(f.mac, mnl_attr_get_payload(a), 6);
        f.has_mac = true;
      }
      break;
    case IFLA_MTU:
      if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return -1;
      f.mtu = mnl_attr_get_u32(a);
      break;
    default:
      break;
    }
  }
  if (f.name[0] == '\0' || f.index <= 0) return -1;
  if (netif_find(l, f.index)) return 0;
  if (l->n >= NETIF_MAX_LINKS) {
    l->truncated = true;
    return 0;
  }
  l->links[l->n++] = f;
  return 0;
}

static size_t family_len(int family)
{
  return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int netif_parse_addr(const struct nlmsghdr *nlh, struct netif_list *l)
{
  const struct ifaddrmsg *ifa;
  struct nlattr *a;
  const void *local = NULL, *addr = NULL;
  struct netif *f;
  size_t alen;

  if (nlh->nlmsg_type != RTM_NEWADDR) return 0;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa))) return -1;
  ifa = mnl_nlmsg_get_payload(nlh);
  alen = family_len(ifa->ifa_family);
  if (alen == 0) return 0;
  if (ifa->ifa_prefixlen > alen * 8) return -1;
  /* fe80::/10 and host-scope addresses: the guest's kernel makes its own. */
  if (ifa->ifa_scope == RT_SCOPE_LINK || ifa->ifa_scope == RT_SCOPE_HOST) return 0;
  mnl_attr_for_each(a, nlh, sizeof(*ifa))
  {
    uint16_t t = mnl_attr_get_type(a);
    if ((t == IFA_LOCAL || t == IFA_ADDRESS) && mnl_attr_get_payload_len(a) != alen) return -1;
    if (t == IFA_LOCAL) local = mnl_attr_get_payload(a);
    else if (t == IFA_ADDRESS) addr = mnl_attr_get_payload(a);
  }
  /* IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
   * peer's on point-to-point links); IPv6 has IFA_ADDRESS only. */
  if (local) addr = local;
  if (addr == NULL) return -1;
  f = netif_find(l, (int)ifa->ifa_index);
  if (f == NULL) return 0;
  if (f->n_addrs >= NETIF_MAX_ADDRS) {
    l->truncated = true;
    return 0;
  }
  f->addrs[f->n_addrs].family = ifa->ifa_family;
  memcpy(f->addrs[f->n_addrs].addr, addr, alen);
  f->addrs[f->n_addrs].prefix = ifa->ifa_prefixlen;
  f->n_addrs++;
  return 0;
}

int netif_parse_route(const struct nlmsghdr *nlh, struct netif_list *l)
{
  const struct rtmsg *rt;
  struct nlattr *a;
  struct netif_route r;
  uint32_t table, oif = 0;
  struct netif *f;
  size_t alen;

  if (nlh->nlmsg_type != RTM_NEWROUTE) return 0;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rt))) return -1;
  rt = mnl_nlmsg_get_payload(nlh);
  alen = family_len(rt->rtm_family);
  if (alen == 0) return 0;
  if (rt->rtm_dst_len > alen * 8) return -1;
  table = rt->rtm_table;
  memset(&r, 0, sizeof(r));
  r.family = rt->rtm_family;
  r.dst_len = rt->rtm_dst_len;
  r.scope = rt->rtm_scope;
  mnl_attr_for_each(a, nlh, sizeof(*rt))
  {
    switch (mnl_attr_get_type(a)) {
    case RTA_TABLE:
      if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return -1;
      table = mnl_attr_get_u32(a);
      break;
    case RTA_DST:
      if (mnl_attr_get_payload_len(a) != alen) return -1;
      memcpy(r.dst, mnl_attr_get_payload(a), alen);
      break;
    case RTA_GATEWAY:
      if (mnl_attr_get_payload_len(a) != alen) return -1;
      memcpy(r.gw, mnl_attr_get_payload(a), alen);
      r.has_gw = true;
      break;
    case RTA_OIF:
      if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return -1;
      oif = mnl_attr_get_u32(a);
      break;
    case RTA_PRIORITY:
      if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return -1;
      r.metric = mnl_attr_get_u32(a);
      break;
    default:
      break;
    }
  }
  /* The main table's unicast routes that someone added (CNI's IPAM, its
   * `routes`): the kernel's own (the prefix route of each address,
   * fe80::/64, local routes) appear in the guest by themselves. */
  if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST || rt->rtm_protocol == RTPROT_KERNEL)
    return 0;
  if (rt->rtm_family == AF_INET6 && r.dst_len >= 10 && r.dst[0] == 0xfe && (r.dst[1] & 0xc0) == 0x80)
    return 0;
  f = netif_find(l, (int)oif);
  if (f == NULL) return 0;
  if (f->n_routes >= NETIF_MAX_ROUTES) {
    l->truncated = true;
    return 0;
  }
  f->routes[f->n_routes++] = r;
  return 0;
}

/* ---- requests ------------------------------------------------------------- */

struct cb_ctx {
  int (*parse)(const struct nlmsghdr *, struct netif_list *);
  struct netif_list *list;
  void *data;
};

static int cb_parse(const struct nlmsghdr *nlh, void *data)
{
  struct cb_ctx *c = data;
  if (c->parse(nlh, c->list) < 0) {
    errno = EPROTO;
    return MNL_CB_ERROR;
  }
  return MNL_CB_OK;
}

/* Sends one request and runs cb on each reply until the dump's end or the
 * acknowledgement (requests other than dumps carry NLM_F_ACK). */
static int nl_call(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
                   runm_error_t *err)
{
  cleanup_free char *buf = malloc(NL_BUF);
  unsigned portid = mnl_socket_get_portid(nl);
  struct timespec ts;
  int ret;

  if (buf == NULL) return runm_make_error(err, ENOMEM, "%s", what);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  nlh->nlmsg_seq = (uint32_t)(ts.tv_nsec ^ ts.tv_sec);
  /* NLM_F_DUMP shares bits with NLM_F_EXCL: only a GET is a dump. */
  bool dump = (nlh->nlmsg_type & 3) == 2 && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) nlh->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return runm_make_error(err, errno, "%s: netlink send", what);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf, NL_BUF);
    if (n < 0) {
      if (errno == EINTR) continue;
      return runm_make_error(err, errno, "%s: netlink receive", what);
    }
    ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
    if (ret < 0) return runm_make_error(err, errno, "%s", what);
    if (ret == MNL_CB_STOP) return 0;
  }
}

static struct nlmsghdr *begin(char *buf, uint16_t type, uint16_t flags)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  return nlh;
}

int netif_dump(struct mnl_socket *nl, struct netif_list *out, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct cb_ctx c = {.list = out};

  memset(out, 0, sizeof(*out));
  nlh = begin(buf, RTM_GETLINK, NLM_F_DUMP);
  ((struct ifinfomsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)))->ifi_family = AF_UNSPEC;
  c.parse = netif_parse_link;
  if (nl_call(nl, nlh, cb_parse, &c, "list the namespace's links", err) < 0) return -1;
  nlh = begin(buf, RTM_GETADDR, NLM_F_DUMP);
  ((struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg)))->ifa_family = AF_UNSPEC;
  c.parse = netif_parse_addr;
  if (nl_call(nl, nlh, cb_parse, &c, "list the namespace's addresses", err) < 0) return -1;
  nlh = begin(buf, RTM_GETROUTE, NLM_F_DUMP);
  ((struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg)))->rtm_family = AF_UNSPEC;
  c.parse = netif_parse_route;
  if (nl_call(nl, nlh, cb_parse, &c, "list the namespace's routes", err) < 0) return -1;
  return 0;
}

int netif_index(struct mnl_socket *nl, const char *name, int *index, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct netif_list *l = calloc(1, sizeof(*l));
  struct cb_ctx c = {.list = l, .parse = netif_parse_link};
  struct nlmsghdr *nlh = begin(buf, RTM_GETLINK, 0);
  cleanup_error runm_error_t e2 = NULL;

  *index = 0;
  if (l == NULL) return runm_make_error(err, ENOMEM, "link `%s`", name);
  ((struct ifinfomsg *)mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg)))->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (nl_call(nl, nlh, cb_parse, &c, "find link", &e2) < 0) {
    free(l);
    if (e2->status == ENODEV) return 0;
    *err = steal_pointer(&e2);
    return runm_error_wrap(err, "link `%s`", name);
  }
  if (l->n == 1) *index = l->links[0].index;
  free(l);
  return 0;
}

int netif_up(struct mnl_socket *nl, int index, unsigned mtu, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = begin(buf, RTM_NEWLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return nl_call(nl, nlh, NULL, NULL, "bring the TAP device up", err);
}

int netif_delete(struct mnl_socket *nl, int index, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = begin(buf, RTM_DELLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  if (nl_call(nl, nlh, NULL, NULL, "delete link", err) < 0) {
    if ((*err)->status != ENODEV) return -1;
    runm_error_release(err);
  }
  return 0;
}

/* ---- tc ---------------------------------------------------------------------- */

static struct tcmsg *tc_begin(char *buf, struct nlmsghdr **nlh, uint16_t type, uint16_t flags, int index,
                              uint32_t parent)
{
  struct tcmsg *tcm;
  *nlh = begin(buf, type, flags);
  tcm = mnl_nlmsg_put_extra_header(*nlh, sizeof(*tcm));
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = index;
  tcm->tcm_parent = parent;
  return tcm;
}

#define INGRESS_HANDLE TC_H_MAKE(TC_H_INGRESS, 0) /* ffff: */
#define FILTER_INFO TC_H_MAKE((uint32_t)NETIF_TC_PRIO << 16, htons(ETH_P_ALL))

int netif_tc_redirect(struct mnl_socket *nl, int from, int to, bool *created, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct tcmsg *tcm;
  struct nlattr *opts, *acts, *act, *aopts;
  char selbuf[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)] = {0};
  struct tc_u32_sel *sel = (struct tc_u32_sel *)selbuf;
  struct tc_mirred mirred = {.action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR, .ifindex = (uint32_t)to};

  *created = false;
  tcm = tc_begin(buf, &nlh, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, from, TC_H_INGRESS);
  tcm->tcm_handle = INGRESS_HANDLE;
  mnl_attr_put_strz(nlh, TCA_KIND, "ingress");
  if (nl_call(nl, nlh, NULL, NULL, "add an ingress qdisc", err) == 0) {
    *created = true;
  } else {
    if ((*err)->status != EEXIST) return -1;
    runm_error_release(err); /* someone's ingress qdisc: our filter joins it */
  }
  /* u32 with one key matching every frame (`u32 match u8 0 0`): the
   * classifier every kernel has (matchall is a module some lack). */
  tcm = tc_begin(buf, &nlh, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, from, INGRESS_HANDLE);
  tcm->tcm_info = FILTER_INFO;
  mnl_attr_put_strz(nlh, TCA_KIND, "u32");
  opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
  sel->flags = TC_U32_TERMINAL;
  sel->nkeys = 1;
  mnl_attr_put(nlh, TCA_U32_SEL, sizeof(selbuf), selbuf);
  acts = mnl_attr_nest_start(nlh, TCA_U32_ACT);
  act = mnl_attr_nest_start(nlh, 1);
  mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
  aopts = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
  mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(mirred), &mirred);
  mnl_attr_nest_end(nlh, aopts);
  mnl_attr_nest_end(nlh, act);
  mnl_attr_nest_end(nlh, acts);
  mnl_attr_nest_end(nlh, opts);
  if (nl_call(nl, nlh, NULL, NULL, "add a redirecting tc filter", err) < 0) {
    cleanup_error runm_error_t e2 = NULL;
    if (*created) netif_tc_unredirect(nl, from, true, &e2);
    *created = false;
    return -1;
  }
  return 0;
}

static bool gone(int status)
{
  return status == ENOENT || status == EINVAL || status == ENODEV;
}

int netif_tc_unredirect(struct mnl_socket *nl, int from, bool qdisc, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct tcmsg *tcm = tc_begin(buf, &nlh, RTM_DELTFILTER, 0, from, INGRESS_HANDLE);

  tcm->tcm_info = FILTER_INFO;
  if (nl_call(nl, nlh, NULL, NULL, "remove the redirecting tc filter", err) < 0) {
    if (!gone((*err)->status)) return -1;
    runm_error_release(err);
  }
  if (!qdisc) return 0;
  tcm = tc_begin(buf, &nlh, RTM_DELQDISC, 0, from, TC_H_INGRESS);
  tcm->tcm_handle = INGRESS_HANDLE;
  if (nl_call(nl, nlh, NULL, NULL, "remove the ingress qdisc", err) < 0) {
    if (!gone((*err)->status)) return -1;
    runm_error_release(err);
  }
  return 0;
}

static int cb_filter(const struct nlmsghdr *nlh, void *data)
{
  const struct tcmsg *tcm;
  if (nlh->nlmsg_type != RTM_NEWTFILTER || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*tcm))) return MNL_CB_OK;
  tcm = mnl_nlmsg_get_payload(nlh);
  if (TC_H_MAJ(tcm->tcm_info) >> 16 == NETIF_TC_PRIO) *(bool *)data = true;
  return MNL_CB_OK;
}

int netif_tc_has_redirect(struct mnl_socket *nl, int index, bool *has, runm_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  tc_begin(buf, &nlh, RTM_GETTFILTER, NLM_F_DUMP, index, INGRESS_HANDLE);
  *has = false;
  if (nl_call(nl, nlh, cb_filter, has, "list tc filters", err) < 0) {
    if (!gone((*err)->status)) return -1;
    runm_error_release(err);
  }
  return 0;
}

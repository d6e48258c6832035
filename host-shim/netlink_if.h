/* rtnetlink in a task's host network namespace (libmnl): what CNI made
 * there (links, addresses, routes), and the few changes the namespace mode
 * makes (a link up with an MTU, tc ingress redirects, a link deleted).
 * Every call takes a netlink socket opened inside the namespace
 * (netns.c), so no thread ever has to stay in it. */
#ifndef SHIM_NETLINK_IF_H
#define SHIM_NETLINK_IF_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct mnl_socket;
struct nlmsghdr;

/* Caps: a namespace holds what CNI made, a handful of each. More is
 * refused with an error rather than cut silently. */
#define NETIF_MAX_LINKS 16
#define NETIF_MAX_ADDRS 16
#define NETIF_MAX_ROUTES 32

struct netif_addr {
  int family; /* AF_INET or AF_INET6 */
  uint8_t addr[16];
  uint8_t prefix;
};

struct netif_route {
  int family;
  uint8_t dst[16];
  uint8_t dst_len; /* 0: the default route */
  uint8_t gw[16];
  bool has_gw;
  uint8_t scope; /* RT_SCOPE_* */
  uint32_t metric;
};

struct netif {
  int index;
  char name[IF_NAMESIZE];
  unsigned type;  /* ARPHRD_* */
  unsigned flags; /* IFF_* */
  unsigned mtu;
  uint8_t mac[6];
  bool has_mac;
  struct netif_addr addrs[NETIF_MAX_ADDRS];
  size_t n_addrs;
  struct netif_route routes[NETIF_MAX_ROUTES];
  size_t n_routes;
};

struct netif_list {
  struct netif links[NETIF_MAX_LINKS];
  size_t n;
  bool truncated; /* more links, addresses or routes than the caps */
};

/* Parsers of one dump message each (pure, unit-tested). parse_link adds a
 * link; parse_addr and parse_route attach to a link already in the list
 * (by index) and skip what the guest must not copy: link-local and
 * kernel-made routes (the kernel makes them again in the guest), other
 * tables than main, non-unicast routes. 0, or -1 for a malformed message. */
int netif_parse_link(const struct nlmsghdr *nlh, struct netif_list *l);
int netif_parse_addr(const struct nlmsghdr *nlh, struct netif_list *l);
int netif_parse_route(const struct nlmsghdr *nlh, struct netif_list *l);
struct netif *netif_find(struct netif_list *l, int index);

/* Links, then their addresses and routes (v4 and v6), of the socket's
 * namespace. */
int netif_dump(struct mnl_socket *nl, struct netif_list *out, runm_error_t *err);
/* The link's index by name; 0 when there is none. */
int netif_index(struct mnl_socket *nl, const char *name, int *index, runm_error_t *err);
/* Sets the MTU (0 = leave it) and brings the link up. */
int netif_up(struct mnl_socket *nl, int index, unsigned mtu, runm_error_t *err);
int netif_delete(struct mnl_socket *nl, int index, runm_error_t *err);

/* Kata's tcfilter model: an ingress qdisc on `from` whose one u32 filter
 * (match-all, at NETIF_TC_PRIO) redirects every frame to `to`'s egress.
 * *created: the qdisc was made here (it was not there before). */
#define NETIF_TC_PRIO 0xc0d
int netif_tc_redirect(struct mnl_socket *nl, int from, int to, bool *created, runm_error_t *err);
/* Removes that filter, and the ingress qdisc when `qdisc` (ours); what is
 * already gone counts as removed. */
int netif_tc_unredirect(struct mnl_socket *nl, int from, bool qdisc, runm_error_t *err);
/* Whether `index` has an ingress filter at NETIF_TC_PRIO (tests, checks). */
int netif_tc_has_redirect(struct mnl_socket *nl, int index, bool *has, runm_error_t *err);

#endif

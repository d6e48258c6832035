/* ConfigureNetwork: the namespace mode's second half in the guest. The VM
 * booted with runm.net=tap and its NIC down; once CNI has configured the
 * task's host namespace, the shim sends what CNI gave that namespace's
 * interface, and the NIC takes it over: the same MAC (the bridge's FDB,
 * neighbours' ARP caches and portmap's DNAT keep working), MTU, addresses
 * and routes. Runs once, before the container's process starts; the
 * container shares the VM's network namespace (guest_spec.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "handlers.h"
#include "init.h"
#include "net_tap.h"
#include "rtnl.h"
#include "runm/v1/guest.pb-c.h"

/* ---- netlink steps ---------------------------------------------------------- */

static int set_link(struct nl *nl, const struct link *l, const Runm__V1__NetworkConfig *c, runm_error_t *err)
{
  struct nl_req rq;
  struct ifinfomsg *ifi;
  uint32_t mtu = c->mtu;
  nl_begin(&rq, RTM_NEWLINK, 0, sizeof(*ifi));
  ifi = nl_body(&rq);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = l->index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  nl_attr(&rq, IFLA_ADDRESS, c->mac.data, 6);
  if (mtu) nl_attr(&rq, IFLA_MTU, &mtu, sizeof(mtu));
  return nl_call(nl, &rq, "set the NIC's MAC and MTU and bring it up", err);
}

static int add_addr(struct nl *nl, const struct link *l, const Runm__V1__IpAddress *a, runm_error_t *err)
{
  struct nl_req rq;
  struct ifaddrmsg *ifa;
  char what[96], text[INET6_ADDRSTRLEN];
  int family = a->addr.len == 4 ? AF_INET : AF_INET6;

  nl_begin(&rq, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
  ifa = nl_body(&rq);
  ifa->ifa_family = (unsigned char)family;
  ifa->ifa_prefixlen = (unsigned char)a->prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned)l->index;
  if (family == AF_INET) {
    uint32_t ip, mask = a->prefix == 0 ? 0 : a->prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> a->prefix);
    memcpy(&ip, a->addr.data, 4);
    nl_attr(&rq, IFA_LOCAL, a->addr.data, 4);
    nl_attr(&rq, IFA_ADDRESS, a->addr.data, 4);
    if (a->prefix < 31) {
      uint32_t brd = ip | htonl(~mask);
      nl_attr(&rq, IFA_BROADCAST, &brd, 4);
    }
  } else {
    /* Usable at once: the address is CNI's, allocated for this task. */
    uint32_t flags = IFA_F_NODAD;
    nl_attr(&rq, IFA_ADDRESS, a->addr.data, 16);
    nl_attr(&rq, IFA_FLAGS, &flags, sizeof(flags));
  }
  inet_ntop(family, a->addr.data, text, sizeof(text));
  snprintf(what, sizeof(what), "add address %s/%u to %s", text, a->prefix, l->name);
  return nl_call(nl, &rq, what, err);
}

static int add_route(struct nl *nl, const struct link *l, const Runm__V1__IpRoute *r, runm_error_t *err)
{
  struct nl_req rq;
  struct rtmsg *rt;
  uint32_t oif = (uint32_t)l->index;
  char what[128], text[INET6_ADDRSTRLEN];
  int family = r->dst.len == 4 ? AF_INET : AF_INET6;

  nl_begin(&rq, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rt));
  rt = nl_body(&rq);
  rt->rtm_family = (unsigned char)family;
  rt->rtm_dst_len = (unsigned char)r->prefix;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = r->gateway.len ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rt->rtm_type = RTN_UNICAST;
  if (r->prefix) nl_attr(&rq, RTA_DST, r->dst.data, r->dst.len);
  if (r->gateway.len) nl_attr(&rq, RTA_GATEWAY, r->gateway.data, r->gateway.len);
  nl_attr(&rq, RTA_OIF, &oif, sizeof(oif));
  if (r->metric) nl_attr(&rq, RTA_PRIORITY, &r->metric, sizeof(r->metric));
  inet_ntop(family, r->dst.data, text, sizeof(text));
  snprintf(what, sizeof(what), "add route %s/%u dev %s", text, r->prefix, l->name);
  return nl_call(nl, &rq, what, err);
}

/* Boot left IPv6 off on the NIC (net.c): CNI gave it IPv6 addresses. */
static int ipv6_on(const struct link *l, runm_error_t *err)
{
  char path[96];
  cleanup_close int fd = -1;
  snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", l->name);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) return runm_make_error(err, errno, "turn IPv6 on for %s", l->name);
  return 0;
}

static int apply(const Runm__V1__NetworkConfig *c, char *status, size_t cap, runm_error_t *err)
{
  struct nl nl = {.fd = -1};
  struct link eth;
  int ret;

  if (nl_open(&nl, err) < 0) return -1;
  ret = init_net_find_nic(&nl, &eth, err);
  if (ret == 0) ret = set_link(&nl, &eth, c, err);
  /* After the MAC: the link-local address IPv6 makes now derives from
   * CNI's MAC, not from the placeholder every runm VM boots with (which
   * would collide on a shared bridge). */
  for (size_t i = 0; ret == 0 && i < c->n_addresses; i++)
    if (c->addresses[i]->addr.len == 16) {
      ret = ipv6_on(&eth, err);
      break;
    }
  for (size_t i = 0; ret == 0 && i < c->n_addresses; i++) ret = add_addr(&nl, &eth, c->addresses[i], err);
  /* On-link routes first: a gateway must be reachable when its route is
   * added. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; ret == 0 && i < c->n_routes; i++)
      if ((c->routes[i]->gateway.len == 0) == (pass == 0)) ret = add_route(&nl, &eth, c->routes[i], err);
  close(nl.fd);
  if (ret == 0) net_tap_describe(c, eth.name, status, cap);
  return ret;
}

int svc_configure_network(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__NetworkConfig *c = (const Runm__V1__NetworkConfig *)req;
  Runm__V1__NetworkStatus *out;
  char status[sizeof(ctx->net.status)];
  int ret;

  if (!ctx->net.tap_waiting)
    return runm_make_error(err, EPERM, "the VM did not boot in the namespace mode (runm.net=tap)");
  if (net_tap_check(c, err) < 0) return runm_error_wrap(err, "network configuration");
  pthread_mutex_lock(&ctx->net.lock);
  if (ctx->net.tap_configured) {
    pthread_mutex_unlock(&ctx->net.lock);
    return runm_make_error(err, EEXIST, "the network is configured already");
  }
  ctx->net.tap_configured = true;
  ret = apply(c, status, sizeof(status), err);
  if (ret < 0) {
    cleanup_free char *msg = runm_error_string(*err);
    snprintf(ctx->net.status, sizeof(ctx->net.status), "error: %s", msg ? msg : "unknown");
    ctx->net.failed = true;
  } else {
    snprintf(ctx->net.status, sizeof(ctx->net.status), "%s", status);
  }
  pthread_mutex_unlock(&ctx->net.lock);
  if (ret < 0) return -1;
  runm_log(&ctx->log, RUNM_LOG_INFO, "network: %s", status);
  out = RESP_NEW(Runm__V1__NetworkStatus, RUNM__V1__NETWORK_STATUS__INIT);
  if (out == NULL || (out->status = strdup(status)) == NULL) {
    free(out);
    return runm_make_error(err, ENOMEM, "network status");
  }
  *resp = &out->base;
  return 0;
}

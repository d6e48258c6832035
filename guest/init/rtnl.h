/* A minimal rtnetlink client for init (rtnl.c): init is linked statically
 * and Debian ships libmnl as a shared library only, so these few helpers
 * build and send requests by hand. Requests are small and fixed: the
 * buffer always has room for their attributes. */
#ifndef INIT_RTNL_H
#define INIT_RTNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct nl {
  int fd;
  uint32_t seq;
};

/* A request: header, family message, attributes, all in one aligned buffer. */
struct nl_req {
  struct nlmsghdr h;
  char body[256];
};

/* An interface: index, name and MAC (Ethernet). */
struct link {
  int index;
  char name[IF_NAMESIZE];
  unsigned char mac[6];
};

void *nl_body(struct nl_req *rq);
void nl_begin(struct nl_req *rq, uint16_t type, uint16_t flags, size_t body_len);
void nl_attr(struct nl_req *rq, uint16_t type, const void *data, size_t len);
int nl_open(struct nl *nl, runm_error_t *err);
int nl_send(struct nl *nl, struct nl_req *rq, const char *what, runm_error_t *err);
/* Receives one datagram of replies to the last request. */
ssize_t nl_recv(struct nl *nl, void *buf, size_t len, const char *what, runm_error_t *err);
/* Sends a request with NLM_F_ACK and waits for its acknowledgement. */
int nl_call(struct nl *nl, struct nl_req *rq, const char *what, runm_error_t *err);

/* net.c: the VM's NIC (its first Ethernet interface). */
int init_net_find_nic(struct nl *nl, struct link *eth, runm_error_t *err);

#endif

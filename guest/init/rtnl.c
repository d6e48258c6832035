/* rtnetlink requests for init (rtnl.h). */
#include "rtnl.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void *nl_body(struct nl_req *rq)
{
  return NLMSG_DATA(&rq->h);
}

void nl_begin(struct nl_req *rq, uint16_t type, uint16_t flags, size_t body_len)
{
  memset(rq, 0, sizeof(*rq));
  rq->h.nlmsg_type = type;
  rq->h.nlmsg_flags = NLM_F_REQUEST | flags;
  rq->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body_len);
}

/* Attributes are fixed and small: the buffer always has room for them. */
void nl_attr(struct nl_req *rq, uint16_t type, const void *data, size_t len)
{
  struct rtattr *a = (struct rtattr *)((char *)&rq->h + NLMSG_ALIGN(rq->h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  rq->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(rq->h.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

int nl_open(struct nl *nl, runm_error_t *err)
{
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  nl->seq = 0;
  nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl->fd < 0) return runm_make_error(err, errno, "rtnetlink socket");
  if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(nl->fd);
    nl->fd = -1;
    return runm_make_error(err, e, "bind rtnetlink socket");
  }
  return 0;
}

int nl_send(struct nl *nl, struct nl_req *rq, const char *what, runm_error_t *err)
{
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  rq->h.nlmsg_seq = ++nl->seq;
  if (sendto(nl->fd, &rq->h, rq->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
    return runm_make_error(err, errno, "%s: rtnetlink send", what);
  return 0;
}

/* Receives one datagram of replies to the last request. */
ssize_t nl_recv(struct nl *nl, void *buf, size_t len, const char *what, runm_error_t *err)
{
  ssize_t n;
  do
    n = recv(nl->fd, buf, len, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return runm_make_error(err, errno, "%s: rtnetlink receive", what);
  if (n == 0) return runm_make_error(err, EPROTO, "%s: rtnetlink closed", what);
  return n;
}

/* Sends a request with NLM_F_ACK and waits for its acknowledgement. */
int nl_call(struct nl *nl, struct nl_req *rq, const char *what, runm_error_t *err)
{
  char buf[4096] __attribute__((aligned(NLMSG_ALIGNTO)));

  rq->h.nlmsg_flags |= NLM_F_ACK;
  if (nl_send(nl, rq, what, err) < 0) return -1;
  for (;;) {
    ssize_t n = nl_recv(nl, buf, sizeof(buf), what, err);
    if (n < 0) return -1;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != nl->seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
          return runm_make_error(err, EPROTO, "%s: short rtnetlink error", what);
        if (e->error == 0) return 0;
        return runm_make_error(err, -e->error, "%s", what);
      }
    }
  }
}


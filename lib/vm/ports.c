/* Network options: the mode names and the published-ports parser (syntax in
 * ports.h). The parser is strict on purpose: a spec reaches QEMU's option
 * parser, so anything but digits, dots, one colon or two and a protocol name
 * is refused with the entry named. */
#include "ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *runm_net_mode_name(enum runm_net_mode m)
{
  return m == RUNM_NET_NONE ? "none" : m == RUNM_NET_TAP ? "tap" : "user";
}

int runm_net_mode_parse(const char *s, enum runm_net_mode *out, runm_error_t *err)
{
  if (s == NULL || *s == '\0' || strcmp(s, "user") == 0)
    *out = RUNM_NET_USER;
  else if (strcmp(s, "none") == 0)
    *out = RUNM_NET_NONE;
  else if (strcmp(s, "tap") == 0)
    *out = RUNM_NET_TAP;
  else
    return runm_make_error(err, EINVAL, "network mode `%s` is not user, none or tap", s);
  return 0;
}

const char *runm_port_proto_name(enum runm_port_proto p)
{
  return p == RUNM_PORT_UDP ? "udp" : "tcp";
}

int runm_port_format(const struct runm_port_forward *p, char *buf, size_t len)
{
  return snprintf(buf, len, "%s:%u->%u/%s", p->host_addr, (unsigned)p->host_port,
                  (unsigned)p->guest_port, runm_port_proto_name(p->proto));
}

/* A decimal port 1-65535: digits only, no sign, no leading zero. */
static int parse_port(const char *s, size_t len, const char *what, const char *entry,
                      uint16_t *out, runm_error_t *err)
{
  unsigned long v = 0;

  if (len == 0) return runm_make_error(err, EINVAL, "entry `%s`: %s port is empty", entry, what);
  if (len > 5 || s[0] == '0' || strspn(s, "0123456789") < len)
    return runm_make_error(err, EINVAL, "entry `%s`: %s port `%.*s` is not a number 1-65535",
                           entry, what, (int)(len > 16 ? 16 : len), s);
  for (size_t i = 0; i < len; i++) v = v * 10 + (unsigned long)(s[i] - '0');
  if (v > 65535)
    return runm_make_error(err, EINVAL, "entry `%s`: %s port %lu is not a number 1-65535", entry,
                           what, v);
  *out = (uint16_t)v;
  return 0;
}

static bool overlaps(const struct runm_port_forward *a, const struct runm_port_forward *b)
{
  return a->proto == b->proto && a->host_port == b->host_port &&
         (strcmp(a->host_addr, b->host_addr) == 0 || strcmp(a->host_addr, "0.0.0.0") == 0 ||
          strcmp(b->host_addr, "0.0.0.0") == 0);
}

/* One entry, NUL-terminated in `entry` (at most 63 bytes). */
static int parse_entry(const char *entry, struct runm_port_forward *pf, runm_error_t *err)
{
  const char *slash = strchr(entry, '/'), *end = slash ? slash : entry + strlen(entry);
  const char *c1, *c2 = NULL;
  char addr[16];

  memset(pf, 0, sizeof(*pf));
  if (entry[0] == '[' || memchr(entry, ']', (size_t)(end - entry)))
    return runm_make_error(err, EINVAL, "entry `%s`: IPv6 host addresses are not supported",
                           entry);
  if (slash) {
    if (strcmp(slash + 1, "tcp") == 0)
      pf->proto = RUNM_PORT_TCP;
    else if (strcmp(slash + 1, "udp") == 0)
      pf->proto = RUNM_PORT_UDP;
    else
      return runm_make_error(err, EINVAL, "entry `%s`: protocol `%s` is not tcp or udp", entry,
                             slash + 1);
  }
  c1 = memchr(entry, ':', (size_t)(end - entry));
  if (c1 == NULL)
    return runm_make_error(err, EINVAL,
                           "entry `%s`: expected [HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]", entry);
  c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
  if (c2 && memchr(c2 + 1, ':', (size_t)(end - c2 - 1)))
    return runm_make_error(err, EINVAL,
                           "entry `%s`: too many `:` (IPv6 host addresses are not supported)",
                           entry);
  if (c2) {
    size_t alen = (size_t)(c1 - entry);
    struct in_addr in;
    if (alen == 0 || alen >= sizeof(addr))
      return runm_make_error(err, EINVAL, "entry `%s`: host address `%.*s` is not an IPv4 address",
                             entry, (int)(alen >= sizeof(addr) ? 16 : alen), entry);
    memcpy(addr, entry, alen);
    addr[alen] = '\0';
    /* inet_pton takes exactly four decimal parts: no hex, no octal, no names. */
    if (inet_pton(AF_INET, addr, &in) != 1)
      return runm_make_error(err, EINVAL, "entry `%s`: host address `%s` is not an IPv4 address",
                             entry, addr);
    if (inet_ntop(AF_INET, &in, pf->host_addr, sizeof(pf->host_addr)) == NULL)
      return runm_make_error(err, errno, "entry `%s`: host address `%s`", entry, addr);
    if (parse_port(c1 + 1, (size_t)(c2 - c1 - 1), "host", entry, &pf->host_port, err) < 0 ||
        parse_port(c2 + 1, (size_t)(end - c2 - 1), "guest", entry, &pf->guest_port, err) < 0)
      return -1;
  } else {
    snprintf(pf->host_addr, sizeof(pf->host_addr), "%s", RUNM_PORTS_DEFAULT_ADDR);
    if (parse_port(entry, (size_t)(c1 - entry), "host", entry, &pf->host_port, err) < 0 ||
        parse_port(c1 + 1, (size_t)(end - c1 - 1), "guest", entry, &pf->guest_port, err) < 0)
      return -1;
  }
  return 0;
}

int runm_ports_parse(const char *spec, struct runm_port_forward *out, size_t max, size_t *n,
                     runm_error_t *err)
{
  size_t len, have = *n, idx = 0;
  const char *p;

  if (spec == NULL) return 0;
  len = strnlen(spec, RUNM_PORTS_SPEC_MAX + 1);
  if (len > RUNM_PORTS_SPEC_MAX)
    return runm_make_error(err, E2BIG, "port spec is longer than %d bytes", RUNM_PORTS_SPEC_MAX);
  if (len == 0) return 0;
  p = spec;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t elen = comma ? (size_t)(comma - p) : strlen(p);
    char entry[64];
    struct runm_port_forward pf;

    idx++;
    if (elen == 0)
      return runm_make_error(err, EINVAL, "entry %zu is empty (stray `,`)", idx);
    for (size_t i = 0; i < elen; i++) {
      unsigned char ch = (unsigned char)p[i];
      if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          ch == '.' || ch == ':' || ch == '/' || ch == '[' || ch == ']')
        continue;
      if (ch == ' ')
        return runm_make_error(err, EINVAL, "entry %zu: unexpected space (no spaces around `,` or `:`)",
                               idx);
      if (ch > 0x20 && ch < 0x7f)
        return runm_make_error(err, EINVAL, "entry %zu: unexpected character `%c`", idx, ch);
      return runm_make_error(err, EINVAL, "entry %zu: unexpected byte 0x%02x", idx, ch);
    }
    if (elen >= sizeof(entry))
      return runm_make_error(err, EINVAL, "entry %zu `%.*s...` is too long", idx, 40, p);
    memcpy(entry, p, elen);
    entry[elen] = '\0';
    if (parse_entry(entry, &pf, err) < 0) return -1;
    for (size_t k = 0; k < have; k++)
      if (overlaps(&out[k], &pf)) {
        char a[48];
        runm_port_format(&out[k], a, sizeof(a));
        return runm_make_error(err, EINVAL, "entry `%s`: host port %s:%u/%s is already published (%s)",
                               entry, pf.host_addr, (unsigned)pf.host_port,
                               runm_port_proto_name(pf.proto), a);
      }
    if (have >= max)
      return runm_make_error(err, E2BIG, "entry `%s`: more than %zu published ports", entry, max);
    out[have++] = pf;
    if (comma == NULL) break;
    p = comma + 1;
  }
  *n = have;
  return 0;
}

int runm_ports_check_free(const struct runm_port_forward *p, size_t n, runm_error_t *err)
{
  for (size_t i = 0; i < n; i++) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p[i].host_port)};
    int one = 1, fd, ret, e;
    char what[48];

    runm_port_format(&p[i], what, sizeof(what));
    if (inet_pton(AF_INET, p[i].host_addr, &sa.sin_addr) != 1)
      return runm_make_error(err, EINVAL, "publish %s: bad host address", what);
    fd = socket(AF_INET, (p[i].proto == RUNM_PORT_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) return runm_make_error(err, errno, "publish %s: socket", what);
    if (p[i].proto == RUNM_PORT_TCP) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    close(fd);
    if (ret == 0) continue;
    /* "...: Address already in use" / "...: Cannot assign requested address" */
    return runm_make_error(err, e, "publish %s: host port %s:%u/%s", what, p[i].host_addr,
                           (unsigned)p[i].host_port, runm_port_proto_name(p[i].proto));
  }
  return 0;
}

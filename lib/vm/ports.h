/* Network options of a VM: its mode, and published ports, host ports
 * forwarded to ports in the guest (QEMU user-mode networking `hostfwd`).
 * One syntax for the shim's spec annotation and `runmctl vm start --publish`:
 *
 *   ENTRY[,ENTRY...]    ENTRY = [HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]
 *
 * HOSTADDR is a dotted IPv4 address (default 127.0.0.1: only this host can
 * reach a published port unless the user names another address); ports are
 * decimal 1-65535; the protocol defaults to tcp. Like `docker run -p`, the
 * host side comes first. */
#ifndef RUNM_PORTS_H
#define RUNM_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The guest's network (docs/networking.md): user = QEMU user-mode NAT
 * (slirp) with published ports, the default; none = no NIC, lo only;
 * tap = the NIC on a TAP device the caller opened in a host network
 * namespace (the shim's namespace mode, runm_vm_config.tap_fd). */
enum runm_net_mode { RUNM_NET_USER = 0, RUNM_NET_NONE, RUNM_NET_TAP };
const char *runm_net_mode_name(enum runm_net_mode m);
/* "user", "none" or "tap"; NULL or "" = user. */
int runm_net_mode_parse(const char *s, enum runm_net_mode *out, runm_error_t *err);

/* The OCI annotations the shim reads. */
#define RUNM_NET_ANNOTATION "io.runm.net"
#define RUNM_PORTS_ANNOTATION "io.runm.ports"
#define RUNM_PORTS_MAX 32
/* Longest spec accepted (annotation value or --publish argument). */
#define RUNM_PORTS_SPEC_MAX 4096
#define RUNM_PORTS_DEFAULT_ADDR "127.0.0.1"

enum runm_port_proto { RUNM_PORT_TCP = 0, RUNM_PORT_UDP };

struct runm_port_forward {
  enum runm_port_proto proto;
  char host_addr[16]; /* dotted IPv4, normalised */
  uint16_t host_port;
  uint16_t guest_port;
};

/* Parses spec and appends its entries to out[*n..max). On error *n is
 * unchanged (out[*n..max) may have been written) and the message names the
 * bad entry. An empty
 * spec adds nothing. Entries already in out[0..*n) count for the duplicate
 * check, so several --publish arguments can be parsed into one array. */
int runm_ports_parse(const char *spec, struct runm_port_forward *out, size_t max, size_t *n,
                     runm_error_t *err);

/* Checks that every host address and port is free now, by binding it the
 * way QEMU's slirp will (SO_REUSEADDR for tcp) and closing it again: a
 * clear error before a VM starts. QEMU still reports a port taken later. */
int runm_ports_check_free(const struct runm_port_forward *p, size_t n, runm_error_t *err);

const char *runm_port_proto_name(enum runm_port_proto p);
/* "127.0.0.1:8080->80/tcp"; returns snprintf's result. */
int runm_port_format(const struct runm_port_forward *p, char *buf, size_t len);

#endif

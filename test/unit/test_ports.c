/* Unit tests for lib/vm/ports.c: the published-ports syntax. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ports.h"
#include "tap.h"
#include "vm_backend.h"

static struct runm_port_forward pf[RUNM_PORTS_MAX + 4];

/* Parses spec into a fresh array; returns the count or -1 (message in msg). */
static int parse(const char *spec, char *msg, size_t len)
{
  runm_error_t err = NULL;
  size_t n = 0;
  msg[0] = '\0';
  if (runm_ports_parse(spec, pf, RUNM_PORTS_MAX, &n, &err) < 0) {
    snprintf(msg, len, "%s", err && err->msg ? err->msg : "(no message)");
    runm_error_release(&err);
    return -1;
  }
  return (int)n;
}

static void fmt(size_t i, char *buf, size_t len)
{
  runm_port_format(&pf[i], buf, len);
}

static void test_good(void)
{
  char msg[256], b[64];

  is_int(parse("8080:80", msg, sizeof(msg)), 1, "HOSTPORT:GUESTPORT");
  fmt(0, b, sizeof(b));
  is_str(b, "127.0.0.1:8080->80/tcp", "default address 127.0.0.1 and tcp");
  is_int(parse("127.0.0.1:5353:53/udp", msg, sizeof(msg)), 1, "address and udp");
  fmt(0, b, sizeof(b));
  is_str(b, "127.0.0.1:5353->53/udp", "udp entry");
  is_int(parse("8080:80,127.0.0.1:5353:53/udp", msg, sizeof(msg)), 2, "two entries");
  fmt(1, b, sizeof(b));
  is_str(b, "127.0.0.1:5353->53/udp", "second entry");
  is_int(parse("0.0.0.0:1:65535/tcp", msg, sizeof(msg)), 1, "wildcard address, port limits");
  is_int(pf[0].host_port, 1, "host port 1");
  is_int(pf[0].guest_port, 65535, "guest port 65535");
  is_int(parse("8080:80/tcp,8080:80/udp", msg, sizeof(msg)), 2, "same port, tcp and udp");
  is_int(parse("127.0.0.1:8080:80,127.0.0.2:8080:80", msg, sizeof(msg)), 2,
         "same port on two addresses");
  is_int(parse("8080:80,8081:80", msg, sizeof(msg)), 2, "two host ports to one guest port");
  is_int(parse("", msg, sizeof(msg)), 0, "empty spec: no ports");
  is_int(parse(NULL, msg, sizeof(msg)), 0, "NULL spec: no ports");
}

/* Each bad spec must fail and its message must contain `want`. */
static void bad(const char *spec, const char *want, const char *name)
{
  char msg[256];
  int r = parse(spec, msg, sizeof(msg));
  if (!ok(r == -1 && strstr(msg, want) != NULL, name))
    printf("#   spec '%s': got %d, message '%s', want '%s'\n", spec, r, msg, want);
}

static void test_bad(void)
{
  bad("80", "entry `80`: expected [HOSTADDR:]HOSTPORT:GUESTPORT", "no colon");
  bad(":80", "entry `:80`: host port is empty", "empty host port");
  bad("80:", "entry `80:`: guest port is empty", "empty guest port");
  bad("0:80", "host port `0` is not a number 1-65535", "port 0");
  bad("65536:80", "host port 65536 is not a number 1-65535", "port 65536");
  bad("8080:99999", "guest port 99999 is not a number", "guest port too big");
  bad("123456:80", "host port `123456` is not a number", "six digits");
  bad("08080:80", "host port `08080` is not a number", "leading zero");
  bad("80a:80", "host port `80a` is not a number", "letters in a port");
  bad("8080:80/sctp", "entry `8080:80/sctp`: protocol `sctp` is not tcp or udp", "unknown protocol");
  bad("8080:80/TCP", "protocol `TCP` is not tcp or udp", "protocol is case-sensitive");
  bad("8080:80/", "protocol `` is not tcp or udp", "empty protocol");
  bad("8080:80/tcp/udp", "protocol `tcp/udp`", "two protocols");
  bad("localhost:8080:80", "host address `localhost` is not an IPv4 address", "a name");
  bad("1.2.3:8080:80", "host address `1.2.3` is not an IPv4 address", "three parts");
  bad("256.0.0.1:8080:80", "host address `256.0.0.1`", "octet out of range");
  bad("0x7f.0.0.1:8080:80", "host address `0x7f.0.0.1`", "hex octet");
  bad(":8080:80", "host address `` is not an IPv4 address", "empty address");
  bad("[::1]:8080:80", "IPv6 host addresses are not supported", "IPv6 in brackets");
  bad("::1:8080:80", "too many `:`", "bare IPv6");
  bad("8080:80,", "entry 2 is empty", "trailing comma");
  bad(",8080:80", "entry 1 is empty", "leading comma");
  bad("8080:80,,8081:81", "entry 2 is empty", "double comma");
  bad("8080:80, 8081:81", "entry 2: unexpected space", "space");
  bad("8080:80,\t8081:81", "entry 2: unexpected byte 0x09", "tab");
  bad("8080:80;8081:81", "entry 1: unexpected character `;`", "semicolon");
  bad("8080:80,hostfwd=tcp::1-:2", "entry 2: unexpected character `=`", "QEMU option injection");
  bad("8080:80\n", "unexpected byte 0x0a", "newline");
  bad("8080:80,8080:81", "entry `8080:81`: host port 127.0.0.1:8080/tcp is already published",
      "duplicate host port");
  bad("0.0.0.0:8080:80,127.0.0.1:8080:81", "is already published", "wildcard overlaps");
  bad("127.0.0.1:8080:80,0.0.0.0:8080:81", "is already published", "overlaps wildcard");
  bad("1111111111111111111111111111111111111111111111111111111111111111:1", "is too long",
      "overlong entry");
}

static void test_limits(void)
{
  char spec[RUNM_PORTS_SPEC_MAX + 64], msg[256];
  size_t len = 0;
  runm_error_t err = NULL;
  size_t n;

  for (int i = 0; i < RUNM_PORTS_MAX; i++)
    len += (size_t)snprintf(spec + len, sizeof(spec) - len, "%s%d:80", i ? "," : "", 10000 + i);
  is_int(parse(spec, msg, sizeof(msg)), RUNM_PORTS_MAX, "the maximum number of entries");
  snprintf(spec + len, sizeof(spec) - len, ",20000:80");
  is_int(parse(spec, msg, sizeof(msg)), -1, "one more entry than the maximum");
  ok(strstr(msg, "more than 32 published ports") != NULL, "names the limit");

  memset(spec, '1', RUNM_PORTS_SPEC_MAX + 1);
  spec[RUNM_PORTS_SPEC_MAX + 1] = '\0';
  is_int(parse(spec, msg, sizeof(msg)), -1, "an overlong spec");
  ok(strstr(msg, "longer than 4096 bytes") != NULL, "names the length limit");

  /* Appending: a second spec is checked against the first's entries, and a
   * failure leaves the count alone. */
  n = 0;
  is_int(runm_ports_parse("8080:80", pf, RUNM_PORTS_MAX, &n, &err), 0, "first spec");
  ok(runm_ports_parse("8081:81,8080:82", pf, RUNM_PORTS_MAX, &n, &err) < 0,
     "second spec repeats a host port of the first");
  is_int(n, 1, "count unchanged on error");
  runm_error_release(&err);
  is_int(runm_ports_parse("8081:81/udp", pf, RUNM_PORTS_MAX, &n, &err), 0, "second spec appends");
  is_int(n, 2, "two entries in all");
  is_int(pf[1].proto, RUNM_PORT_UDP, "appended entry is udp");
}

static int argv_find(char **argv, const char *a, const char *sub)
{
  for (size_t i = 0; argv[i]; i++)
    if (strcmp(argv[i], a) == 0 && argv[i + 1] && strstr(argv[i + 1], sub)) return 1;
  return 0;
}

/* The QEMU backend: user networking and hostfwd rules from the ports. */
static void test_qemu_argv(void)
{
  struct runm_vm_config cfg = {.id = "n1", .kernel = "/k/vmlinux", .initrd = "/k/initrd.cpio",
                               .mbin = "/k/mbin.squashfs"};
  struct runm_vm_plan plan = {.accel = RUNM_ACCEL_TCG, .transport = RUNM_TRANSPORT_SERIAL};
  char **argv = NULL, msg[256];
  runm_error_t err = NULL;

  snprintf(plan.console_log, sizeof(plan.console_log), "/s/vm/n1/console.log");
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "default config builds");
  ok(argv_find(argv, "-netdev", "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off"),
     "user networking by default, slirp's addresses spelled out");
  ok(!argv_find(argv, "-netdev", "hostfwd"), "no hostfwd without ports");
  ok(argv_find(argv, "-device", "virtio-net-device,netdev=net0"), "virtio-net on virtio-mmio");
  runm_argv_free(argv);
  argv = NULL;

  is_int(parse("8080:80,0.0.0.0:5353:53/udp", msg, sizeof(msg)), 2, "ports for QEMU");
  cfg.ports = pf;
  cfg.n_ports = 2;
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "config with ports builds");
  ok(argv_find(argv, "-netdev",
               "ipv6=off,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80,hostfwd=udp:0.0.0.0:5353-10.0.2.15:53"),
     "one hostfwd rule per port, to the guest's address");
  runm_argv_free(argv);
  argv = NULL;

  snprintf(pf[0].host_addr, sizeof(pf[0].host_addr), "1.2.3.4,x");
  ok(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err) < 0 && err &&
         strstr(err->msg, "bad published port 0"),
     "a hand-made bad address never reaches QEMU's option syntax");
  runm_error_release(&err);

  cfg.net = RUNM_NET_NONE;
  cfg.n_ports = 0;
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "network none builds");
  ok(!argv_find(argv, "-netdev", "") && !argv_find(argv, "-device", "virtio-net"),
     "network none: no netdev, no NIC");
  runm_argv_free(argv);
  argv = NULL;

  cfg.net = RUNM_NET_TAP;
  cfg.tap_fd = 42;
  is_int(runm_vm_backend_qemu.build_argv(&cfg, &plan, 3, &argv, &err), 0, "network tap builds");
  ok(argv_find(argv, "-netdev", "tap,id=net0,fd=6,vhost=off") && argv_find(argv, "-device", "virtio-net-device,netdev=net0"),
     "network tap: the TAP at QEMU's fd 6 (where the spawn puts it), virtio-net on it");
  ok(!argv_find(argv, "-netdev", "user,") && !argv_find(argv, "-object", "filter-redirector"),
     "network tap: no slirp, no slirp filter");
  runm_argv_free(argv);
}

static void test_mode(void)
{
  enum runm_net_mode m = RUNM_NET_NONE;
  runm_error_t err = NULL;
  is_int(runm_net_mode_parse(NULL, &m, &err), 0, "no mode given");
  is_int(m, RUNM_NET_USER, "defaults to user");
  is_int(runm_net_mode_parse("none", &m, &err), 0, "none");
  is_int(m, RUNM_NET_NONE, "none parsed");
  ok(runm_net_mode_parse("bridge", &m, &err) < 0 && strstr(err->msg, "`bridge` is not user, none or tap"),
     "unknown mode named");
  runm_error_release(&err);
  is_str(runm_net_mode_name(RUNM_NET_USER), "user", "name of user");
  is_int(runm_net_mode_parse("tap", &m, &err), 0, "tap");
  ok(m == RUNM_NET_TAP && strcmp(runm_net_mode_name(m), "tap") == 0, "tap parsed and named");
}

/* A port that is taken is reported before any VM starts; a free one passes. */
static void test_check_free(void)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  char spec[64], msg[256];
  runm_error_t err = NULL;

  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
    ok(0, "listening socket for the port check");
    return;
  }
  snprintf(spec, sizeof(spec), "%u:80", (unsigned)ntohs(sa.sin_port));
  is_int(parse(spec, msg, sizeof(msg)), 1, "spec naming a taken port");
  ok(runm_ports_check_free(pf, 1, &err) < 0 && err && err->status == EADDRINUSE &&
         strstr(err->msg, "publish 127.0.0.1:") && strstr(err->msg, "->80/tcp: host port 127.0.0.1:"),
     "a taken tcp port is reported, naming the entry");
  runm_error_release(&err);
  snprintf(spec, sizeof(spec), "%u:80/udp", (unsigned)ntohs(sa.sin_port));
  is_int(parse(spec, msg, sizeof(msg)), 1, "same number, udp");
  is_int(runm_ports_check_free(pf, 1, &err), 0, "the udp port is free");
  close(fd);
  snprintf(spec, sizeof(spec), "%u:80", (unsigned)ntohs(sa.sin_port));
  parse(spec, msg, sizeof(msg));
  is_int(runm_ports_check_free(pf, 1, &err), 0, "the tcp port is free again once closed");
  is_int(parse("192.0.2.77:8080:80", msg, sizeof(msg)), 1, "an address not on this host");
  ok(runm_ports_check_free(pf, 1, &err) < 0 && err && err->status == EADDRNOTAVAIL,
     "is reported as not available");
  runm_error_release(&err);
}

int main(void)
{
  test_good();
  test_bad();
  test_limits();
  test_mode();
  test_qemu_argv();
  test_check_free();
  return tap_done();
}

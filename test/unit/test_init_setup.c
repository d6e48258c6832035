/* Unit tests for guest/init/setup.c's command-line parts: init's settings
 * (runm.id, transport, ports, debug) and the runm.time clock value. setup.c
 * is compiled in with mount(2) and clock_settime(2) replaced: a test must
 * not mount or set the host's clock. */
#define mount fake_mount
#define clock_settime fake_clock_settime
#include "../../guest/init/setup.c"

#include "tap.h"
#include "tap_err.h"

static struct timespec set_to;
static int set_calls;

int fake_clock_settime(clockid_t clk, const struct timespec *ts)
{
  set_calls++;
  set_to = *ts;
  return clk == CLOCK_REALTIME ? 0 : -1;
}

int fake_mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
  errno = EPERM;
  return -1;
}

static int parse(const char *cmdline, struct init_config *cfg, char *msg, size_t cap)
{
  runm_error_t err = NULL;
  return tap_take_error(init_config_parse(cfg, cmdline, &err), &err, msg, cap);
}

static void refused(const char *cmdline, const char *want, const char *name)
{
  struct init_config cfg;
  char msg[256];
  ok(parse(cmdline, &cfg, msg, sizeof(msg)) < 0, name);
  if (!ok(strstr(msg, want) != NULL, name)) printf("#   got '%s', want '%s' in it\n", msg, want);
}

static void test_config(void)
{
  struct init_config cfg;
  char msg[256];

  is_int(parse("console=ttyS0", &cfg, msg, sizeof(msg)), 0, "no runm keys: defaults");
  ok(strcmp(cfg.transport, "serial") == 0 && strcmp(cfg.port_name, "runm.rpc") == 0 && cfg.vsock_port == 1024 &&
         cfg.vm_id[0] == '\0' && !cfg.debug && cfg.time[0] == '\0',
     "defaults: serial on port runm.rpc, vsock port 1024, no id, no debug");
  is_int(parse("runm.id=vm7 runm.transport=vsock runm.port=p1 runm.vsock_port=4000 "
               "runm.time=1700000000.5 runm.debug=1",
               &cfg, msg, sizeof(msg)),
         0, "every key given");
  ok(strcmp(cfg.vm_id, "vm7") == 0 && strcmp(cfg.transport, "vsock") == 0 && strcmp(cfg.port_name, "p1") == 0 &&
         cfg.vsock_port == 4000 && strcmp(cfg.time, "1700000000.5") == 0 && cfg.debug,
     "every key read");
  parse("runm.debug=0", &cfg, msg, sizeof(msg));
  ok(!cfg.debug, "runm.debug=0 is off");
  refused("runm.transport=tcp", "runm.transport must be `serial` or `vsock`", "unknown transport refused");
  refused("runm.vsock_port=0", "runm.vsock_port `0` is not a port number", "port 0 refused");
  refused("runm.vsock_port=4294967296", "is not a port number", "port past 32 bits refused");
  refused("runm.vsock_port=12ab", "is not a port number", "non-numeric port refused");
  refused("runm.vsock_port=", "is not a port number", "empty port refused");
  char longid[300];
  snprintf(longid, sizeof(longid), "runm.id=%0200d", 7);
  refused(longid, "runm.id is too long", "an over-long id refused, not truncated");
}

static int clock_of(const char *spec, char *msg, size_t cap)
{
  runm_error_t err = NULL;
  return tap_take_error(set_clock(spec, &err), &err, msg, cap);
}

static void test_clock(void)
{
  char msg[256];

  set_calls = 0;
  is_int(clock_of("", msg, sizeof(msg)), 0, "no runm.time: clock left alone");
  is_int(set_calls, 0, "no runm.time: clock_settime not called");
  is_int(clock_of("1700000000.123456789", msg, sizeof(msg)), 0, "SECONDS.NANOS accepted");
  ok(set_to.tv_sec == 1700000000 && set_to.tv_nsec == 123456789, "seconds and nanoseconds set");
  is_int(clock_of("1700000000.5", msg, sizeof(msg)), 0, "short fraction accepted");
  is_int(set_to.tv_nsec, 500000000, "a short fraction is tenths, not nanoseconds");
  is_int(clock_of("1700000000.1234567891234", msg, sizeof(msg)), 0, "long fraction accepted");
  is_int(set_to.tv_nsec, 123456789, "a long fraction is cut to nanoseconds");
  is_int(clock_of("1700000000", msg, sizeof(msg)), 0, "whole seconds accepted");
  is_int(set_to.tv_nsec, 0, "whole seconds: no nanoseconds");
  set_calls = 0;
  ok(clock_of("17x", msg, sizeof(msg)) < 0 && strstr(msg, "runm.time `17x` is not SECONDS[.NANOS]"),
     "junk after the seconds refused, named");
  ok(clock_of("0", msg, sizeof(msg)) < 0, "time 0 refused");
  ok(clock_of("-5", msg, sizeof(msg)) < 0, "negative time refused");
  ok(clock_of("1.2.3", msg, sizeof(msg)) < 0, "two dots refused");
  is_int(set_calls, 0, "a refused value never sets the clock");
}

int main(void)
{
  test_config();
  test_clock();
  return tap_done();
}

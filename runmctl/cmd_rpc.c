/* runmctl ping|info: guest service calls against a VM's RPC socket. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "clock.h"
#include "json.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"
#include "runmctl.h"
#include "vm.h"

static const char ping_usage[] =
    "usage: runmctl ping [options] (ID | --socket PATH)\n"
    "Call Guest.Ping; prints round-trip times. Exit 0 only if every ping answered.\n"
    "  -c, --count N      number of pings (default 1)\n"
    "  --data STR         payload to echo (default \"runm\")\n"
    "  --timeout SEC      per-call deadline (default 5)\n"
    "  --socket PATH      talk to this RPC socket instead of VM ID's\n"
    "  --json             machine-readable output\n";

static const char info_usage[] =
    "usage: runmctl info [options] (ID | --socket PATH)\n"
    "Call Guest.Info: guest kernel, runc version, uptime and boot timeline.\n"
    "  --timeout SEC      deadline (default 10)\n"
    "  --socket PATH      talk to this RPC socket instead of VM ID's\n"
    "  --json             machine-readable output\n";

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int parse_common(int argc, char **argv, const char *usage, const struct option *extra,
                        size_t n_extra, const char **socket, int *timeout_s, bool *json,
                        int (*on_extra)(int c, const char *arg, void *opaque), void *opaque)
{
  struct option opts[16];
  size_t n = 0;
  int c;
  opts[n++] = (struct option){"socket", required_argument, NULL, 'S'};
  opts[n++] = (struct option){"timeout", required_argument, NULL, 'T'};
  opts[n++] = (struct option){"json", no_argument, NULL, 'j'};
  opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
  for (size_t i = 0; i < n_extra && n < 15; i++) opts[n++] = extra[i];
  opts[n] = (struct option){NULL, 0, NULL, 0};
  optind = 1;
  while ((c = getopt_long(argc, argv, "hc:", opts, NULL)) != -1) {
    switch (c) {
    case 'S': *socket = optarg; break;
    case 'j': *json = true; break;
    case 'T': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || v <= 0) {
        fprintf(stderr, "runmctl: bad --timeout `%s`\n", optarg);
        return -RUNMCTL_USAGE;
      }
      *timeout_s = (int)v;
      break;
    }
    case 'h': fputs(usage, stdout); return 1;
    default:
      if (on_extra && on_extra(c, optarg, opaque) == 0) break;
      fputs(usage, stderr);
      return -RUNMCTL_USAGE;
    }
  }
  return 0;
}

struct ping_opts {
  long count;
  const char *data;
};

static int ping_extra(int c, const char *arg, void *opaque)
{
  struct ping_opts *o = opaque;
  char *end;
  if (c == 'c') {
    o->count = strtol(arg, &end, 10);
    if (*end || o->count <= 0) {
      fprintf(stderr, "runmctl ping: bad --count `%s`\n", arg);
      return -1;
    }
    return 0;
  }
  if (c == 'D') {
    o->data = arg;
    return 0;
  }
  return -1;
}

int cmd_ping(struct runmctl *ctl, int argc, char **argv)
{
  static const struct option extra[] = {{"count", required_argument, NULL, 'c'},
                                        {"data", required_argument, NULL, 'D'}};
  struct ping_opts po = {.count = 1, .data = "runm"};
  const char *socket = NULL;
  int timeout_s = 5, r;
  cleanup_error runm_error_t err = NULL;
  struct rpc_target t;
  struct runm_rpc_client *cl;
  cleanup_free int64_t *rtt = NULL;
  long okc = 0;

  r = parse_common(argc, argv, ping_usage, extra, 2, &socket, &timeout_s, &ctl->json, ping_extra,
                   &po);
  if (r) return r > 0 ? RUNMCTL_OK : -r;
  if ((socket == NULL) == (optind >= argc) || argc - optind > 1) {
    fputs(ping_usage, stderr);
    return RUNMCTL_USAGE;
  }
  if (target_resolve(ctl, socket ? NULL : argv[optind], socket, &t, &err) < 0) goto fail;
  cl = target_connect(&t, &err);
  if (cl == NULL) goto fail;
  rtt = calloc((size_t)po.count, sizeof(*rtt));
  if (rtt == NULL) {
    runm_rpc_client_free(cl);
    runm_make_error(&err, ENOMEM, "ping");
    goto fail;
  }
  for (long i = 0; i < po.count; i++) {
    Runm__V1__PingRequest req = RUNM__V1__PING_REQUEST__INIT;
    Runm__V1__PingResponse *resp = NULL;
    size_t dl = strlen(po.data);
    int64_t t0 = runm_clock_ns(CLOCK_MONOTONIC);
    req.data.data = (uint8_t *)po.data;
    req.data.len = dl;
    if (runm_rpc_call(cl, &runm__v1__guest__descriptor, "Ping", &req.base, (ProtobufCMessage **)&resp, timeout_s * 1000LL, &err) < 0)
      break;
    rtt[okc] = runm_clock_ns(CLOCK_MONOTONIC) - t0;
    if (resp->data.len != dl || (dl && memcmp(resp->data.data, po.data, dl) != 0)) {
      protobuf_c_message_free_unpacked(&resp->base, NULL);
      runm_make_error(&err, EPROTO, "Ping echoed different data");
      break;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    okc++;
  }
  runm_rpc_client_free(cl);
  if (okc > 0) {
    int64_t sum = 0;
    qsort(rtt, (size_t)okc, sizeof(*rtt), cmp_i64);
    for (long i = 0; i < okc; i++) sum += rtt[i];
    double p50 = rtt[okc / 2] / 1e3, p99 = rtt[(long)ceil(okc * 0.99) - 1] / 1e3;
    if (ctl->json) {
      struct runm_json j;
      runm_json_init(&j, stdout);
      runm_json_begin_object(&j, NULL);
      runm_json_int(&j, "count", po.count);
      runm_json_int(&j, "ok", okc);
      runm_json_double(&j, "min_us", rtt[0] / 1e3);
      runm_json_double(&j, "avg_us", (double)sum / okc / 1e3);
      runm_json_double(&j, "p50_us", p50);
      runm_json_double(&j, "p99_us", p99);
      runm_json_double(&j, "max_us", rtt[okc - 1] / 1e3);
      runm_json_end_object(&j);
    } else {
      printf("%ld/%ld pings answered: min %.1f us, avg %.1f us, p50 %.1f us, p99 %.1f us, max %.1f "
             "us\n",
             okc, po.count, rtt[0] / 1e3, (double)sum / okc / 1e3, p50, p99,
             rtt[okc - 1] / 1e3);
    }
  }
  if (okc == po.count) return RUNMCTL_OK;
fail : {
  cleanup_free char *msg = runm_error_string(err);
  fprintf(stderr, "runmctl ping: %s\n", msg ? msg : "error");
  return runmctl_exit_code(err);
}
}

int cmd_info(struct runmctl *ctl, int argc, char **argv)
{
  const char *socket = NULL;
  int timeout_s = 10, r;
  cleanup_error runm_error_t err = NULL;
  struct rpc_target t;
  struct runm_rpc_client *cl;
  Runm__V1__InfoRequest req = RUNM__V1__INFO_REQUEST__INIT;
  Runm__V1__InfoResponse *resp = NULL;

  r = parse_common(argc, argv, info_usage, NULL, 0, &socket, &timeout_s, &ctl->json, NULL, NULL);
  if (r) return r > 0 ? RUNMCTL_OK : -r;
  if ((socket == NULL) == (optind >= argc) || argc - optind > 1) {
    fputs(info_usage, stderr);
    return RUNMCTL_USAGE;
  }
  if (target_resolve(ctl, socket ? NULL : argv[optind], socket, &t, &err) < 0) goto fail;
  cl = target_connect(&t, &err);
  if (cl == NULL) goto fail;
  r = runm_rpc_call(cl, &runm__v1__guest__descriptor, "Info", &req.base, (ProtobufCMessage **)&resp, timeout_s * 1000LL, &err);
  runm_rpc_client_free(cl);
  if (r < 0) goto fail;
  {
    const Runm__V1__BootTimeline *tl = resp->timeline;
    double boot_s = t.have_info && t.info.ready_ns > t.info.spawn_ns
                        ? (t.info.ready_ns - t.info.spawn_ns) / 1e9
                        : 0;
    /* Kernel start on the host's clock: the boot Ping (the guest's first
     * RPC) came first_rpc after it and was answered at ready_ns, one
     * transport hop (~ms) later; estimated, the guest's clock starts at 0. */
    double kernel_s = boot_s > 0 && tl && tl->first_rpc_ns > 0 ? boot_s - tl->first_rpc_ns / 1e9 : 0;
    if (ctl->json) {
      struct runm_json j;
      runm_json_init(&j, stdout);
      runm_json_begin_object(&j, NULL);
      runm_json_string(&j, "vm_id", resp->vm_id);
      runm_json_string(&j, "kernel_release", resp->kernel_release);
      runm_json_string(&j, "kernel_version", resp->kernel_version);
      runm_json_string(&j, "runc_version", resp->runc_version);
      runm_json_string(&j, "init_version", resp->init_version);
      runm_json_string(&j, "transport", resp->transport);
      if (t.have_info) runm_json_string(&j, "accel", t.info.accel);
      runm_json_int(&j, "ncpu", resp->ncpu);
      runm_json_int(&j, "mem_total_bytes", (int64_t)resp->mem_total_bytes);
      runm_json_double(&j, "uptime_seconds", resp->uptime_ns / 1e9);
      runm_json_int(&j, "open_fds", resp->open_fds);
      runm_json_int(&j, "threads", resp->threads);
      runm_json_int(&j, "zombies", resp->zombies);
      runm_json_int(&j, "containers", resp->containers);
      runm_json_string(&j, "network", resp->network);
      runm_json_double(&j, "network_setup_seconds", resp->network_setup_ns / 1e9);
      runm_json_begin_object(&j, "timeline_seconds");
      runm_json_double(&j, "mounter_start", tl ? tl->mounter_start_ns / 1e9 : 0);
      runm_json_double(&j, "init_start", tl ? tl->init_start_ns / 1e9 : 0);
      runm_json_double(&j, "serving", tl ? tl->serving_ns / 1e9 : 0);
      runm_json_double(&j, "first_rpc", tl ? tl->first_rpc_ns / 1e9 : 0);
      runm_json_double(&j, "runc_sealed", tl ? tl->runc_sealed_ns / 1e9 : 0);
      runm_json_end_object(&j);
      if (t.have_info) runm_json_double(&j, "host_spawn_to_first_ping_seconds", boot_s);
      if (kernel_s > 0) runm_json_double(&j, "host_spawn_to_kernel_start_seconds", kernel_s);
      runm_json_end_object(&j);
    } else {
      printf("vm:          %s\n", resp->vm_id);
      printf("kernel:      %s %s\n", resp->kernel_release, resp->kernel_version);
      printf("runc:        %s\n", resp->runc_version);
      printf("init:        runm-linux-init %s\n", resp->init_version);
      printf("transport:   %s%s%s\n", resp->transport, t.have_info ? ", accel " : "",
             t.have_info ? t.info.accel : "");
      printf("cpus/memory: %u / %llu MiB\n", resp->ncpu,
             (unsigned long long)(resp->mem_total_bytes >> 20));
      printf("uptime:      %.3f s\n", resp->uptime_ns / 1e9);
      printf("init:        %u fds, %u threads; %u zombies; %u containers\n", resp->open_fds,
             resp->threads, resp->zombies, resp->containers);
      printf("network:     %s (%.1f ms)\n", resp->network[0] ? resp->network : "-",
             resp->network_setup_ns / 1e6);
      printf("boot timeline (guest clock, s since kernel start):\n");
      printf("  mounter start  %.3f\n", tl ? tl->mounter_start_ns / 1e9 : 0);
      printf("  init start     %.3f\n", tl ? tl->init_start_ns / 1e9 : 0);
      printf("  serving        %.3f\n", tl ? tl->serving_ns / 1e9 : 0);
      printf("  first RPC      %.3f\n", tl ? tl->first_rpc_ns / 1e9 : 0);
      printf("  runc sealed    %.3f%s\n", tl ? tl->runc_sealed_ns / 1e9 : 0,
             tl && tl->runc_sealed_ns ? "" : " (not yet)");
      if (t.have_info) printf("host: QEMU spawn to first Ping %.3f s\n", boot_s);
      if (kernel_s > 0) printf("host: QEMU spawn to kernel start ~%.3f s (estimated)\n", kernel_s);
    }
  }
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return RUNMCTL_OK;
fail : {
  cleanup_free char *msg = runm_error_string(err);
  fprintf(stderr, "runmctl info: %s\n", msg ? msg : "error");
  return runmctl_exit_code(err);
}
}

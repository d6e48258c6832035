/* libFuzzer target over every runm.v1 message the host decodes from the
 * guest (issue 11): each runm.v1.Guest method's response, the Events and
 * Stdio stream messages, and the RunHookRequest of host.sock. The first
 * byte picks the type, the rest is the message, decoded exactly as the rpc
 * layer does (runm_rpc_decode, with its allocation budget). Besides not
 * crashing or leaking: what decodes encodes again and decodes to the same
 * bytes, a repeated field never holds more than the block budget, and the
 * escaping applied to guest text (runm_escape) yields one bounded line.
 * And what the shim makes of it, through the shim's own code
 * (host-shim/guest_reply.c): Pids, Stats and State replies as the Task
 * API's, the network status as a log shows it, and the same bytes as a
 * failed call's details (worded by the rpc layer's runm_rpc_status_error)
 * reworded for containerd by guest_reply_error: one bounded line.
 *
 * With FUZZ_WRITE_SEEDS=DIR in the environment it writes a seed corpus of
 * real replies into DIR and exits. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_reply.h"
#include "log.h"
#include "pb.h"
#include "rpc.h"
#include "rpc_codec.h"
#include "runm/v1/guest.pb-c.h"
#include "runm/v1/host.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Index i < n_methods: method i's output; then the extras. */
static const ProtobufCMessageDescriptor *desc_at(size_t i)
{
  static const ProtobufCMessageDescriptor *const extra[] = {
      &runm__v1__event__descriptor,
      &runm__v1__stdio_out__descriptor,
      &runm__v1__run_hook_request__descriptor,
  };
  size_t nm = runm__v1__guest__descriptor.n_methods;
  size_t n = nm + sizeof(extra) / sizeof(extra[0]);
  i %= n;
  return i < nm ? runm__v1__guest__descriptor.methods[i].output : extra[i - nm];
}

/* Checks the repeated counts; true when m or a submessage kept unknown
 * fields (protobuf-c keeps them raw, even with a field number of 0 that it
 * will not take back once re-encoded: no round trip for those). */
static bool check_repeated(const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  bool unknown = m->n_unknown_fields > 0;
  for (unsigned f = 0; f < d->n_fields; f++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[f];
    /* A oneof member is there only when the case says so. */
    if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)((const char *)m + fd->quantifier_offset) != fd->id)
      continue;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
      if (n > RUNM_RPC_MAX_DECODED_BLOCKS * 8) __builtin_trap();
      if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)((const char *)m + fd->offset);
        for (size_t i = 0; i < n; i++) unknown |= check_repeated(sub[i]);
      }
    } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)((const char *)m + fd->offset);
      if (sub) unknown |= check_repeated(sub);
    }
  }
  return unknown;
}

static void check_escape(const uint8_t *data, size_t size)
{
  char out[RUNM_RPC_MAX_DETAILS + 1];
  size_t n = runm_escape(out, sizeof(out), (const char *)data, size);
  if (n != strlen(out) || n > RUNM_RPC_MAX_DETAILS) __builtin_trap();
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) __builtin_trap();
}

/* Bytes at most in one line of guest text the shim passes on. */
static void check_line(const char *s, size_t max)
{
  size_t n = strlen(s);
  if (n > max) __builtin_trap();
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) __builtin_trap();
}

/* data as the guest's details of a failed call to the method type picks,
 * through the rpc layer's wording and the shim's rewording. */
static void check_guest_error(uint8_t type, const uint8_t *data, size_t size)
{
  static const struct runm_logger quiet = {.component = "fuzz", .max_level = RUNM_LOG_ERROR};
  const ProtobufCMethodDescriptor *md =
      &runm__v1__guest__descriptor.methods[type % runm__v1__guest__descriptor.n_methods];
  Runm__V1__StartRequest start = RUNM__V1__START_REQUEST__INIT;
  char full[96];
  runm_error_t err = NULL;
  int code = size ? 1 + data[0] % 16 : 2;

  /* Start is the one method whose request the wording reads. */
  start.exec_id = (type & 0x80) ? "exec-1" : "";
  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", md->name);
  if (runm_rpc_status_error(&err, full, code, (const char *)data, size) >= 0 || err == NULL)
    __builtin_trap();
  if (runm_rpc_error_details(err, full) == NULL) __builtin_trap();
  if (guest_reply_error(&quiet, md->name, &start.base, &err) >= 0 || err == NULL || err->msg == NULL)
    __builtin_trap();
  /* runc-v2's words, ": ", then at most the escaped details. */
  check_line(err->msg, RUNM_RPC_MAX_DETAILS + 64);
  runm_error_release(&err);
}

/* The shim's conversion of a decoded reply, where it makes one. */
static void check_conversion(const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  ProtobufCMessage *out = NULL;

  if (d == &runm__v1__pids_response__descriptor) {
    const Runm__V1__PidsResponse *g = (const void *)m;
    Containerd__Task__V2__PidsResponse *p = guest_reply_pids(g);
    if (p->n_processes != g->n_processes) __builtin_trap();
    for (size_t i = 0; i < g->n_processes; i++)
      if (p->processes[i]->pid != g->processes[i]->pid) __builtin_trap();
    out = &p->base;
  } else if (d == &runm__v1__stats_response__descriptor) {
    const Runm__V1__StatsResponse *g = (const void *)m;
    Containerd__Task__V2__StatsResponse *st = guest_reply_stats(g);
    if (st->stats == NULL || st->stats->value.len == 0) __builtin_trap();
    out = &st->base;
  } else if (d == &runm__v1__state_response__descriptor) {
    const Runm__V1__StateResponse *g = (const void *)m;
    Containerd__V1__Types__Status st = guest_reply_status(g->status);
    if (st != CONTAINERD__V1__TYPES__STATUS__UNKNOWN && strlen(g->status) > 7) __builtin_trap();
  } else if (d == &runm__v1__network_status__descriptor) {
    char shown[200];
    guest_reply_shown(shown, sizeof(shown), ((const Runm__V1__NetworkStatus *)m)->status);
    check_line(shown, sizeof(shown) - 1);
  }
  if (out) {
    /* What goes to containerd encodes. */
    size_t n = protobuf_c_message_get_packed_size(out);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) abort();
    if (protobuf_c_message_pack(out, buf) != n) __builtin_trap();
    free(buf);
    runm_pb_free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const ProtobufCMessageDescriptor *d;
  ProtobufCMessage *m = NULL, *again = NULL;
  runm_error_t err = NULL;

  if (size < 1) return 0;
  check_escape(data + 1, size - 1);
  check_guest_error(data[0], data + 1, size - 1);
  d = desc_at(data[0]);
  if (runm_rpc_decode(d, data + 1, size - 1, &m, &err) < 0) {
    if (err == NULL || err->msg == NULL || m != NULL) __builtin_trap();
    runm_error_release(&err);
    return 0;
  }
  check_conversion(m);
  if (!check_repeated(m)) {
    size_t n = protobuf_c_message_get_packed_size(m), n2;
    uint8_t *buf = malloc(n ? n : 1), *buf2;
    if (buf == NULL) abort();
    if (protobuf_c_message_pack(m, buf) != n) __builtin_trap();
    /* Re-encoding may drop what decoding normalised, but only once. */
    if (n <= RUNM_RPC_MAX_MESSAGE) {
      if (runm_rpc_decode(d, buf, n, &again, &err) < 0) __builtin_trap();
      n2 = protobuf_c_message_get_packed_size(again);
      buf2 = malloc(n2 ? n2 : 1);
      if (buf2 == NULL) abort();
      protobuf_c_message_pack(again, buf2);
      if (n2 != n || memcmp(buf, buf2, n) != 0) __builtin_trap();
      free(buf2);
      protobuf_c_message_free_unpacked(again, NULL);
    }
    free(buf);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  return 0;
}

/* ---- seeds ---- */

static int seed_no;

static void write_seed(const char *dir, uint8_t type, const ProtobufCMessage *m)
{
  char path[4096];
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n + 1);
  FILE *f;

  if (buf == NULL) abort();
  buf[0] = type;
  protobuf_c_message_pack(m, buf + 1);
  snprintf(path, sizeof(path), "%s/seed-%03d", dir, seed_no++);
  f = fopen(path, "we");
  if (f == NULL || fwrite(buf, 1, n + 1, f) != n + 1 || fclose(f) != 0) {
    fprintf(stderr, "fuzz seeds: write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  free(buf);
}

static uint8_t type_of(const ProtobufCMessageDescriptor *d)
{
  for (unsigned i = 0; i < 256; i++)
    if (desc_at(i) == d) return (uint8_t)i;
  abort();
}

static void write_seeds(const char *dir)
{
  Runm__V1__ProcessInfo p1 = RUNM__V1__PROCESS_INFO__INIT, p2 = RUNM__V1__PROCESS_INFO__INIT;
  Runm__V1__ProcessInfo *ps[] = {&p1, &p2};
  Runm__V1__PidsResponse pids = RUNM__V1__PIDS_RESPONSE__INIT;
  Runm__V1__StateResponse st = RUNM__V1__STATE_RESPONSE__INIT;
  Runm__V1__StatsResponse stats = RUNM__V1__STATS_RESPONSE__INIT;
  Runm__V1__WaitResponse w = RUNM__V1__WAIT_RESPONSE__INIT;
  Runm__V1__CreateResponse cr = RUNM__V1__CREATE_RESPONSE__INIT;
  Runm__V1__DeleteResponse dr = RUNM__V1__DELETE_RESPONSE__INIT;
  Runm__V1__InfoResponse info = RUNM__V1__INFO_RESPONSE__INIT;
  Runm__V1__Event ev = RUNM__V1__EVENT__INIT;
  Runm__V1__ExitEvent ex = RUNM__V1__EXIT_EVENT__INIT;
  Runm__V1__StdioOut out = RUNM__V1__STDIO_OUT__INIT;
  Runm__V1__RunHookRequest rh = RUNM__V1__RUN_HOOK_REQUEST__INIT;
  char *args[] = {"hook.sh", "prestart"};

  p1.pid = 1;
  p2.pid = 42;
  p2.exec_id = "exec-1";
  pids.n_processes = 2;
  pids.processes = ps;
  write_seed(dir, type_of(&runm__v1__pids_response__descriptor), &pids.base);
  st.pid = 7;
  st.status = "running";
  write_seed(dir, type_of(&runm__v1__state_response__descriptor), &st.base);
  write_seed(dir, type_of(&runm__v1__stats_response__descriptor), &stats.base);
  w.exit_status = 137;
  write_seed(dir, type_of(&runm__v1__wait_response__descriptor), &w.base);
  cr.pid = 3;
  write_seed(dir, type_of(&runm__v1__create_response__descriptor), &cr.base);
  write_seed(dir, type_of(&runm__v1__delete_response__descriptor), &dr.base);
  info.runc_version = "runc version 1.1.5";
  write_seed(dir, type_of(&runm__v1__info_response__descriptor), &info.base);
  {
    Runm__V1__NetworkStatus ns = RUNM__V1__NETWORK_STATUS__INIT;
    ns.status = "tap: eth0 02:00:00:77:00:02 mtu 1500, 10.77.0.2/24 via 10.77.0.1";
    write_seed(dir, type_of(&runm__v1__network_status__descriptor), &ns.base);
  }
  ev.seq = 9;
  ev.kind_case = RUNM__V1__EVENT__KIND_EXIT;
  ex.id = "c1";
  ex.pid = 3;
  ev.exit = &ex;
  write_seed(dir, type_of(&runm__v1__event__descriptor), &ev.base);
  out.stdout.data = (uint8_t *)"hello\n";
  out.stdout.len = 6;
  out.exited = true;
  write_seed(dir, type_of(&runm__v1__stdio_out__descriptor), &out.base);
  rh.kind = "prestart";
  rh.path = "/bin/hook.sh";
  rh.n_args = 2;
  rh.args = args;
  rh.state.data = (uint8_t *)"{\"id\":\"c1\",\"status\":\"creating\"}";
  rh.state.len = strlen((const char *)rh.state.data);
  write_seed(dir, type_of(&runm__v1__run_hook_request__descriptor), &rh.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  const char *dir = getenv("FUZZ_WRITE_SEEDS");
  if (dir && *dir) {
    write_seeds(dir);
    exit(0);
  }
  return 0;
}

/* The shim's conversions of guest replies (guest_reply.h). */
#include "guest_reply.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "containerd/cgroups/v2/metrics.pb-c.h"
#include "pb.h"
#include "rpc.h"
#include "xalloc.h"

/* runc-v2's words for a failed runtime call (containerd's pkg/process). */
static const char *oci_failure(const char *method, const ProtobufCMessage *req)
{
  static const char *const words[][2] = {
      {"Create", "OCI runtime create failed"}, {"Pause", "OCI runtime pause failed"},
      {"Resume", "OCI runtime resume failed"}, {"Update", "OCI runtime update failed"},
      {"Delete", "failed to delete task"},
  };
  if (strcmp(method, "Start") == 0) {
    const char *e = ((const Runm__V1__StartRequest *)req)->exec_id;
    return e && e[0] ? "OCI runtime exec failed" : "OCI runtime start failed";
  }
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
    if (strcmp(method, words[i][0]) == 0) return words[i][1];
  return NULL;
}

/* A guest call's error as containerd gets it, shaped like runc-v2's: the
 * guest's text (escaped by the rpc layer) after runc-v2's words, the RPC
 * path only in the debug log. runc's failures (the guest's INVALID_ARGUMENT
 * or INTERNAL) go out as Unknown, as runc-v2's do, except a missing file
 * (NotFound); the guest's other codes (NotFound for a process gone, ...)
 * stay. */
int guest_reply_error(const struct runm_logger *log, const char *method, const ProtobufCMessage *req,
                      runm_error_t *err)
{
  char full[96];
  const char *det, *words = oci_failure(method, req);
  static const char enoent[] = "no such file or directory";
  size_t dl;
  int status;
  bool runtime = false; /* runc failed: runc-v2 puts its words first */

  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", method);
  det = runm_rpc_error_details(*err, full);
  if (det == NULL) return -1; /* not the guest's answer: keep it as it is */
  runm_log(log, RUNM_LOG_DEBUG, "%s", (*err)->msg);
  dl = strlen(det);
  status = (*err)->status;
  /* The guest rendered its errno after its text (": Invalid argument"):
   * the code says it, runc-v2 does not write it. */
  if (status > 0) {
    const char *e = strerror(status);
    size_t el = strlen(e);
    if (dl >= el + 2 && strcmp(det + dl - el, e) == 0 && strncmp(det + dl - el - 2, ": ", 2) == 0)
      dl -= el + 2;
  }
  if (status == EINVAL || status == EIO) {
    runtime = true;
    status = 0;
  }
  if (dl >= strlen(enoent) && strncasecmp(det + dl - strlen(enoent), enoent, strlen(enoent)) == 0)
    status = ENOENT;
  {
    cleanup_free char *text = strndup(det, dl);
    if (text == NULL) return -1;
    if (words && runtime) return runm_make_error(err, status, "%s: %s", words, text);
    return runm_make_error(err, status, "%s", text);
  }
}


/* Guest pids, as `ctr task ps` lists them: informational only, never a
 * host process (runc-v2 gives container pids here; Kata its VMM's). */
Containerd__Task__V2__PidsResponse *guest_reply_pids(const Runm__V1__PidsResponse *g)
{
  Containerd__Task__V2__PidsResponse *out =
      (void *)runm_pb_new(&containerd__task__v2__pids_response__descriptor);
  out->processes = runm_xcalloc(g->n_processes + 1, sizeof(*out->processes));
  for (size_t i = 0; i < g->n_processes; i++) {
    Containerd__V1__Types__ProcessInfo *pi = (void *)runm_pb_new(&containerd__v1__types__process_info__descriptor);
    pi->pid = g->processes[i]->pid;
    out->processes[out->n_processes++] = pi;
  }
  return out;
}

static void *pack_any(const ProtobufCMessage *m, const char *url, Google__Protobuf__Any **out)
{
  Google__Protobuf__Any *a = (void *)runm_pb_new(&google__protobuf__any__descriptor);
  a->type_url = runm_xstrdup(url);
  a->value.len = protobuf_c_message_get_packed_size(m);
  a->value.data = runm_xmalloc(a->value.len);
  protobuf_c_message_pack(m, a->value.data);
  *out = a;
  return a;
}

Containerd__Task__V2__StatsResponse *guest_reply_stats(const Runm__V1__StatsResponse *g)
{
  Containerd__Task__V2__StatsResponse *out;
  Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
  Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
  Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
  Io__Containerd__Cgroups__V2__MemoryEvents mev = IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
  Io__Containerd__Cgroups__V2__IOStat io = IO__CONTAINERD__CGROUPS__V2__IOSTAT__INIT;
  Io__Containerd__Cgroups__V2__IOEntry ioe = IO__CONTAINERD__CGROUPS__V2__IOENTRY__INIT;
  Io__Containerd__Cgroups__V2__IOEntry *ioes[1] = {&ioe};

  pids.current = g->pids_current;
  pids.limit = g->pids_max;
  cpu.usage_usec = g->cpu_usage_usec;
  cpu.user_usec = g->cpu_user_usec;
  cpu.system_usec = g->cpu_system_usec;
  cpu.nr_periods = g->cpu_nr_periods;
  cpu.nr_throttled = g->cpu_nr_throttled;
  cpu.throttled_usec = g->cpu_throttled_usec;
  mem.anon = g->memory_anon;
  mem.file = g->memory_file;
  mem.usage = g->memory_current;
  mem.usage_limit = g->memory_max;
  mem.swap_usage = g->memory_swap_current;
  mev.max = g->memory_events_max;
  mev.oom = g->memory_events_oom;
  mev.oom_kill = g->memory_events_oom_kill;
  ioe.rbytes = g->io_rbytes;
  ioe.wbytes = g->io_wbytes;
  ioe.rios = g->io_rios;
  ioe.wios = g->io_wios;
  io.n_usage = 1;
  io.usage = ioes;
  m.pids = &pids;
  m.cpu = &cpu;
  m.memory = &mem;
  m.memory_events = &mev;
  m.io = &io;
  out = (void *)runm_pb_new(&containerd__task__v2__stats_response__descriptor);
  pack_any(&m.base, "io.containerd.cgroups.v2.Metrics", &out->stats);
  return out;
}

Containerd__V1__Types__Status guest_reply_status(const char *g)
{
  if (strcmp(g, "created") == 0) return CONTAINERD__V1__TYPES__STATUS__CREATED;
  if (strcmp(g, "running") == 0) return CONTAINERD__V1__TYPES__STATUS__RUNNING;
  if (strcmp(g, "paused") == 0) return CONTAINERD__V1__TYPES__STATUS__PAUSED;
  if (strcmp(g, "pausing") == 0) return CONTAINERD__V1__TYPES__STATUS__PAUSING;
  if (strcmp(g, "stopped") == 0) return CONTAINERD__V1__TYPES__STATUS__STOPPED;
  return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
}

void guest_reply_shown(char *out, size_t size, const char *g)
{
  size_t i = 0;
  if (size == 0) return;
  for (; g && g[i] && i + 1 < size; i++) out[i] = (g[i] < 0x20 || g[i] == 0x7f) ? '?' : g[i];
  out[i] = '\0';
}

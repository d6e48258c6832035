/* The guest's event log: exits and OOM kills with increasing sequence
 * numbers, kept in a bounded ring, and the Events stream that replays and
 * then follows it. */
#ifndef RUNM_EVENTS_H
#define RUNM_EVENTS_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "rpc.h"

/* Events kept for replay. A subscriber that asks for (or falls behind to)
 * an event older than this gets OUT_OF_RANGE, never a silent gap. */
#define EVENTS_KEPT 4096

struct events;

struct events *events_new(runm_error_t *err);
void events_emit_exit(struct events *ev, const char *id, const char *exec_id, pid_t pid,
                      uint32_t exit_status, int64_t exited_at_ns);
void events_emit_oom(struct events *ev, const char *id);
/* Serves one Events call: sends every kept event with seq > since, then each
 * new one as it comes, until the client goes away. */
int events_serve(struct events *ev, struct runm_rpc_call *call, uint64_t since, runm_error_t *err);

#endif

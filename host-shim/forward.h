/* The one path from a Task call to the guest (forward.c): a runm.v1.Guest
 * call typed by the generated service descriptor, bounded by containerd's
 * ttrpc deadline for the request and by the caller's own limit, its error
 * worded the way runc-v2 words it. And the Task methods that are nothing
 * but that call (Pids, Pause, Resume, ResizePty, CloseIO, Update, Stats,
 * Checkpoint, Connect). */
#ifndef SHIM_FORWARD_H
#define SHIM_FORWARD_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "error.h"
#include "shim.h"

/* A guest call waits until containerd's deadline for the request when it
 * has one, at most this long, and this long when it has none. */
#define GUEST_TIMEOUT_MS 120000

/* runm.v1.Guest/<method> with the shim lock NOT held (calls can take a
 * second). max_ms >= 0 bounds it further (the host's own limits on
 * control calls, lifecycle.h); < 0: containerd's deadline and
 * GUEST_TIMEOUT_MS alone. req is of
 * the method's input type, *resp of its output type. A guest error comes
 * back as containerd should see it (see guest_reply.c). */
int guest_call(struct shim *s, const char *method, const ProtobufCMessage *req, ProtobufCMessage **resp,
               int64_t max_ms, runm_error_t *err);

int t_pids(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_pause(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_resume(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_checkpoint(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_resize(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_closeio(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_update(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_stats(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);
int t_connect(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);

#endif

/* What the shim makes of the guest's replies for containerd: a failed
 * call's error in runc-v2's words, the Pids, Stats and State replies as the
 * Task API's, and the guest's network status as a log can show it. Pure
 * (no shim state, no I/O but the debug log line), so fuzz_guest_replies
 * drives exactly these on hostile input. */
#ifndef SHIM_GUEST_REPLY_H
#define SHIM_GUEST_REPLY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "error.h"
#include "log.h"
#include "runm/v1/guest.pb-c.h"

/* When *err is the guest's answer to /runm.v1.Guest/<method> (the rpc
 * layer's wording), logs it at debug and replaces it with the error
 * containerd should see, shaped like runc-v2's; any other error stays as it
 * is. req is the call's request (of the method's input type). Returns -1. */
int guest_reply_error(const struct runm_logger *log, const char *method, const ProtobufCMessage *req,
                      runm_error_t *err);

/* The Task API's replies built from the guest's (new messages: free with
 * runm_pb_free). */
Containerd__Task__V2__PidsResponse *guest_reply_pids(const Runm__V1__PidsResponse *g);
Containerd__Task__V2__StatsResponse *guest_reply_stats(const Runm__V1__StatsResponse *g);
/* The guest's runc status word as containerd's; UNKNOWN for any other. */
Containerd__V1__Types__Status guest_reply_status(const char *g);

/* The guest's free text (NetworkStatus) for a log line: at most size - 1
 * bytes, control bytes as '?'. g may be NULL. */
void guest_reply_shown(char *out, size_t size, const char *g);

#endif

/* Task events to containerd, in the order they happened: one queue, one
 * sender thread. Sent with ttrpc Events.Forward to $TTRPC_ADDRESS, or, when
 * that is not available, through containerd's publish binary. */
#ifndef SHIM_PUBLISH_H
#define SHIM_PUBLISH_H

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "log.h"

struct publisher;

struct publisher *publisher_new(const char *ns, const char *ttrpc_address,
                                const char *publish_binary, const char *containerd_address,
                                const struct runm_logger *log, runm_error_t *err);
/* Queues the event; its Any type URL is the message's full proto name
 * (containerd.events.TaskExit), as containerd's typeurl registry has it. */
void publisher_publish(struct publisher *p, const char *topic, const ProtobufCMessage *event);
/* Sends what is queued, then stops. */
void publisher_free(struct publisher *p);

#endif

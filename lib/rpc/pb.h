/* protobuf-c helpers every binary shares: a cleanup attribute for unpacked
 * messages, allocation of reply messages under the one out-of-memory policy
 * (xalloc.h), time as google.protobuf.Timestamp, and method names taken from
 * the generated service descriptors instead of typed by hand. */
#ifndef RUNM_PB_H
#define RUNM_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"

/* Frees a message that protobuf-c unpacked (or that was built with
 * runm_pb_new and filled with heap fields only). NULL is fine. */
static inline void runm_pb_freep(void *p)
{
  ProtobufCMessage **m = (ProtobufCMessage **)p;
  if (*m) protobuf_c_message_free_unpacked(*m, NULL);
}
#define cleanup_pb __attribute__((cleanup(runm_pb_freep)))
void runm_pb_free(ProtobufCMessage *m);

/* A zeroed, initialised message of the descriptor's type (never NULL). */
ProtobufCMessage *runm_pb_new(const ProtobufCMessageDescriptor *d);
#define runm_pb_new_as(type, desc) ((type *)runm_pb_new(&(desc)))

/* CLOCK_REALTIME in nanoseconds since the epoch. */
int64_t runm_realtime_ns(void);
/* A heap Timestamp for ns (never NULL), or fills one in place. */
Google__Protobuf__Timestamp *runm_pb_timestamp_new(int64_t ns);
void runm_pb_timestamp_set(Google__Protobuf__Timestamp *t, int64_t ns);
int64_t runm_pb_timestamp_ns(const Google__Protobuf__Timestamp *t);

/* "/package.Service/Method" for method index i of a generated service
 * descriptor, in buf; NULL if i is out of range or buf too small. */
const char *runm_pb_method_path(const ProtobufCServiceDescriptor *svc, unsigned i, char *buf,
                                size_t len);
/* The index of a method by name in a service descriptor, or -1. */
int runm_pb_method_index(const ProtobufCServiceDescriptor *svc, const char *name);

#endif

/* protobuf-c helpers (pb.h). */
#include "pb.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "xalloc.h"

void runm_pb_free(ProtobufCMessage *m)
{
  if (m) protobuf_c_message_free_unpacked(m, NULL);
}

ProtobufCMessage *runm_pb_new(const ProtobufCMessageDescriptor *d)
{
  ProtobufCMessage *m = runm_xcalloc(1, d->sizeof_message);
  protobuf_c_message_init(d, m);
  return m;
}

int64_t runm_realtime_ns(void)
{
  return runm_clock_ns(CLOCK_REALTIME);
}

void runm_pb_timestamp_set(Google__Protobuf__Timestamp *t, int64_t ns)
{
  google__protobuf__timestamp__init(t);
  t->seconds = ns / 1000000000LL;
  t->nanos = (int32_t)(ns % 1000000000LL);
}

Google__Protobuf__Timestamp *runm_pb_timestamp_new(int64_t ns)
{
  Google__Protobuf__Timestamp *t = runm_xmalloc(sizeof(*t));
  runm_pb_timestamp_set(t, ns);
  return t;
}

int64_t runm_pb_timestamp_ns(const Google__Protobuf__Timestamp *t)
{
  if (t == NULL) return 0;
  return t->seconds * 1000000000LL + t->nanos;
}

const char *runm_pb_method_path(const ProtobufCServiceDescriptor *svc, unsigned i, char *buf,
                                size_t len)
{
  int n;
  if (i >= svc->n_methods) return NULL;
  n = snprintf(buf, len, "/%s/%s", svc->name, svc->methods[i].name);
  return n > 0 && (size_t)n < len ? buf : NULL;
}

int runm_pb_method_index(const ProtobufCServiceDescriptor *svc, const char *name)
{
  for (unsigned i = 0; i < svc->n_methods; i++)
    if (strcmp(svc->methods[i].name, name) == 0) return (int)i;
  return -1;
}

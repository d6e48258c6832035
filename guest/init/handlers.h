/* The runm.v1.Guest handlers, one file per group: task.c (lifecycle),
 * control.c (signals, state, resources, waiting), service.c (table, Ping,
 * Info, Events, Stdio). */
#ifndef RUNM_HANDLERS_H
#define RUNM_HANDLERS_H

#include "rpc.h"

#define HANDLER(name)                                                                              \
  int name(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,                  \
           ProtobufCMessage **resp, runm_error_t *err)

HANDLER(svc_create);
HANDLER(svc_start);
HANDLER(svc_exec);
HANDLER(svc_delete);

HANDLER(svc_kill);
HANDLER(svc_state);
HANDLER(svc_pids);
HANDLER(svc_pause);
HANDLER(svc_resume);
HANDLER(svc_update);
HANDLER(svc_stats);
HANDLER(svc_wait);
HANDLER(svc_resize_pty);
HANDLER(svc_close_stdin);

/* prepare.c */
HANDLER(svc_prepare);

/* net_tap.c */
HANDLER(svc_configure_network);

#undef HANDLER

/* A heap response of protobuf-c type T set to its INIT value, or NULL. */
#define RESP_NEW(T, INIT)                                                                          \
  ({                                                                                               \
    T *r_ = malloc(sizeof(T));                                                                     \
    if (r_) {                                                                                      \
      T init_ = INIT;                                                                              \
      *r_ = init_;                                                                                 \
    }                                                                                              \
    r_;                                                                                            \
  })

/* The Empty response most methods give. */
int handler_empty(ProtobufCMessage **resp, runm_error_t *err);
/* Paths under a container's state directory (CONTAINER_DIR/<id>/<name>). */
int state_path(char *out, size_t cap, const char *id, const char *name, runm_error_t *err);

#endif

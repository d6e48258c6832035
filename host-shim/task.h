/* The containerd Task service, transport-free: each handler takes the
 * decoded request and returns the response or an error (errno chooses the
 * status: ENOENT NotFound, EEXIST AlreadyExists, ENOSYS Unimplemented...). */
#ifndef SHIM_TASK_H
#define SHIM_TASK_H

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "shim.h"

typedef int (*task_handler_fn)(struct shim *s, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, runm_error_t *err);

/* A Task method by name; its message types come from the generated
 * containerd.task.v2.Task service descriptor (main.c builds the table). */
struct task_method {
  const char *name; /* "Create" */
  task_handler_fn fn;
};

extern const struct task_method task_methods[];
extern const size_t n_task_methods;

#endif

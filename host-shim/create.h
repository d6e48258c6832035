/* Task.Create (create.c): the first container boots the VM; in a pod's VM
 * (pod.h) each further container of the pod joins it. */
#ifndef SHIM_CREATE_H
#define SHIM_CREATE_H

#include <protobuf-c/protobuf-c.h>

#include "error.h"
#include "shim.h"

int t_create(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp, runm_error_t *err);

/* Starts p's stdio relay (the guest's Stdio stream to containerd's FIFOs). */
int task_start_io(struct shim *s, struct shim_process *p, runm_error_t *err);

#endif

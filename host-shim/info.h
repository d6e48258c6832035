/* `containerd-shim-runm-v1 -info` (info.c): containerd 2.2+ calls it on
 * every Create and logs an ERROR when it fails. It writes the runtime's
 * options (a google.protobuf.Any) on stdin and reads a
 * containerd.types.RuntimeInfo from stdout. */
#ifndef SHIM_INFO_H
#define SHIM_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SHIM_RUNTIME_NAME "io.containerd.runm.v1"
#define SHIM_VERSION "0.1.0"
/* Most bytes of options -info reads from stdin. */
#define SHIM_INFO_OPTIONS_MAX (64 * 1024)

/* The packed RuntimeInfo (name, version; the options echoed when they
 * decode as an Any, left out otherwise: containerd 1.x and 2.x tools that
 * send nothing or something else still get an answer). *out is malloc'd. */
int shim_runtime_info(const uint8_t *opts, size_t len, uint8_t **out, size_t *out_len, runm_error_t *err);

#endif

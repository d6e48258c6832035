/* A process's stdio on the host: containerd's FIFOs, or the URIs containerd
 * clients use (file:///path appends to a file; binary:///path?k=v runs a
 * logging binary, nerdctl's default), relayed to and from the guest's Stdio
 * stream. */
#ifndef SHIM_STDIO_RELAY_H
#define SHIM_STDIO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "log.h"

struct runm_rpc_client;
struct io_relay;

/* Called once, from the relay thread, after every byte the process wrote
 * has been written to its outputs: exited=false means the guest stream
 * failed (the VM died) and status is meaningless. */
typedef void (*io_exit_fn)(void *opaque, bool exited, uint32_t status);

struct io_config {
  const char *ns; /* for binary:// loggers (CONTAINER_NAMESPACE) */
  const char *id, *exec_id;
  const char *stdin_path, *stdout_path, *stderr_path; /* "" = none */
  bool terminal;
  io_exit_fn on_exit;
  void *opaque;
  const struct runm_logger *log;
};

/* Attaches to the guest Stdio stream now (before Start, so no output waits)
 * and starts relaying on its own threads. */
struct io_relay *io_relay_start(struct runm_rpc_client *cl, const struct io_config *cfg,
                                runm_error_t *err);
/* Closes the process's stdin (CloseIO). */
void io_relay_close_stdin(struct io_relay *io);
/* From now on the process's output is discarded, not waited on: a write
 * blocked on a full FIFO gives up (thread-safe; teardown and the shim's
 * SIGKILL enforcement use it). The exit is still reported. */
void io_relay_drop_output(struct io_relay *io);
/* Stops the relay (drops output, cancels the stream if still open) and
 * frees it. */
void io_relay_free(struct io_relay *io);

#endif

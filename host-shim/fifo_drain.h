/* Closing a process's output FIFOs only once their readers have taken what
 * was written to them.
 *
 * containerd's client before 1.7.3 (ctr 1.6 here; containerd#8643) closes
 * its FIFO readers as soon as Wait returns for a task's init process, before
 * its copy goroutines have read what is still in the FIFOs: whatever is
 * buffered there at that moment is lost (runc-v2 loses it too). The relay
 * reports the exit only after this returns, so a reader that is there and
 * keeps reading gets every byte first. */
#ifndef SHIM_FIFO_DRAIN_H
#define SHIM_FIFO_DRAIN_H

#include <stddef.h>

#include "log.h"

/* A reader that has not read a byte for this long is taken as stuck: the
 * FIFO is closed anyway (the exit must not wait forever on a host reader). */
#define FIFO_DRAIN_STALL_MS 10000

/* Closes each fds[i] >= 0 (and sets it to -1). Those that are FIFOs are
 * closed first as readers (the relay keeps them O_RDWR), then held
 * write-only until they are empty, no reader is left, no byte was read for
 * stall_ms, or cancel_fd (>= 0: an eventfd) becomes readable (the output is
 * no longer wanted: Delete, shutdown); names[i] names them in the warning
 * of a stall. */
void fifo_drain_close(int *fds, const char *const *names, size_t n, int stall_ms, int cancel_fd,
                      const struct runm_logger *log);

#endif

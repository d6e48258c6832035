/* Opt-in timing records for `make bench`: where a task's start and end go. */
#ifndef SHIM_TIMING_H
#define SHIM_TIMING_H

#include <stdint.h>

/* With $RUNM_TIMING_DIR set to an absolute directory (containerd passes its
 * environment to the shims it starts), appends the line "EVENT NS" to
 * <dir>/<vm id>.timing, NS being host CLOCK_REALTIME nanoseconds (now when
 * ns is 0). Unset or unwritable: nothing happens; a task never fails for it. */
void shim_timing_mark(const char *vm_id, const char *event, int64_t ns);

#endif

/* Timing records: one "EVENT NS" line per step of a task, appended to a file
 * of its own, only when the benchmark asks for them ($RUNM_TIMING_DIR). The
 * shim's `start` run and the long-lived shim both write, one line per
 * write(2) with O_APPEND, so their lines never interleave. */
#include "timing.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm.h"

void shim_timing_mark(const char *vm_id, const char *event, int64_t ns)
{
  const char *dir = getenv("RUNM_TIMING_DIR");
  char path[4096 + 128], line[160];
  cleanup_close int fd = -1;
  int n;

  if (dir == NULL || dir[0] != '/' || vm_id == NULL || vm_id[0] == '\0') return;
  if (ns == 0) ns = runm_now_ns();
  n = snprintf(path, sizeof(path), "%s/%s.timing", dir, vm_id);
  if (n < 0 || (size_t)n >= sizeof(path)) return;
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return;
  n = snprintf(line, sizeof(line), "%s %lld\n", event, (long long)ns);
  if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0) {
    /* best effort: a benchmark aid, never a reason to fail a task */
  }
}

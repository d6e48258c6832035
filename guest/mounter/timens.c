/* The time namespace init runs in: CLOCK_MONOTONIC starts ahead of the
 * kernel's.
 *
 * Why: gRPC core's grpc_init() (InitTime in src/core/lib/gprpp/time.cc)
 * will not take a process epoch from a monotonic clock that reads less
 * than 2 s; it sleeps in 100 ms steps until it does. Init starts at ~1 s
 * of uptime under TCG, so every boot waited ~1 s before the guest could
 * serve (docs/performance.md, "Boot to first Ping"). A time namespace moves
 * the clock for init and everything it starts (runc, containers) without
 * touching the kernel's own clock; CLOCK_BOOTTIME, which the boot timeline
 * uses, is left alone. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int mounter_enter_time_ns(unsigned int monotonic_offset_s, runm_error_t *err)
{
  cleanup_close int offsets = -1, ns = -1;
  char line[64];
  int n;

  /* The new namespace is for this process's children only, until the
   * setns below; its offsets can be set only while nobody is in it. */
  if (unshare(CLONE_NEWTIME) < 0) return runm_make_error(err, errno, "unshare(CLONE_NEWTIME)");
  offsets = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  if (offsets < 0) return runm_make_error(err, errno, "open /proc/self/timens_offsets");
  n = snprintf(line, sizeof(line), "monotonic %u 0\n", monotonic_offset_s);
  if (write(offsets, line, (size_t)n) != n)
    return runm_make_error(err, errno, "write /proc/self/timens_offsets");
  /* The mounter is single-threaded, so it may move itself in; init, which
   * it becomes by execve, is then in the namespace too. */
  ns = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (ns < 0) return runm_make_error(err, errno, "open /proc/self/ns/time_for_children");
  if (setns(ns, CLONE_NEWTIME) < 0) return runm_make_error(err, errno, "setns(time namespace)");
  return 0;
}

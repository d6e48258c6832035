/* Time as int64 nanoseconds: one conversion for every clock runm reads
 * (REALTIME for what other machines compare, MONOTONIC for deadlines,
 * BOOTTIME for the guest's boot timeline). */
#ifndef RUNM_CLOCK_H
#define RUNM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t runm_clock_ns(clockid_t clock)
{
  struct timespec ts;
  /* Cannot fail for these clocks with a valid pointer. */
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif

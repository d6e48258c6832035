/* cgroup v2 numbers of a container's cgroup. */
#ifndef RUNM_CGROUP_STATS_H
#define RUNM_CGROUP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "runm/v1/guest.pb-c.h"

/* The container's cgroup directory ("/sys/fs/cgroup/...") from
 * /proc/<pid>/cgroup (the cgroup v2 "0::" line). */
int cgroup_of_pid(pid_t pid, char *out, size_t cap, runm_error_t *err);
/* Reads one "key value" line of a flat-keyed cgroup file such as
 * memory.events; false when the file or the key is missing. */
bool cgroup_read_key(const char *cgroup, const char *file, const char *key, uint64_t *out);
/* Whether the cgroup's freezer is set (cgroup.freeze reads 1): what runc's
 * state and pause read as "paused". False when the cgroup is "" or unreadable. */
bool cgroup_frozen(const char *cgroup);
/* Fills every StatsResponse field the cgroup has (absent controllers leave 0). */
int cgroup_stats(const char *cgroup, Runm__V1__StatsResponse *out, runm_error_t *err);

#endif

/* Finding a host process by its command line (/proc/PID/cmdline). */
#ifndef RUNM_PROC_FIND_H
#define RUNM_PROC_FIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Calls match(args, len, arg) with each process's command line (its
 * NUL-separated arguments, at most cap - 1 bytes, NUL-terminated) until
 * it returns true; that process's pid, or -1 (none, or no memory). */
pid_t runm_proc_find(size_t cap, bool (*match)(const char *args, size_t len, void *arg), void *arg);

#endif

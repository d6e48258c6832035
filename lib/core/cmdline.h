/* Kernel command line lookups, shared by the guest mounter (static,
 * syscall-only) and guest init: no allocation, no stdio. */
#ifndef RUNM_CMDLINE_H
#define RUNM_CMDLINE_H

#include <stddef.h>

#include "error.h"

/* Largest command line we accept (x86 COMMAND_LINE_SIZE is 2048). */
#define RUNM_CMDLINE_MAX 4096

/* Look up `key=value` in a command line, splitting it the way the kernel's
 * next_arg() does: words separated by spaces, double quotes group spaces and
 * are stripped around a value (`k="a b"`) or a whole word (`"k=a b"`). Keys
 * match whole words only; the last occurrence wins; a bare `key` (no `=`)
 * is not a value and is ignored; parsing stops at a bare `--` (what follows
 * belongs to init). Returns 1 and copies the NUL-terminated value into out,
 * 0 when the key is absent, -ENAMETOOLONG when the value (plus NUL) does not
 * fit in outlen bytes, -EINVAL on bad arguments. out is untouched unless 1
 * is returned. */
int runm_cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen);

/* Read /proc/cmdline into buf (NUL-terminated, trailing newline removed).
 * Returns the length, or a negative errno with err set; a command line that
 * does not fit in len bytes is an error (E2BIG), never silently truncated. */
int runm_cmdline_read(char *buf, size_t len, runm_error_t *err);

#endif

/* runm's one out-of-memory policy (see error.h): a small allocation that
 * fails ends the process with a message, as crun's xmalloc does. Such a
 * failure means the host is already out of memory; a half-built reply or
 * event would only move the crash somewhere harder to read. Sizes a peer
 * chooses are never allocated this way: they are capped and checked first,
 * and a too-large request is an error value (E2BIG), not an abort. */
#ifndef RUNM_XALLOC_H
#define RUNM_XALLOC_H

#include <stddef.h>

void *runm_xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *runm_xcalloc(size_t n, size_t size) __attribute__((malloc, returns_nonnull));
/* NULL gives "": protobuf-c string fields must not be NULL when packed. */
char *runm_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));

#endif

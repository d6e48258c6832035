/* Errors as values (crun's convention): a fallible function takes
 * `runm_error_t *err` last, fills it and returns a negative value. Callers add
 * context with runm_error_wrap() or pass it up; only main and the RPC boundary
 * turn an error into text, an exit code or a status.
 *
 * Out of memory (one policy, xalloc.h): a small, fixed-size allocation that
 * fails aborts with a message (runm_xmalloc & co.); anything whose size a
 * peer or a user chooses is capped first and, if still refused, returned as
 * an error value like any other. */
#ifndef RUNM_ERROR_H
#define RUNM_ERROR_H

#include <stdarg.h>

struct runm_error_s {
  int status; /* errno value, or 0 when there is none */
  char *msg;
};
typedef struct runm_error_s *runm_error_t;

/* Always returns -1 (or -status when status > 0) so that
 * `return runm_make_error(err, errno, "open `%s`", p);` reads naturally. */
int runm_make_error(runm_error_t *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing error with more context; returns the same value as
 * runm_make_error would. */
int runm_error_wrap(runm_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void runm_error_release(runm_error_t *err);
/* Full message including strerror(status) when status is set. Caller frees. */
char *runm_error_string(const runm_error_t err);

static inline void runm_error_cleanup(runm_error_t *err)
{
  runm_error_release(err);
}
#define cleanup_error __attribute__((cleanup(runm_error_cleanup)))

#endif

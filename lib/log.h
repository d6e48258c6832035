/* One logging function with a pluggable sink. Every line carries the
 * component and an id; debug is off unless the caller turns it on. */
#ifndef RUNM_LOG_H
#define RUNM_LOG_H

#include <stddef.h>

#include "error.h"

enum runm_log_level { RUNM_LOG_ERROR = 0, RUNM_LOG_WARN, RUNM_LOG_INFO, RUNM_LOG_DEBUG };

typedef void (*runm_log_sink_fn)(void *opaque, enum runm_log_level level, const char *line);

struct runm_logger {
  const char *component;
  const char *id; /* container/VM id, may be NULL */
  enum runm_log_level max_level;
  runm_log_sink_fn sink; /* NULL = stderr */
  void *opaque;
};

void runm_log(const struct runm_logger *lg, enum runm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Text from an untrusted peer (the guest's status details, names) made safe
 * for one log line or one error message: control characters and DEL become
 * \n, \t, \r or \xNN, so the peer cannot forge a line; at most `max` bytes
 * of output (escapes count), longer text ends in "...". Writes a
 * NUL-terminated string to dst (dstlen >= 4) and returns its length. */
size_t runm_escape(char *dst, size_t dstlen, const char *src, size_t srclen);
/* The same into a malloc'ed string of at most max bytes; NULL on ENOMEM. */
char *runm_escape_dup(const char *src, size_t srclen, size_t max);

/* Log an error value at ERROR level with a leading context string. */
void runm_log_error(const struct runm_logger *lg, const runm_error_t err, const char *what);

#endif

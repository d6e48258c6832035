/* Logging: formats one line and hands it to the logger's sink. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *level_name(enum runm_log_level l)
{
  switch (l) {
  case RUNM_LOG_ERROR: return "error";
  case RUNM_LOG_WARN: return "warn";
  case RUNM_LOG_INFO: return "info";
  case RUNM_LOG_DEBUG: return "debug";
  default: return "?";
  }
}

void runm_log(const struct runm_logger *lg, enum runm_log_level level, const char *fmt, ...)
{
  int saved = errno;
  char msg[2048], line[2300];
  va_list ap;
  struct timespec ts;

  if (lg && level > lg->max_level) {
    errno = saved;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(line, sizeof(line), "%lld.%03ld %s[%s]%s%s: %s", (long long)ts.tv_sec,
           ts.tv_nsec / 1000000, lg && lg->component ? lg->component : "runm", level_name(level),
           lg && lg->id ? " " : "", lg && lg->id ? lg->id : "", msg);
  if (lg && lg->sink)
    lg->sink(lg->opaque, level, line);
  else
    fprintf(stderr, "%s\n", line);
  errno = saved;
}

void runm_log_error(const struct runm_logger *lg, const runm_error_t err, const char *what)
{
  char *s = runm_error_string(err);
  runm_log(lg, RUNM_LOG_ERROR, "%s: %s", what, s ? s : "error");
  free(s);
}

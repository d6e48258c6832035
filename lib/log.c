/* Logging: formats one line and hands it to the logger's sink. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The escaped form of one byte into esc (4 bytes); returns its length. */
static size_t escape_byte(unsigned char ch, char *esc)
{
  static const char hex[] = "0123456789abcdef";
  if (ch >= 0x20 && ch != 0x7f) {
    esc[0] = (char)ch;
    return 1;
  }
  esc[0] = '\\';
  if (ch == '\n' || ch == '\t' || ch == '\r') {
    esc[1] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
    return 2;
  }
  esc[1] = 'x';
  esc[2] = hex[ch >> 4];
  esc[3] = hex[ch & 15];
  return 4;
}

size_t runm_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
  size_t total = 0, o = 0, limit;
  char esc[4];

  if (dstlen == 0) return 0;
  for (size_t i = 0; i < srclen && total < dstlen; i++)
    total += escape_byte((unsigned char)src[i], esc);
  /* All of it when it fits, else as much as leaves room for "...". */
  limit = total < dstlen ? dstlen - 1 : (dstlen > 4 ? dstlen - 4 : 0);
  for (size_t i = 0; i < srclen; i++) {
    size_t n = escape_byte((unsigned char)src[i], esc);
    if (o + n > limit) break;
    memcpy(dst + o, esc, n);
    o += n;
  }
  if (total >= dstlen)
    for (size_t k = 0; k < 3 && o + 1 < dstlen; k++) dst[o++] = '.';
  dst[o] = '\0';
  return o;
}

char *runm_escape_dup(const char *src, size_t srclen, size_t max)
{
  size_t cap = srclen * 4 + 1;
  char *out;

  if (cap > max + 1 || cap < srclen) cap = max + 1;
  out = malloc(cap);
  if (out == NULL) return NULL;
  runm_escape(out, cap, src, srclen);
  return out;
}

void runm_log(const struct runm_logger *lg, enum runm_log_level level, const char *fmt, ...)
{
  int saved = errno;
  char raw[2048], msg[2048], line[2300];
  va_list ap;
  struct timespec ts;

  if (lg && level > lg->max_level) {
    errno = saved;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(raw, sizeof(raw), fmt, ap);
  va_end(ap);
  /* One call, one line: whatever the message carries (guest text
   * included) cannot start a line of its own in containerd's log. */
  runm_escape(msg, sizeof(msg), raw, strlen(raw));
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

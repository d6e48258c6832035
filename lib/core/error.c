/* The runm error value: creation, wrapping with context, rendering. */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ret_for(int status)
{
  return status > 0 ? -status : -1;
}

int runm_make_error(runm_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);

  if (err) {
    runm_error_release(err);
    *err = calloc(1, sizeof(**err));
    if (*err) {
      (*err)->status = status;
      (*err)->msg = msg;
      msg = NULL;
    }
  }
  free(msg);
  return ret_for(status);
}

int runm_error_wrap(runm_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *prefix = NULL, *joined = NULL;

  if (err == NULL || *err == NULL) return -1;
  va_start(ap, fmt);
  if (vasprintf(&prefix, fmt, ap) < 0) prefix = NULL;
  va_end(ap);
  if (prefix && asprintf(&joined, "%s: %s", prefix, (*err)->msg ? (*err)->msg : "") >= 0) {
    free((*err)->msg);
    (*err)->msg = joined;
  }
  free(prefix);
  return ret_for((*err)->status);
}

void runm_error_release(runm_error_t *err)
{
  if (err == NULL || *err == NULL) return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}

char *runm_error_string(const runm_error_t err)
{
  char *s = NULL;
  if (err == NULL) return strdup("unknown error");
  if (err->status > 0) {
    const char *e = strerror(err->status);
    size_t ml = err->msg ? strlen(err->msg) : 0, el = strlen(e);
    /* A message relayed from a peer often ends with the reason already. */
    if (ml >= el && strcmp(err->msg + ml - el, e) == 0) return strdup(err->msg);
    if (asprintf(&s, "%s: %s", err->msg ? err->msg : "", strerror(err->status)) < 0) s = NULL;
  } else {
    s = strdup(err->msg ? err->msg : "error");
  }
  return s;
}

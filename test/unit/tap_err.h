/* For unit tests of functions that return an error value: their message as
 * text, so checks can say which problem was named. */
#ifndef RUNM_TAP_ERR_H
#define RUNM_TAP_ERR_H

#include <stdio.h>
#include <stdlib.h>

#include "error.h"

/* Copies err's message into msg ("" when there is none), releases err, and
 * returns r: `return tap_take_error(f(..., &err), &err, msg, cap);`. */
static inline int tap_take_error(int r, runm_error_t *err, char *msg, size_t cap)
{
  char *s = *err ? runm_error_string(*err) : NULL;
  snprintf(msg, cap, "%s", s ? s : "");
  free(s);
  runm_error_release(err);
  return r;
}

#endif

/* Just enough JSON reading for what runc prints (`runc state`, `runc ps
 * --format json`, --log-format json lines): find a key in an object, read a
 * string or an integer, walk an array of integers. Never allocates; every
 * read is bounded by the given length. */
#ifndef RUNM_JSONSCAN_H
#define RUNM_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jscan_span {
  const char *p;
  size_t len;
};

/* Finds `key` among the members of the object that starts `in` (leading
 * whitespace allowed); *val is the raw value text. Returns false when `in`
 * is not an object, is malformed, or has no such member. */
bool jscan_object_get(struct jscan_span in, const char *key, struct jscan_span *val);
/* Decodes a JSON string value into out (NUL-terminated, truncated to cap). */
bool jscan_string(struct jscan_span val, char *out, size_t cap);
bool jscan_int(struct jscan_span val, int64_t *out);
/* Calls fn for each integer of an array; false if malformed or fn refuses. */
bool jscan_int_array(struct jscan_span in, bool (*fn)(void *arg, int64_t v), void *arg);

#endif

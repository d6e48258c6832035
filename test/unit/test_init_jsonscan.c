/* Unit tests for guest/init/jsonscan.c: the bounded JSON reader init uses
 * on what runc prints (state, ps --format json, --log-format json). */
#include <stdlib.h>

#include "jsonscan.h"
#include "tap.h"

static struct jscan_span span(const char *s)
{
  return (struct jscan_span){s, strlen(s)};
}

/* The string value of `key` in doc, or NULL. */
static const char *get_str(const char *doc, const char *key, char *out, size_t cap)
{
  struct jscan_span v;
  if (!jscan_object_get(span(doc), key, &v) || !jscan_string(v, out, cap)) return NULL;
  return out;
}

static void test_object_get(void)
{
  char buf[64];
  struct jscan_span v;
  int64_t x = 0;
  const char *state = "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":4242,\"status\":\"running\","
                      "\"annotations\":{\"status\":\"inner\"},\"list\":[1,{\"status\":\"x\"}]}";

  is_str(get_str(state, "status", buf, sizeof(buf)), "running",
         "top-level member found, nested objects with the same key skipped");
  ok(jscan_object_get(span(state), "pid", &v) && jscan_int(v, &x) && x == 4242, "integer member read");
  ok(!jscan_object_get(span(state), "missing", &v), "absent member: false");
  ok(!jscan_object_get(span(state), "statu", &v), "a key prefix does not match");
  is_str(get_str("  \n\t{ \"a\" : \"b\" }", "a", buf, sizeof(buf)), "b", "whitespace around tokens allowed");
  ok(!jscan_object_get(span("[1,2]"), "a", &v), "an array is not an object");
  ok(!jscan_object_get(span("{\"a\":"), "a", &v), "truncated object refused");
  ok(!jscan_object_get(span("{\"a\" 1}"), "a", &v), "missing colon refused");
  ok(!jscan_object_get(span("{\"x\":\"unterminated}"), "a", &v), "unterminated string refused");
  /* The span bounds every read: the text after len is never seen. */
  const char *two = "{\"a\":\"1\"}{\"b\":\"2\"}";
  ok(!jscan_object_get((struct jscan_span){two, 9}, "b", &v), "nothing read past the span");
  ok(!jscan_object_get((struct jscan_span){state, 20}, "status", &v), "a cut object is malformed, not read on");
  /* Deep nesting is refused rather than recursed into without bound. */
  char deep[4096];
  size_t n = 0;
  n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
  for (int i = 0; i < 1000; i++) deep[n++] = '[';
  for (int i = 0; i < 1000; i++) deep[n++] = ']';
  n += (size_t)snprintf(deep + n, sizeof(deep) - n, ",\"a\":\"b\"}");
  ok(!jscan_object_get((struct jscan_span){deep, n}, "a", &v), "1000-deep nesting refused");
}

static void test_string(void)
{
  char buf[64], small[4];
  is_str(get_str("{\"m\":\"a\\\"b\\\\c\\/d\\n\\te\"}", "m", buf, sizeof(buf)), "a\"b\\c/d\n\te",
         "escapes decoded");
  is_str(get_str("{\"m\":\"\\u0041\\u00e9\"}", "m", buf, sizeof(buf)), "A\xc3\xa9", "\\u escapes become UTF-8");
  is_str(get_str("{\"m\":\"abcdef\"}", "m", small, sizeof(small)), "abc", "truncated to the buffer, NUL-terminated");
  ok(get_str("{\"m\":42}", "m", buf, sizeof(buf)) == NULL, "a number is not a string");
  /* runc's messages are read best-effort: odd escapes degrade, never fail. */
  is_str(get_str("{\"m\":\"x\\qy\"}", "m", buf, sizeof(buf)), "xqy", "an unknown escape keeps its character");
  is_str(get_str("{\"m\":\"\\ud83d!\"}", "m", buf, sizeof(buf)), "?!", "a surrogate half becomes ?");
  ok(get_str("{\"m\":\"\\u12\"}", "m", buf, sizeof(buf)) == NULL, "a short \\u escape is refused");
}

static bool collect(void *arg, int64_t v)
{
  int64_t *a = arg;
  if (a[0] >= 8) return false;
  a[1 + a[0]++] = v;
  return true;
}

static bool refuse(void *arg, int64_t v)
{
  (void)arg;
  return v != 3;
}

static void test_ints(void)
{
  int64_t a[9] = {0}, x = 0;
  ok(jscan_int(span("-17"), &x) && x == -17, "negative integer");
  ok(!jscan_int(span("1.5"), &x), "a fraction is not an integer");
  ok(!jscan_int(span("\"1\""), &x), "a string is not an integer");
  ok(!jscan_int(span("99999999999999999999"), &x), "an integer past int64 is refused");
  ok(jscan_int_array(span(" [1, 22 ,333]"), collect, a) && a[0] == 3 && a[1] == 1 && a[2] == 22 && a[3] == 333,
     "integer array walked in order");
  a[0] = 0;
  ok(jscan_int_array(span("[]"), collect, a) && a[0] == 0, "empty array");
  ok(!jscan_int_array(span("[1,\"2\"]"), collect, a), "a non-integer element is refused");
  ok(!jscan_int_array(span("[1,2"), collect, a), "unterminated array refused");
  ok(!jscan_int_array(span("[1,2,3,4]"), refuse, NULL), "the callback can stop the walk");
}

int main(void)
{
  test_object_get();
  test_string();
  test_ints();
  return tap_done();
}

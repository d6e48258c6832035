/* A bounded JSON scanner for runc's output (see jsonscan.h). */
#include "jsonscan.h"

#include <string.h>

/* Nesting runc never comes near; caps the skip recursion. */
#define JSON_MAX_DEPTH 64

static size_t skip_ws(struct jscan_span s, size_t i)
{
  while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\n' || s.p[i] == '\r')) i++;
  return i;
}

/* Index just past the string starting at s.p[i] == '"', or 0 if malformed. */
static size_t skip_string(struct jscan_span s, size_t i)
{
  for (i++; i < s.len; i++) {
    if (s.p[i] == '\\') {
      i++;
      continue;
    }
    if (s.p[i] == '"') return i + 1;
  }
  return 0;
}

/* Index just past the value at s.p[i], or 0 if malformed. */
static size_t skip_value(struct jscan_span s, size_t i, int depth)
{
  if (depth > JSON_MAX_DEPTH) return 0;
  i = skip_ws(s, i);
  if (i >= s.len) return 0;
  if (s.p[i] == '"') return skip_string(s, i);
  if (s.p[i] == '{' || s.p[i] == '[') {
    char close = s.p[i] == '{' ? '}' : ']';
    bool object = s.p[i] == '{';
    i = skip_ws(s, i + 1);
    if (i < s.len && s.p[i] == close) return i + 1;
    for (;;) {
      if (object) {
        i = skip_ws(s, i);
        if (i >= s.len || s.p[i] != '"') return 0;
        i = skip_string(s, i);
        if (i == 0) return 0;
        i = skip_ws(s, i);
        if (i >= s.len || s.p[i] != ':') return 0;
        i++;
      }
      i = skip_value(s, i, depth + 1);
      if (i == 0) return 0;
      i = skip_ws(s, i);
      if (i >= s.len) return 0;
      if (s.p[i] == close) return i + 1;
      if (s.p[i] != ',') return 0;
      i++;
    }
  }
  /* number, true, false, null */
  {
    size_t start = i;
    while (i < s.len && strchr("+-0123456789.eEtruefalsn", s.p[i])) i++;
    return i > start ? i : 0;
  }
}

static bool key_equals(struct jscan_span s, size_t start, size_t end, const char *key)
{
  /* Keys runc uses are plain ASCII: compare the raw bytes between quotes. */
  size_t n = end - start - 2;
  return strlen(key) == n && memcmp(s.p + start + 1, key, n) == 0;
}

bool jscan_object_get(struct jscan_span s, const char *key, struct jscan_span *val)
{
  size_t i = skip_ws(s, 0);

  if (i >= s.len || s.p[i] != '{') return false;
  i = skip_ws(s, i + 1);
  if (i < s.len && s.p[i] == '}') return false;
  for (;;) {
    size_t kstart, kend, vstart, vend;
    i = skip_ws(s, i);
    if (i >= s.len || s.p[i] != '"') return false;
    kstart = i;
    kend = skip_string(s, i);
    if (kend == 0) return false;
    i = skip_ws(s, kend);
    if (i >= s.len || s.p[i] != ':') return false;
    vstart = skip_ws(s, i + 1);
    vend = skip_value(s, vstart, 1);
    if (vend == 0) return false;
    if (key_equals(s, kstart, kend, key)) {
      val->p = s.p + vstart;
      val->len = vend - vstart;
      return true;
    }
    i = skip_ws(s, vend);
    if (i >= s.len || s.p[i] != ',') return false;
    i++;
  }
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool jscan_string(struct jscan_span v, char *out, size_t cap)
{
  size_t o = 0;

  if (cap == 0 || v.len < 2 || v.p[0] != '"' || v.p[v.len - 1] != '"') return false;
  for (size_t i = 1; i + 1 < v.len; i++) {
    char c = v.p[i];
    char enc[4];
    size_t n = 1;
    if (c == '\\') {
      if (++i + 1 > v.len - 1) return false;
      switch (v.p[i]) {
      case 'n': enc[0] = '\n'; break;
      case 't': enc[0] = '\t'; break;
      case 'r': enc[0] = '\r'; break;
      case 'b': enc[0] = '\b'; break;
      case 'f': enc[0] = '\f'; break;
      case 'u': {
        unsigned cp = 0;
        if (i + 4 >= v.len) return false;
        for (int k = 1; k <= 4; k++) {
          int h = hexval(v.p[i + k]);
          if (h < 0) return false;
          cp = cp * 16 + (unsigned)h;
        }
        i += 4;
        if (cp < 0x80) {
          enc[0] = (char)cp;
        } else if (cp < 0x800) {
          enc[0] = (char)(0xc0 | (cp >> 6));
          enc[1] = (char)(0x80 | (cp & 0x3f));
          n = 2;
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
          enc[0] = '?'; /* surrogate halves: not worth pairing for messages */
        } else {
          enc[0] = (char)(0xe0 | (cp >> 12));
          enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
          enc[2] = (char)(0x80 | (cp & 0x3f));
          n = 3;
        }
        break;
      }
      default: enc[0] = v.p[i]; break; /* \" \\ \/ */
      }
    } else {
      enc[0] = c;
    }
    for (size_t k = 0; k < n && o + 1 < cap; k++) out[o++] = enc[k];
  }
  out[o] = '\0';
  return true;
}

bool jscan_int(struct jscan_span v, int64_t *out)
{
  int64_t x = 0;
  size_t i = 0;
  bool neg = false;

  if (v.len > 0 && v.p[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i >= v.len || v.len - i > 18) return false;
  for (; i < v.len; i++) {
    if (v.p[i] < '0' || v.p[i] > '9') return false;
    x = x * 10 + (v.p[i] - '0');
  }
  *out = neg ? -x : x;
  return true;
}

bool jscan_int_array(struct jscan_span s, bool (*fn)(void *arg, int64_t v), void *arg)
{
  size_t i = skip_ws(s, 0);

  if (i >= s.len || s.p[i] != '[') return false;
  i = skip_ws(s, i + 1);
  if (i < s.len && s.p[i] == ']') return true;
  for (;;) {
    size_t end = skip_value(s, i, 1);
    struct jscan_span v;
    int64_t x;
    if (end == 0) return false;
    v.p = s.p + skip_ws(s, i);
    v.len = (size_t)(s.p + end - v.p);
    if (!jscan_int(v, &x) || !fn(arg, x)) return false;
    i = skip_ws(s, end);
    if (i >= s.len) return false;
    if (s.p[i] == ']') return true;
    if (s.p[i] != ',') return false;
    i++;
  }
}

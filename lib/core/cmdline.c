/* Kernel command line lookups (runm.* keys), split like the kernel's own
 * next_arg() so the guest sees exactly the words the kernel saw. */
#include "cmdline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

struct cmdline_word {
  const char *param;
  size_t param_len;
  const char *val; /* NULL for a bare word without '=' */
  size_t val_len;
};

static int is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_spaces(const char *p)
{
  while (*p && is_space(*p)) p++;
  return p;
}

/* One word of the command line starting at p (not at a space); returns where
 * the next word starts. Mirrors linux/lib/cmdline.c:next_arg(), which edits
 * the string in place; here the stripping is done with lengths instead. */
static const char *next_word(const char *p, struct cmdline_word *w)
{
  size_t i, equals = 0, end, val_start;
  int in_quote = 0, quoted = 0;

  if (*p == '"') {
    p++;
    in_quote = 1;
    quoted = 1;
  }
  for (i = 0; p[i]; i++) {
    if (is_space(p[i]) && !in_quote) break;
    if (equals == 0 && p[i] == '=') equals = i;
    if (p[i] == '"') in_quote = !in_quote;
  }

  end = i;
  if (quoted && i > 0 && p[i - 1] == '"') end = i - 1;
  w->param = p;
  if (equals == 0) {
    w->param_len = end;
    w->val = NULL;
    w->val_len = 0;
  } else {
    w->param_len = equals;
    val_start = equals + 1;
    if (val_start < i && p[val_start] == '"') {
      val_start++;
      if (p[i - 1] == '"') end = i - 1;
    }
    w->val = p + val_start;
    w->val_len = end > val_start ? end - val_start : 0;
  }
  return skip_spaces(p + i);
}

int runm_cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen)
{
  const char *p, *found = NULL;
  size_t key_len, found_len = 0;
  struct cmdline_word w;

  if (cmdline == NULL || key == NULL || out == NULL) return -EINVAL;
  key_len = strlen(key);
  if (key_len == 0) return -EINVAL;

  for (p = skip_spaces(cmdline); *p;) {
    p = next_word(p, &w);
    /* The kernel stops parsing at "--": the rest is init's argv. */
    if (w.val == NULL && w.param_len == 2 && memcmp(w.param, "--", 2) == 0) break;
    if (w.val != NULL && w.param_len == key_len && memcmp(w.param, key, key_len) == 0) {
      found = w.val;
      found_len = w.val_len;
    }
  }
  if (found == NULL) return 0;
  if (found_len >= outlen) return -ENAMETOOLONG;
  memcpy(out, found, found_len);
  out[found_len] = '\0';
  return 1;
}

int runm_cmdline_read(char *buf, size_t len, runm_error_t *err)
{
  cleanup_close int fd = -1;
  size_t total = 0;
  char extra;
  ssize_t n;

  if (buf == NULL || len == 0 || len > (size_t)INT_MAX)
    return runm_make_error(err, EINVAL, "read /proc/cmdline: bad buffer");
  fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open /proc/cmdline");

  for (;;) {
    if (total < len - 1)
      n = read(fd, buf + total, len - 1 - total);
    else
      n = read(fd, &extra, 1); /* anything left means it did not fit */
    if (n < 0) {
      if (errno == EINTR) continue;
      return runm_make_error(err, errno, "read /proc/cmdline");
    }
    if (n == 0) break;
    if (total >= len - 1)
      return runm_make_error(err, E2BIG, "read /proc/cmdline: longer than %zu bytes", len - 1);
    total += (size_t)n;
  }
  while (total > 0 && (buf[total - 1] == '\n' || buf[total - 1] == '\0')) total--;
  buf[total] = '\0';
  return (int)total;
}

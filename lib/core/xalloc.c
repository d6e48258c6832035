/* The out-of-memory policy (xalloc.h): abort with a message. */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t n)
{
  char msg[96];
  int len = snprintf(msg, sizeof(msg), "runm: out of memory allocating %zu bytes\n", n);
  /* write(2), not stdio: nothing here may allocate. */
  if (len > 0 && write(2, msg, (size_t)len) < 0) {
  }
  abort();
}

void *runm_xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (p == NULL) oom(n);
  return p;
}

void *runm_xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL) oom(n * size);
  return p;
}

char *runm_xstrdup(const char *s)
{
  char *p = strdup(s ? s : "");
  if (p == NULL) oom(s ? strlen(s) + 1 : 1);
  return p;
}

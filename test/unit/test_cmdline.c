/* Unit tests for lib/core/cmdline.c: kernel command line lookups. */
#include <errno.h>
#include <string.h>

#include "cmdline.h"
#include "tap.h"

#define CL "console=ttyS0 reboot=t panic=-1 quiet runm.id=vm1 runm.mbin=vdb runm.init=/bin/x"

static void test_positions(void)
{
  char v[64];

  is_int(runm_cmdline_get(CL, "console", v, sizeof(v)), 1, "first key found");
  is_str(v, "ttyS0", "first key value");
  is_int(runm_cmdline_get(CL, "runm.mbin", v, sizeof(v)), 1, "middle key found");
  is_str(v, "vdb", "middle key value");
  is_int(runm_cmdline_get(CL, "runm.init", v, sizeof(v)), 1, "last key found");
  is_str(v, "/bin/x", "last key value");
  is_int(runm_cmdline_get("  runm.id=a  \n", "runm.id", v, sizeof(v)), 1, "surrounding spaces");
  is_str(v, "a", "value excludes trailing whitespace");
  is_int(runm_cmdline_get("a=1\tb=2", "b", v, sizeof(v)), 1, "tab separates words");
  is_str(v, "2", "value after tab");
}

static void test_absent(void)
{
  char v[16];

  strcpy(v, "untouched");
  is_int(runm_cmdline_get(CL, "runm.time", v, sizeof(v)), 0, "absent key");
  is_str(v, "untouched", "out untouched when absent");
  is_int(runm_cmdline_get("", "runm.id", v, sizeof(v)), 0, "empty command line");
  is_int(runm_cmdline_get("quiet", "quiet", v, sizeof(v)), 0, "bare word is not a value");
  is_int(runm_cmdline_get("runm.id", "runm.id", v, sizeof(v)), 0, "bare key is not a value");
}

static void test_whole_words(void)
{
  char v[16];

  is_int(runm_cmdline_get("runm.mbinx=vda", "runm.mbin", v, sizeof(v)), 0,
         "key is not a prefix of a longer key");
  is_int(runm_cmdline_get("xrunm.mbin=vda", "runm.mbin", v, sizeof(v)), 0,
         "key is not a suffix of a longer key");
  is_int(runm_cmdline_get("runm.port=a runm.portx=b", "runm.port", v, sizeof(v)), 1,
         "key found next to a longer key");
  is_str(v, "a", "shorter key keeps its own value");
  is_int(runm_cmdline_get("runm.portx=b runm.port=a", "runm.port", v, sizeof(v)), 1,
         "key found after a longer key");
  is_str(v, "a", "value of the exact key");
  is_int(runm_cmdline_get("foo=runm.id=x", "runm.id", v, sizeof(v)), 0,
         "key inside another value is not a key");
  is_int(runm_cmdline_get("a=b=c", "a", v, sizeof(v)), 1, "value may contain '='");
  is_str(v, "b=c", "split at the first '='");
}

static void test_last_wins(void)
{
  char v[16];

  is_int(runm_cmdline_get("runm.id=a runm.id=b", "runm.id", v, sizeof(v)), 1, "repeated key");
  is_str(v, "b", "last occurrence wins");
  is_int(runm_cmdline_get("runm.id=a runm.id", "runm.id", v, sizeof(v)), 1,
         "bare repeat does not hide a value");
  is_str(v, "a", "earlier value kept");
}

static void test_quotes(void)
{
  char v[32];

  is_int(runm_cmdline_get("a=1 runm.init=\"/bin/my init\" b=2", "runm.init", v, sizeof(v)), 1,
         "quoted value");
  is_str(v, "/bin/my init", "quotes stripped, space kept");
  is_int(runm_cmdline_get("a=1 runm.init=\"/bin/my init\" b=2", "b", v, sizeof(v)), 1,
         "key after a quoted value");
  is_str(v, "2", "quote does not swallow the next word");
  is_int(runm_cmdline_get("\"runm.id=x y\" z=1", "runm.id", v, sizeof(v)), 1, "quoted word");
  is_str(v, "x y", "whole-word quotes stripped");
  is_int(runm_cmdline_get("runm.id=\"\"", "runm.id", v, sizeof(v)), 1, "empty quoted value");
  is_str(v, "", "empty quoted value is empty");
  is_int(runm_cmdline_get("runm.id=a\"b c\"d e=1", "runm.id", v, sizeof(v)), 1,
         "quote inside a value");
  is_str(v, "a\"b c\"d", "inner quotes kept like the kernel");
  is_int(runm_cmdline_get("runm.id=\"open end", "runm.id", v, sizeof(v)), 1, "unterminated quote");
  is_str(v, "open end", "unterminated quote runs to the end");
}

static void test_empty_and_long(void)
{
  char v[8], big[4];

  is_int(runm_cmdline_get("runm.id= next=1", "runm.id", v, sizeof(v)), 1, "empty value");
  is_str(v, "", "empty value is empty string");
  strcpy(big, "abc");
  is_int(runm_cmdline_get("runm.id=abcd", "runm.id", big, sizeof(big)), -ENAMETOOLONG,
         "too long value");
  is_str(big, "abc", "out untouched when too long");
  is_int(runm_cmdline_get("runm.id=abc", "runm.id", big, sizeof(big)), 1, "value exactly fits");
  is_str(big, "abc", "exact fit copied");
  is_int(runm_cmdline_get("runm.id=", "runm.id", v, 0), -ENAMETOOLONG, "zero-size buffer");
  is_int(runm_cmdline_get("runm.id=a", "", v, sizeof(v)), -EINVAL, "empty key rejected");
  is_int(runm_cmdline_get(NULL, "k", v, sizeof(v)), -EINVAL, "NULL command line rejected");
}

static void test_double_dash(void)
{
  char v[8];

  is_int(runm_cmdline_get("quiet -- runm.id=a", "runm.id", v, sizeof(v)), 0,
         "words after -- belong to init");
  is_int(runm_cmdline_get("runm.id=a -- runm.id=b", "runm.id", v, sizeof(v)), 1,
         "value before --");
  is_str(v, "a", "value after -- ignored");
}

static void test_read(void)
{
  char buf[RUNM_CMDLINE_MAX + 1], tiny[1];
  runm_error_t err = NULL;
  int r;

  r = runm_cmdline_read(buf, sizeof(buf), &err);
  ok(r >= 0 && err == NULL, "read /proc/cmdline");
  ok(r >= 0 && (size_t)r == strlen(buf) && (r == 0 || buf[r - 1] != '\n'),
     "no trailing newline, length returned");
  runm_error_release(&err);
  r = runm_cmdline_read(tiny, sizeof(tiny), &err);
  ok(r == 0 || (r == -E2BIG && err != NULL && err->status == E2BIG),
     "too small a buffer is E2BIG, not truncation");
  runm_error_release(&err);
}

int main(void)
{
  test_positions();
  test_absent();
  test_whole_words();
  test_last_wins();
  test_quotes();
  test_empty_and_long();
  test_double_dash();
  test_read();
  return tap_done();
}

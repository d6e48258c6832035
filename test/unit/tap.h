/* Minimal TAP producer for runm's C unit tests: `ok`, `is_int`, `is_str`,
 * then `return tap_done();` from main. */
#ifndef RUNM_TAP_H
#define RUNM_TAP_H

#include <stdio.h>
#include <string.h>

struct tap_state {
  int n;
  int failed;
};
static struct tap_state tap_st;

static inline int tap_ok(int cond, const char *file, int line, const char *name)
{
  tap_st.n++;
  if (!cond) tap_st.failed++;
  printf("%sok %d - %s\n", cond ? "" : "not ", tap_st.n, name);
  if (!cond) printf("#   failed at %s:%d\n", file, line);
  fflush(stdout);
  return cond;
}
#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, name)
#define is_int(got, want, name)                                                                    \
  do {                                                                                             \
    long long got_ = (long long)(got), want_ = (long long)(want);                                  \
    if (!ok(got_ == want_, name)) printf("#   got %lld, want %lld\n", got_, want_);                \
  } while (0)
#define is_str(got, want, name)                                                                    \
  do {                                                                                             \
    const char *got_ = (got), *want_ = (want);                                                     \
    if (!ok(got_ && want_ && strcmp(got_, want_) == 0, name))                                      \
      printf("#   got '%s', want '%s'\n", got_ ? got_ : "(null)", want_ ? want_ : "(null)");       \
  } while (0)

static inline int tap_done(void)
{
  printf("1..%d\n", tap_st.n);
  return tap_st.failed ? 1 : 0;
}

#endif

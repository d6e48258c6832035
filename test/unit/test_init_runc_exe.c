/* Unit tests for guest/init/runc_exe.c and the reaper's executable alias:
 * the sealed copy is the file's bytes, carries exactly the seals runc 1.1
 * checks (F_SEAL_SEAL|SHRINK|GROW|WRITE), cannot be written or resized,
 * runs when exec'd through /proc/self/fd/N; bad paths are clear errors; a
 * runc run waits for a pending alias and then names the memfd. */
#include "runc_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reaper.h"
#include "tap.h"
#include "tap_err.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static void seal_a_file(void)
{
  char path[] = "/tmp/runm-test-runc-exe-XXXXXX", buf[64] = "", msg[256];
  const char text[] = "#!/bin/sh\nexit 7\n";
  runm_error_t err = NULL;
  int src = mkstemp(path), fd, status = -1;
  pid_t pid;

  ok(src >= 0 && write(src, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1), "a file to seal");
  close(src);
  fd = runc_exe_seal(path, &err);
  if (!ok(fd >= 0, "runc_exe_seal copies it into a memfd")) {
    tap_take_error(-1, &err, msg, sizeof(msg));
    printf("#   %s\n", msg);
    unlink(path);
    return;
  }
  is_int(fcntl(fd, F_GET_SEALS), SEALS, "sealed with exactly SEAL|SHRINK|GROW|WRITE (runc's check)");
  ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the memfd is close-on-exec");
  ok(pread(fd, buf, sizeof(buf), 0) == (ssize_t)(sizeof(text) - 1) && strcmp(buf, text) == 0,
     "its bytes are the file's");
  ok(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM, "a write is refused (EPERM)");
  ok(ftruncate(fd, 1) < 0 && errno == EPERM, "shrinking is refused");
  ok(ftruncate(fd, 4096) < 0 && errno == EPERM, "growing is refused");
  ok(fcntl(fd, F_ADD_SEALS, 0) < 0 && errno == EPERM, "no seal can be removed or added");
  pid = fork();
  if (pid == 0) {
    char exe[64];
    snprintf(exe, sizeof(exe), "/proc/self/fd/%d", fd);
    /* A script: its interpreter opens the path after exec, so keep the fd. */
    fcntl(fd, F_SETFD, 0);
    execl(exe, "x", (char *)NULL);
    _exit(99);
  }
  waitpid(pid, &status, 0);
  ok(WIFEXITED(status) && WEXITSTATUS(status) == 7, "it runs through /proc/self/fd/N");
  close(fd);
  unlink(path);
}

static void bad_paths(void)
{
  runm_error_t err = NULL;
  char msg[256];

  ok(tap_take_error(runc_exe_seal("/nonexistent/runc", &err), &err, msg, sizeof(msg)) < 0 &&
         strstr(msg, "/nonexistent/runc") && strstr(msg, "No such file"),
     "a missing file: an error naming it");
  ok(tap_take_error(runc_exe_seal("/tmp", &err), &err, msg, sizeof(msg)) < 0 &&
         strstr(msg, "not a regular file"),
     "a directory: refused");
}

struct waiter {
  struct reaper *r;
  char got[64];
};

static void *ask(void *arg)
{
  struct waiter *w = arg;
  reaper_exe_path(w->r, "/bin/runc", w->got, sizeof(w->got));
  return NULL;
}

static void alias(void)
{
  runm_error_t err = NULL;
  struct reaper *r = reaper_new(&err);
  struct waiter w = {.r = r};
  struct timespec ms50 = {0, 50 * 1000 * 1000};
  pthread_t t;
  char buf[64];

  if (!ok(r != NULL, "a reaper")) return;
  reaper_exe_path(r, "/bin/runc", buf, sizeof(buf));
  is_str(buf, "/bin/runc", "no alias: the path itself");
  reaper_expect_exe(r, "/bin/runc");
  reaper_exe_path(r, "/bin/other", buf, sizeof(buf));
  is_str(buf, "/bin/other", "another path does not wait for the alias");
  pthread_create(&t, NULL, ask, &w);
  nanosleep(&ms50, NULL);
  ok(w.got[0] == '\0', "a run of the aliased path waits while the alias is pending");
  reaper_set_exe(r, 42);
  pthread_join(t, NULL);
  is_str(w.got, "/proc/self/fd/42", "then it names the memfd");
  free(r); /* init's reaper lives as long as init: there is no reaper_free */

  r = reaper_new(&err);
  reaper_expect_exe(r, "/bin/runc");
  reaper_set_exe(r, -1);
  reaper_exe_path(r, "/bin/runc", buf, sizeof(buf));
  is_str(buf, "/bin/runc", "a failed seal: the path itself, no wait");
  free(r);
}

int main(void)
{
  seal_a_file();
  bad_paths();
  alias();
  return tap_done();
}

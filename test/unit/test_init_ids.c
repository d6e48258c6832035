/* Unit tests for guest/init's validators of host-named values: container
 * and exec ids (container.c's validate_id, from the init archive) and the
 * pool's Prepare share source and path (prepare.c compiled in). */
#include "../../guest/init/prepare.c"

#include <stdlib.h>

#include "container.h"
#include "tap.h"
#include "tap_err.h"

static int id_of(const char *id, bool allow_empty, char *msg, size_t cap)
{
  runm_error_t err = NULL;
  return tap_take_error(validate_id("container id", id, allow_empty, &err), &err, msg, cap);
}

static void id_refused(const char *id, const char *want, const char *name)
{
  char msg[256];
  ok(id_of(id, false, msg, sizeof(msg)) < 0, name);
  if (!ok(strstr(msg, want) != NULL, name)) printf("#   got '%s', want '%s' in it\n", msg, want);
}

static void test_ids(void)
{
  char msg[256], max[ID_MAX + 2];

  is_int(id_of("web-1_a.b", false, msg, sizeof(msg)), 0, "letters, digits, _ . - accepted");
  is_int(id_of("", true, msg, sizeof(msg)), 0, "empty accepted where allowed (exec id of the init process)");
  memset(max, 'a', ID_MAX);
  max[ID_MAX] = '\0';
  is_int(id_of(max, false, msg, sizeof(msg)), 0, "64 characters accepted");
  max[ID_MAX] = 'a';
  max[ID_MAX + 1] = '\0';
  id_refused(max, "container id is longer than 64 characters", "65 characters refused");
  id_refused("", "container id is empty", "empty refused where not allowed");
  id_refused("..", "starts with a dot", "`..` refused");
  id_refused(".hidden", "starts with a dot", "a leading dot refused");
  id_refused("a/b", "has a character outside [A-Za-z0-9_.-]", "a slash refused");
  id_refused("a b", "outside [A-Za-z0-9_.-]", "a space refused");
  id_refused("a\nb", "outside [A-Za-z0-9_.-]", "a newline refused");
  id_refused("caf\xc3\xa9", "outside [A-Za-z0-9_.-]", "non-ASCII refused");
}

static int share_of(const char *source, const char *path)
{
  Runm__V1__PrepareShare sh = RUNM__V1__PREPARE_SHARE__INIT;
  runm_error_t err = NULL;
  int r;
  sh.source = (char *)source;
  sh.path = (char *)path;
  r = check_share(&sh, &err);
  runm_error_release(&err);
  return r;
}

static void test_shares(void)
{
  char longp[PATH_MAX + 8];

  is_int(share_of("t1", "/run/containerd/x/rootfs"), 0, "a name and an absolute normalised path accepted");
  ok(share_of("", "/a") < 0, "empty source refused");
  ok(share_of("a/b", "/a") < 0, "a source with a slash refused (one path component)");
  ok(share_of(".", "/a") < 0, "source `.` refused");
  ok(share_of("..", "/a") < 0, "source `..` refused");
  ok(share_of("t", "a/b") < 0, "a relative path refused");
  ok(share_of("t", "/a/../etc") < 0, "a /../ path refused");
  ok(share_of("t", "/a/..") < 0, "a trailing /.. refused");
  ok(share_of("t", "/a/./b") < 0, "a /./ path refused");
  ok(share_of("t", "/a//b") < 0, "a // path refused");
  longp[0] = '/';
  memset(longp + 1, 'a', PATH_MAX);
  longp[PATH_MAX + 1] = '\0';
  ok(share_of("t", longp) < 0, "a path past PATH_MAX refused");
}

int main(void)
{
  test_ids();
  test_shares();
  return tap_done();
}

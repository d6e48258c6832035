/* Unit tests for runm-bindfs's pure parts: bindfs/map.c (map= syntax and
 * both directions of the mapping) and bindfs/options.c (-o parsing,
 * pass-through, refusals, defaults). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "options.h"
#include "tap.h"

/* Parses spec into a fresh map; returns the error message or NULL. */
static char *map_err(const char *spec, struct bindfs_map *m)
{
  runm_error_t err = NULL;
  char *msg = NULL;
  memset(m, 0, sizeof(*m));
  if (bindfs_map_parse(m, spec, &err) < 0) msg = runm_error_string(err);
  runm_error_release(&err);
  return msg;
}

static int contains(const char *s, const char *sub)
{
  return s && strstr(s, sub) != NULL;
}

static void test_map_good(void)
{
  struct bindfs_map m;
  char *e = map_err("1000/2000:@100/@200", &m);
  ok(e == NULL, "map=1000/2000:@100/@200 parses");
  free(e);
  is_int(m.uid.n, 1, "one uid pair");
  is_int(m.gid.n, 1, "one gid pair");
  is_int(bindfs_map_show(&m.uid, 1000), 2000, "source uid 1000 shows as 2000");
  is_int(bindfs_map_show(&m.uid, 2000), 2000, "source uid 2000 shows as itself");
  is_int(bindfs_map_show(&m.uid, 5), 5, "unmapped uid passes through");
  is_int(bindfs_map_store(&m.uid, 2000), 1000, "uid 2000 in the mount is stored as 1000");
  is_int(bindfs_map_store(&m.uid, 1000), 1000, "uid 1000 in the mount is stored as itself");
  is_int(bindfs_map_show(&m.gid, 100), 200, "source gid 100 shows as 200");
  is_int(bindfs_map_store(&m.gid, 200), 100, "gid 200 is stored as 100");
  is_int(bindfs_map_show(&m.uid, 100), 100, "a gid pair does not map uids");

  e = map_err("root/65534:1/2", &m);
  ok(e == NULL, "user names resolve (root)");
  free(e);
  is_int(bindfs_map_show(&m.uid, 0), 65534, "root shows as 65534");
  is_int(bindfs_map_show(&m.uid, 1), 2, "second pair");
  e = map_err("@root/@4", &m);
  ok(e == NULL, "group names resolve (@root)");
  free(e);
  is_int(bindfs_map_show(&m.gid, 0), 4, "group root shows as 4");
}

static void test_map_bad(void)
{
  static const struct {
    const char *spec, *want;
  } cases[] = {
      {"", "empty"},
      {"1000", "not FROM/TO"},
      {"1000/", "empty user"},
      {"/1000", "empty user"},
      {"1000/2000/3000", "not FROM/TO"},
      {"1000/@2000", "maps a user to a group"},
      {"@1000/2000", "maps a user to a group"},
      {"1000/2000::1/2", "empty pair"},
      {":1000/2000", "empty pair"},
      {"1000/2000:", "empty pair"},
      {"1000/2000:1000/3000", "already mapped"},
      {"1000/2000:3000/2000", "already the target"},
      {"no-such-user-xyz/0", "unknown user `no-such-user-xyz`"},
      {"@no-such-group-xyz/@0", "unknown group `no-such-group-xyz`"},
      {"99999999999/0", "out of range"},
      {"4294967295/0", "out of range"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct bindfs_map m;
    char name[160];
    char *e = map_err(cases[i].spec, &m);
    snprintf(name, sizeof(name), "map=`%s` is refused: %s", cases[i].spec, cases[i].want);
    if (!ok(contains(e, cases[i].want), name)) printf("#   got: %s\n", e ? e : "(accepted)");
    free(e);
  }
}

static void test_map_limit(void)
{
  struct bindfs_map m;
  char spec[4096] = "", *e;
  for (int i = 0; i <= BINDFS_MAP_MAX; i++) {
    char p[32];
    snprintf(p, sizeof(p), "%s%d/%d", i ? ":" : "", 10000 + i, 20000 + i);
    strcat(spec, p);
  }
  e = map_err(spec, &m);
  ok(contains(e, "more than"), "more than BINDFS_MAP_MAX pairs is refused");
  free(e);
}

/* Parses each string as one -o, then finishes with SRC /src. */
static char *opts_err(struct bindfs_options *o, const char *const *list)
{
  runm_error_t err = NULL;
  char *msg = NULL;
  bindfs_options_init(o);
  for (; *list; list++)
    if (bindfs_options_parse(o, *list, &err) < 0) break;
  if (err == NULL) bindfs_options_finish(o, "/src,dir", &err);
  if (err) msg = runm_error_string(err);
  runm_error_release(&err);
  return msg;
}

static void test_options(void)
{
  struct bindfs_options o;
  char *e;

  e = opts_err(&o, (const char *const[]){"ro,map=1000/2000", "allow_other,nosuid", NULL});
  ok(e == NULL, "ro, map, allow_other, nosuid parse");
  free(e);
  ok(o.ro, "ro is set");
  ok(o.allow_other, "allow_other is set");
  ok(o.default_permissions, "allow_other implies default_permissions");
  is_int(bindfs_map_show(&o.map.uid, 1000), 2000, "map from -o");
  is_str(o.fuse_opts, "ro,allow_other,nosuid,default_permissions,subtype=runm-bindfs,fsname=/src\\,dir",
         "libfuse options: pass-through, defaults, fsname with its comma escaped");
  ok(o.attr_timeout == 1 && o.entry_timeout == 1 && o.negative_timeout == 0, "cache=auto timeouts");
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"allow_other,no_default_permissions", NULL});
  ok(e == NULL && !o.default_permissions, "no_default_permissions keeps the kernel out of checks");
  free(e);
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"cache=never,fsname=mine,subtype=x", NULL});
  ok(e == NULL && o.attr_timeout == 0 && o.entry_timeout == 0, "cache=never: no caching");
  is_str(o.fuse_opts, "fsname=mine,subtype=x", "given fsname and subtype are kept");
  free(e);
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"cache=always,attr_timeout=2.5", NULL});
  ok(e == NULL && o.attr_timeout == 2.5 && o.entry_timeout == 86400, "explicit timeout wins over cache=");
  free(e);
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"rw,defaults,nofail,_netdev,x-systemd.automount,dev,suid", NULL});
  ok(e == NULL && !o.ro, "fstab bookkeeping (rw, defaults, nofail, x-*) is accepted");
  is_str(o.fuse_opts, "dev,suid,subtype=runm-bindfs,fsname=/src\\,dir", "...and not passed on");
  free(e);
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"map=1/2\\,x", NULL});
  ok(contains(e, "unknown user `2,x`"), "\\, escapes a comma inside a value");
  free(e);
  bindfs_options_free(&o);

  e = opts_err(&o, (const char *const[]){"writeback,ro", NULL});
  ok(e == NULL && !o.writeback, "writeback is dropped on a read-only mount");
  free(e);
  bindfs_options_free(&o);
}

static void test_options_bad(void)
{
  static const struct {
    const char *opt, *want;
  } cases[] = {
      {"frobnicate", "unknown option `frobnicate`"},
      {"ro,bogus=1", "unknown option `bogus=1`"},
      {"map", "needs a value"},
      {"map=", "map= is empty"},
      {"map=1000", "not FROM/TO"},
      {"cache=sometimes", "expected auto, never or always"},
      {"attr_timeout=-1", "not a number of seconds"},
      {"entry_timeout=abc", "not a number of seconds"},
      {"max_threads=0", "not a number in 1..256"},
      {"max_threads=1000", "not a number in 1..256"},
      {"fsname=", "unknown option `fsname=`"},
      {"default_permissions,no_default_permissions", "contradict"},
      {"direct_io,writeback", "contradict"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct bindfs_options o;
    char name[160];
    char *e = opts_err(&o, (const char *const[]){cases[i].opt, NULL});
    snprintf(name, sizeof(name), "-o %s is refused: %s", cases[i].opt, cases[i].want);
    if (!ok(contains(e, cases[i].want), name)) printf("#   got: %s\n", e ? e : "(accepted)");
    free(e);
    bindfs_options_free(&o);
  }
}

int main(void)
{
  test_map_good();
  test_map_bad();
  test_map_limit();
  test_options();
  test_options_bad();
  return tap_done();
}

/* Parsing and applying bindfs-style uid/gid maps (see map.h). */
#include "map.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* A number (all digits, fits in uid_t, not -1) or a user/group name. */
static int resolve(const char *s, bool group, uint32_t *out, runm_error_t *err)
{
  const char *what = group ? "group" : "user";
  if (*s == '\0') return runm_make_error(err, EINVAL, "empty %s", what);
  if (strspn(s, "0123456789") == strlen(s)) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v >= UINT32_MAX)
      return runm_make_error(err, ERANGE, "%s id `%s` is out of range", what, s);
    *out = (uint32_t)v;
    return 0;
  }
  char buf[4096];
  if (group) {
    struct group gr, *res = NULL;
    int r = getgrnam_r(s, &gr, buf, sizeof(buf), &res);
    if (res == NULL) return runm_make_error(err, r ? r : ENOENT, "unknown group `%s`", s);
    *out = (uint32_t)gr.gr_gid;
  } else {
    struct passwd pw, *res = NULL;
    int r = getpwnam_r(s, &pw, buf, sizeof(buf), &res);
    if (res == NULL) return runm_make_error(err, r ? r : ENOENT, "unknown user `%s`", s);
    *out = (uint32_t)pw.pw_uid;
  }
  return 0;
}

static int add_pair(struct bindfs_idmap *m, uint32_t from, uint32_t to, const char *pair,
                    runm_error_t *err)
{
  for (size_t i = 0; i < m->n; i++) {
    if (m->from[i] == from)
      return runm_make_error(err, EINVAL, "`%s`: id %u is already mapped", pair, from);
    if (m->to[i] == to)
      return runm_make_error(err, EINVAL, "`%s`: id %u is already the target of a mapping", pair, to);
  }
  if (m->n >= BINDFS_MAP_MAX)
    return runm_make_error(err, E2BIG, "`%s`: more than %d mappings", pair, BINDFS_MAP_MAX);
  m->from[m->n] = from;
  m->to[m->n] = to;
  m->n++;
  return 0;
}

static int parse_pair(struct bindfs_map *m, char *pair, runm_error_t *err)
{
  char *slash = strchr(pair, '/');
  const char *a = pair, *b;
  uint32_t from, to;
  bool ga, gb;

  if (slash == NULL) return runm_make_error(err, EINVAL, "`%s` is not FROM/TO", pair);
  *slash = '\0';
  b = slash + 1;
  ga = a[0] == '@';
  gb = b[0] == '@';
  if (ga != gb) {
    *slash = '/';
    return runm_make_error(err, EINVAL, "`%s` maps a user to a group (groups take @ on both sides)",
                           pair);
  }
  if (ga) a++, b++;
  if (strchr(b, '/')) {
    *slash = '/';
    return runm_make_error(err, EINVAL, "`%s` is not FROM/TO", pair);
  }
  if (resolve(a, ga, &from, err) < 0 || resolve(b, ga, &to, err) < 0) {
    *slash = '/';
    return -1;
  }
  *slash = '/';
  return add_pair(ga ? &m->gid : &m->uid, from, to, pair, err);
}

int bindfs_map_parse(struct bindfs_map *m, const char *spec, runm_error_t *err)
{
  cleanup_free char *copy = strdup(spec);
  char *save = NULL, *tok;

  if (copy == NULL) return runm_make_error(err, ENOMEM, "map");
  if (*spec == '\0') return runm_make_error(err, EINVAL, "map= is empty");
  if (spec[0] == ':' || spec[strlen(spec) - 1] == ':' || strstr(spec, "::"))
    return runm_make_error(err, EINVAL, "map=`%s` has an empty pair", spec);
  for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
    if (parse_pair(m, tok, err) < 0) return runm_error_wrap(err, "map=`%s`", spec);
  return 0;
}

uint32_t bindfs_map_show(const struct bindfs_idmap *m, uint32_t id)
{
  for (size_t i = 0; i < m->n; i++)
    if (m->from[i] == id) return m->to[i];
  return id;
}

uint32_t bindfs_map_store(const struct bindfs_idmap *m, uint32_t id)
{
  for (size_t i = 0; i < m->n; i++)
    if (m->to[i] == id) return m->from[i];
  return id;
}

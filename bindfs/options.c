/* Parsing runm-bindfs's -o option strings (see options.h). */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* Mount options libfuse 3.14 accepts and hands to the kernel or to its
 * mount code; passed through unchanged. */
static const char *const fuse_flags[] = {
    "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "atime", "noatime",
    "dirsync", "allow_root", "auto_unmount",
};
static const char *const fuse_valued[] = {
    "fsname=", "subtype=", "max_read=", "blksize=", "context=", "fscontext=", "defcontext=",
    "rootcontext=",
};
/* fstab and mount(8) bookkeeping that means nothing to a FUSE file system. */
static const char *const ignored[] = {
    "defaults", "auto", "noauto", "nofail", "_netdev", "user", "users", "nouser", "owner",
    "group", "nonempty", "rw",
};

void bindfs_options_init(struct bindfs_options *o)
{
  memset(o, 0, sizeof(*o));
  o->attr_timeout = o->entry_timeout = o->negative_timeout = -1;
}

void bindfs_options_free(struct bindfs_options *o)
{
  free(o->fuse_opts);
  o->fuse_opts = NULL;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0) return true;
  return false;
}

static bool has_prefix_in(const char *s, const char *const *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strncmp(s, list[i], strlen(list[i])) == 0) return true;
  return false;
}

/* Appends one option to the libfuse list, escaping commas. */
static int add_fuse_opt(struct bindfs_options *o, const char *opt, runm_error_t *err)
{
  size_t old = o->fuse_opts ? strlen(o->fuse_opts) : 0, commas = 0;
  for (const char *p = opt; *p; p++) commas += *p == ',' || *p == '\\';
  char *n = realloc(o->fuse_opts, old + 1 + strlen(opt) + commas + 1);
  char *w;
  if (n == NULL) return runm_make_error(err, ENOMEM, "options");
  o->fuse_opts = n;
  w = n + old;
  if (old) *w++ = ',';
  for (const char *p = opt; *p; p++) {
    if (*p == ',' || *p == '\\') *w++ = '\\';
    *w++ = *p;
  }
  *w = '\0';
  return 0;
}

static int parse_seconds(const char *name, const char *v, double *out, runm_error_t *err)
{
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (*v == '\0' || *end || errno || !(d >= 0 && d <= 86400 * 365))
    return runm_make_error(err, EINVAL, "%s=`%s` is not a number of seconds", name, v);
  *out = d;
  return 0;
}

static int parse_one(struct bindfs_options *o, const char *opt, runm_error_t *err)
{
  const char *eq = strchr(opt, '=');
  const char *val = eq ? eq + 1 : NULL;

  if (strcmp(opt, "ro") == 0) {
    o->ro = true;
    return add_fuse_opt(o, "ro", err);
  }
  if (in_list(opt, ignored, sizeof(ignored) / sizeof(ignored[0])) || strncmp(opt, "x-", 2) == 0 ||
      strncmp(opt, "comment=", 8) == 0)
    return 0;
  if (strcmp(opt, "allow_other") == 0) {
    o->allow_other = true;
    return add_fuse_opt(o, opt, err);
  }
  if (strcmp(opt, "default_permissions") == 0) {
    o->default_permissions = true;
    return 0; /* added once, in finish */
  }
  if (strcmp(opt, "no_default_permissions") == 0) {
    o->no_default_permissions = true;
    return 0;
  }
  if (strcmp(opt, "debug") == 0) {
    o->debug = true;
    return add_fuse_opt(o, opt, err);
  }
  if (strcmp(opt, "writeback") == 0) o->writeback = true;
  else if (strcmp(opt, "no_writeback") == 0) o->writeback = false;
  else if (strcmp(opt, "direct_io") == 0) o->direct_io = true;
  else if (strcmp(opt, "no_splice") == 0) o->no_splice = true;
  else if (strcmp(opt, "no_readdirplus") == 0) o->no_readdirplus = true;
  else if (eq && strncmp(opt, "map=", 4) == 0) return bindfs_map_parse(&o->map, val, err);
  else if (eq && strncmp(opt, "cache=", 6) == 0) {
    if (strcmp(val, "auto") == 0) o->cache = BINDFS_CACHE_AUTO;
    else if (strcmp(val, "never") == 0) o->cache = BINDFS_CACHE_NEVER;
    else if (strcmp(val, "always") == 0) o->cache = BINDFS_CACHE_ALWAYS;
    else return runm_make_error(err, EINVAL, "cache=`%s`: expected auto, never or always", val);
  } else if (eq && strncmp(opt, "attr_timeout=", 13) == 0)
    return parse_seconds("attr_timeout", val, &o->attr_timeout, err);
  else if (eq && strncmp(opt, "entry_timeout=", 14) == 0)
    return parse_seconds("entry_timeout", val, &o->entry_timeout, err);
  else if (eq && strncmp(opt, "negative_timeout=", 17) == 0)
    return parse_seconds("negative_timeout", val, &o->negative_timeout, err);
  else if (eq && strncmp(opt, "max_threads=", 12) == 0) {
    char *end;
    unsigned long n = strtoul(val, &end, 10);
    if (*val == '\0' || *end || n < 1 || n > 256)
      return runm_make_error(err, EINVAL, "max_threads=`%s` is not a number in 1..256", val);
    o->max_threads = (unsigned)n;
  } else if (in_list(opt, fuse_flags, sizeof(fuse_flags) / sizeof(fuse_flags[0])) ||
             (eq && val[0] && has_prefix_in(opt, fuse_valued, sizeof(fuse_valued) / sizeof(fuse_valued[0]))))
    return add_fuse_opt(o, opt, err);
  else if (strcmp(opt, "map") == 0)
    return runm_make_error(err, EINVAL, "option `map` needs a value: map=FROM/TO[:@FROM/@TO...]");
  else
    return runm_make_error(err, EINVAL, "unknown option `%s`", opt);
  return 0;
}

int bindfs_options_parse(struct bindfs_options *o, const char *optstr, runm_error_t *err)
{
  size_t len = strlen(optstr);
  cleanup_free char *buf = malloc(len + 1);
  size_t n = 0;

  if (buf == NULL) return runm_make_error(err, ENOMEM, "options");
  for (size_t i = 0;; i++) {
    char c = optstr[i];
    if (c == '\\' && optstr[i + 1]) {
      buf[n++] = optstr[++i];
      continue;
    }
    if (c == ',' || c == '\0') {
      buf[n] = '\0';
      if (n > 0 && parse_one(o, buf, err) < 0) return -1;
      n = 0;
      if (c == '\0') break;
      continue;
    }
    buf[n++] = c;
  }
  return 0;
}

static bool has_fuse_opt(const struct bindfs_options *o, const char *prefix)
{
  const char *p = o->fuse_opts;
  size_t l = strlen(prefix);
  while (p && *p) {
    if (strncmp(p, prefix, l) == 0) return true;
    /* next unescaped comma */
    while (*p && *p != ',') p += *p == '\\' && p[1] ? 2 : 1;
    if (*p == ',') p++;
  }
  return false;
}

int bindfs_options_finish(struct bindfs_options *o, const char *src, runm_error_t *err)
{
  double t = o->cache == BINDFS_CACHE_NEVER ? 0 : o->cache == BINDFS_CACHE_ALWAYS ? 86400 : 1;
  if (o->attr_timeout < 0) o->attr_timeout = t;
  if (o->entry_timeout < 0) o->entry_timeout = t;
  if (o->negative_timeout < 0) o->negative_timeout = 0;
  if (o->default_permissions && o->no_default_permissions)
    return runm_make_error(err, EINVAL, "default_permissions and no_default_permissions contradict");
  if (o->writeback && o->ro) o->writeback = false; /* nothing to write back */
  if (o->direct_io && o->writeback)
    return runm_make_error(err, EINVAL, "direct_io and writeback contradict");
  /* With allow_other the daemon acts for every user: the kernel must
   * check permissions against the (mapped) owners and modes, or any user
   * could read anything the daemon can. */
  if (o->allow_other && !o->no_default_permissions) o->default_permissions = true;
  if (o->default_permissions && add_fuse_opt(o, "default_permissions", err) < 0) return -1;
  if (!has_fuse_opt(o, "subtype=") && add_fuse_opt(o, "subtype=runm-bindfs", err) < 0) return -1;
  if (!has_fuse_opt(o, "fsname=")) {
    cleanup_free char *fsname = NULL;
    if (asprintf(&fsname, "fsname=%s", src) < 0) return runm_make_error(err, ENOMEM, "options");
    if (add_fuse_opt(o, fsname, err) < 0) return -1;
  }
  return 0;
}

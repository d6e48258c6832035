/* Reading the parts of config.json the shim acts on (json-c). */
#include "spec.h"
#include "netmode.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool has_option(json_object *opts, const char *want)
{
  size_t n = opts && json_object_is_type(opts, json_type_array) ? json_object_array_length(opts) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *o = json_object_get_string(json_object_array_get_idx(opts, i));
    if (o && strcmp(o, want) == 0) return true;
  }
  return false;
}

static int add_bind(struct spec_info *info, const char *src, bool ro, runm_error_t *err)
{
  struct stat st;
  for (size_t i = 0; i < info->n_binds; i++)
    if (strcmp(info->binds[i].source, src) == 0) {
      /* The same source bound rw anywhere must be shared rw. */
      info->binds[i].readonly = info->binds[i].readonly && ro;
      return 0;
    }
  if (info->n_binds >= SPEC_MAX_BINDS)
    return runm_make_error(err, E2BIG, "more than %d bind mounts", SPEC_MAX_BINDS);
  if (src[0] != '/') return runm_make_error(err, EINVAL, "bind source `%s` is not absolute", src);
  if (stat(src, &st) < 0) return runm_make_error(err, errno, "bind source `%s`", src);
  info->binds[info->n_binds].source = strdup(src);
  info->binds[info->n_binds].readonly = ro;
  info->binds[info->n_binds].is_dir = S_ISDIR(st.st_mode);
  if (info->binds[info->n_binds].source == NULL) return runm_make_error(err, ENOMEM, "spec");
  info->n_binds++;
  return 0;
}

/* The network annotations (docs/networking.md). Any other type than a
 * string is an error too: a typo must not silently publish nothing. */
static int read_net_annotations(json_object *root, struct spec_info *info, runm_error_t *err)
{
  json_object *ann = NULL, *v = NULL;
  const char *ns_path = NULL;

  if (spec_net_choose(root, &info->net, &ns_path, err) < 0) return -1;
  if (ns_path && (info->netns_path = strdup(ns_path)) == NULL) return runm_make_error(err, ENOMEM, "spec");
  if (!json_object_object_get_ex(root, "annotations", &ann) || ann == NULL) return 0;
  if (json_object_object_get_ex(ann, RUNM_PORTS_ANNOTATION, &v)) {
    if (!json_object_is_type(v, json_type_string))
      return runm_make_error(err, EINVAL, "annotation %s must be a string", RUNM_PORTS_ANNOTATION);
    if (runm_ports_parse(json_object_get_string(v), info->ports, RUNM_PORTS_MAX, &info->n_ports,
                         err) < 0)
      return runm_error_wrap(err, "annotation %s", RUNM_PORTS_ANNOTATION);
    if (info->n_ports > 0 && info->net != RUNM_NET_USER)
      return runm_make_error(err, EINVAL, "annotation %s: published ports need %s=user",
                             RUNM_PORTS_ANNOTATION, RUNM_NET_ANNOTATION);
  }
  /* Off unless asked for, as Docker does (docs/security.md). */
  if (json_object_object_get_ex(ann, RUNM_HOST_LOOPBACK_ANNOTATION, &v)) {
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (s && strcmp(s, "true") == 0) info->host_loopback = true;
    else if (s && strcmp(s, "false") == 0) info->host_loopback = false;
    else
      return runm_make_error(err, EINVAL, "annotation %s must be \"true\" or \"false\"",
                             RUNM_HOST_LOOPBACK_ANNOTATION);
    if (info->host_loopback && info->net != RUNM_NET_USER)
      return runm_make_error(err, EINVAL, "annotation %s: needs %s=user",
                             RUNM_HOST_LOOPBACK_ANNOTATION, RUNM_NET_ANNOTATION);
  }
  return 0;
}

int spec_read(const char *bundle, struct spec_info *info, runm_error_t *err)
{
  char path[PATH_MAX];
  json_object *root;
  int ret;

  memset(info, 0, sizeof(*info));
  snprintf(path, sizeof(path), "%s/config.json", bundle);
  root = json_object_from_file(path);
  if (root == NULL)
    return runm_make_error(err, EINVAL, "cannot parse `%s`: %s", path, json_util_get_last_err());
  ret = spec_parse(root, bundle, info, err);
  json_object_put(root);
  return ret;
}

int spec_parse(json_object *root, const char *bundle, struct spec_info *info, runm_error_t *err)
{
  char path[PATH_MAX];
  json_object *mounts, *linux_, *res, *mem, *cpu, *v, *proc;
  int ret = 0;

  memset(info, 0, sizeof(*info));
  snprintf(path, sizeof(path), "%s/config.json", bundle);
  {
    json_object *r = NULL, *rp = NULL;
    const char *rpath = "rootfs";
    /* Absent means runc's default; anything else but a non-empty string
     * (null, a number, "") is a spec error, not a path to guess at. */
    if (json_object_object_get_ex(root, "root", &r)) {
      if (!json_object_is_type(r, json_type_object))
        return runm_make_error(err, EINVAL, "`%s`: root must be an object", path);
      if (json_object_object_get_ex(r, "path", &rp)) {
        if (!json_object_is_type(rp, json_type_string) || json_object_get_string_len(rp) == 0)
          return runm_make_error(err, EINVAL, "`%s`: root.path must be a non-empty string", path);
        rpath = json_object_get_string(rp);
      }
    }
    if (rpath[0] == '/')
      info->root = strdup(rpath);
    else if (asprintf(&info->root, "%s/%s", bundle, rpath) < 0)
      info->root = NULL;
    if (info->root == NULL) return runm_make_error(err, ENOMEM, "spec");
  }
  if (json_object_object_get_ex(root, "process", &proc) &&
      json_object_object_get_ex(proc, "terminal", &v))
    info->terminal = json_object_get_boolean(v);
  if (json_object_object_get_ex(root, "mounts", &mounts) &&
      json_object_is_type(mounts, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length(mounts) && ret == 0; i++) {
      json_object *m = json_object_array_get_idx(mounts, i), *type = NULL, *src = NULL, *opts = NULL;
      json_object_object_get_ex(m, "type", &type);
      json_object_object_get_ex(m, "source", &src);
      json_object_object_get_ex(m, "options", &opts);
      bool bind = (type && strcmp(json_object_get_string(type), "bind") == 0) ||
                  has_option(opts, "bind") || has_option(opts, "rbind");
      if (!bind || src == NULL) continue;
      ret = add_bind(info, json_object_get_string(src), has_option(opts, "ro"), err);
    }
  }
  if (ret == 0) ret = read_net_annotations(root, info, err);
  if (ret == 0 && json_object_object_get_ex(root, "linux", &linux_) &&
      json_object_object_get_ex(linux_, "resources", &res)) {
    if (json_object_object_get_ex(res, "memory", &mem) &&
        json_object_object_get_ex(mem, "limit", &v))
      info->memory_limit = json_object_get_int64(v);
    if (json_object_object_get_ex(res, "cpu", &cpu)) {
      json_object *q = NULL, *p = NULL;
      json_object_object_get_ex(cpu, "quota", &q);
      json_object_object_get_ex(cpu, "period", &p);
      if (q && p && json_object_get_int64(q) > 0 && json_object_get_int64(p) > 0)
        info->cpus = (double)json_object_get_int64(q) / (double)json_object_get_int64(p);
    }
  }
  if (ret < 0) spec_free(info);
  return ret;
}

void spec_free(struct spec_info *info)
{
  free(info->root);
  info->root = NULL;
  free(info->netns_path);
  info->netns_path = NULL;
  for (size_t i = 0; i < info->n_binds; i++) free(info->binds[i].source);
  info->n_binds = 0;
}

/* The hooks allow-list (hooks_priv.h): the hooks the task's host spec
 * lists, loaded once, each checked and copied (path, args, env, timeout)
 * so that a guest's request can only ever match one of them (hooks.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_spec.h"
#include "hooks_priv.h"

static void strv_free(char **v)
{
  if (v == NULL) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* A NULL-terminated copy of a JSON array of strings (NULL member: empty). */
static int strv_from_json(json_object *a, const char *what, char ***out, size_t *n_out,
                          runm_error_t *err)
{
  size_t n = a ? json_object_array_length(a) : 0;
  char **v = calloc(n + 1, sizeof(*v));
  if (v == NULL) return runm_make_error(err, ENOMEM, "hooks");
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(a, i);
    if (!json_object_is_type(e, json_type_string)) {
      strv_free(v);
      return runm_make_error(err, EINVAL, "%s[%zu] is not a string", what, i);
    }
    v[i] = strdup(json_object_get_string(e));
    if (v[i] == NULL) {
      strv_free(v);
      return runm_make_error(err, ENOMEM, "hooks");
    }
  }
  *out = v;
  if (n_out) *n_out = n;
  return 0;
}

static int load_hook(json_object *h, const char *kind, size_t i, struct hook *out, runm_error_t *err)
{
  json_object *path = spec_member(h, "path"), *args = spec_member(h, "args"), *env = spec_member(h, "env");
  json_object *timeout = spec_member(h, "timeout");
  char what[64];

  if (!json_object_is_type(path, json_type_string) || json_object_get_string(path)[0] != '/')
    return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `path` must be an absolute path", kind, i);
  if ((args && !json_object_is_type(args, json_type_array)) ||
      (env && !json_object_is_type(env, json_type_array)))
    return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `args` and `env` must be arrays", kind, i);
  if (args && json_object_array_length(args) > HOOK_MAX_ARGS)
    return runm_make_error(err, E2BIG, "hooks.%s[%zu] has more than %d args", kind, i, HOOK_MAX_ARGS);
  out->path = strdup(json_object_get_string(path));
  if (out->path == NULL) return runm_make_error(err, ENOMEM, "hooks");
  snprintf(what, sizeof(what), "hooks.%s[%zu].args", kind, i);
  if (args && json_object_array_length(args) > 0) {
    if (strv_from_json(args, what, &out->args, &out->n_args, err) < 0) return -1;
  } else {
    /* What runc runs for a hook without args: argv = [path]. */
    out->args = calloc(2, sizeof(char *));
    if (out->args == NULL || (out->args[0] = strdup(out->path)) == NULL)
      return runm_make_error(err, ENOMEM, "hooks");
    out->n_args = 1;
  }
  snprintf(what, sizeof(what), "hooks.%s[%zu].env", kind, i);
  if (strv_from_json(env, what, &out->env, NULL, err) < 0) return -1;
  if (timeout) {
    if (!json_object_is_type(timeout, json_type_int) || json_object_get_int64(timeout) <= 0)
      return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `timeout` must be a positive integer",
                             kind, i);
    out->timeout_s = json_object_get_int64(timeout);
  }
  return 0;
}

void hooks_lists_free(struct hooks *h)
{
  for (size_t k = 0; k < SPEC_N_HOOK_KINDS; k++) {
    for (size_t i = 0; i < h->n[k]; i++) {
      free(h->list[k][i].path);
      strv_free(h->list[k][i].args);
      strv_free(h->list[k][i].env);
    }
    free(h->list[k]);
    h->list[k] = NULL;
    h->n[k] = 0;
  }
  if (h->annotations) json_object_put(h->annotations);
  h->annotations = NULL;
  free(h->id);
  free(h->bundle);
  free(h->root);
  h->id = h->bundle = h->root = NULL;
}

static int load_lists(struct hooks *h, json_object *host_spec, const char *id, const char *bundle,
                      runm_error_t *err)
{
  json_object *hooks = spec_member(host_spec, "hooks"), *ann = spec_member(host_spec, "annotations");

  const char *root = json_object_get_string(spec_member(spec_member(host_spec, "root"), "path"));

  h->id = strdup(id);
  h->bundle = strdup(bundle);
  if (root == NULL) root = "rootfs";
  if (root[0] == '/') h->root = strdup(root);
  else if (asprintf(&h->root, "%s/%s", bundle, root) < 0) h->root = NULL;
  if (h->id == NULL || h->bundle == NULL || h->root == NULL)
    return runm_make_error(err, ENOMEM, "hooks");
  if (ann && json_object_is_type(ann, json_type_object) && json_object_object_length(ann) > 0 &&
      json_object_deep_copy(ann, &h->annotations, NULL) < 0)
    return runm_make_error(err, ENOMEM, "hooks");
  if (hooks && !json_object_is_type(hooks, json_type_object))
    return runm_make_error(err, EINVAL, "`hooks` must be an object");
  for (size_t k = 0; k < SPEC_N_HOOK_KINDS && hooks; k++) {
    json_object *list = spec_member(hooks, spec_hook_kinds[k]);
    size_t n = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    if (list && !json_object_is_type(list, json_type_array))
      return runm_make_error(err, EINVAL, "hooks.%s must be an array", spec_hook_kinds[k]);
    if (n > SPEC_MAX_HOOKS)
      return runm_make_error(err, E2BIG, "hooks.%s lists %zu hooks; runm takes at most %d",
                             spec_hook_kinds[k], n, SPEC_MAX_HOOKS);
    /* startContainer hooks run in the container (in the guest): none of
     * them is ever run on the host. */
    if (n == 0 || k == SPEC_HOOK_START_CONTAINER) continue;
    h->list[k] = calloc(n, sizeof(struct hook));
    if (h->list[k] == NULL) return runm_make_error(err, ENOMEM, "hooks");
    h->n[k] = n;
    for (size_t i = 0; i < n; i++)
      if (load_hook(json_object_array_get_idx(list, i), spec_hook_kinds[k], i, &h->list[k][i], err) < 0)
        return -1;
  }
  return 0;
}

int hooks_load(struct hooks *h, json_object *host_spec, const char *id, const char *bundle,
               runm_error_t *err)
{
  int ret;
  pthread_mutex_lock(&h->lock);
  if (h->loaded) {
    pthread_mutex_unlock(&h->lock);
    return runm_make_error(err, EEXIST, "the hooks of task `%s` are loaded already", h->id);
  }
  ret = load_lists(h, host_spec, id, bundle, err);
  if (ret < 0) hooks_lists_free(h);
  else h->loaded = true;
  pthread_mutex_unlock(&h->lock);
  return ret;
}

size_t hooks_count(const struct hooks *h)
{
  size_t n = 0;
  for (size_t k = 0; k < SPEC_N_HOOK_KINDS; k++) n += h->n[k];
  return n;
}


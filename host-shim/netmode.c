/* The network mode a spec asks for (netmode.h). */
#include "netmode.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>


/* o's member key, NULL when o is not an object or has none. */
static json_object *member(json_object *o, const char *key)
{
  json_object *v = NULL;
  if (o == NULL || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v)) return NULL;
  return v;
}

static bool has_hooks(json_object *hooks, const char *kind)
{
  json_object *l = member(hooks, kind);
  return l && json_object_is_type(l, json_type_array) && json_object_array_length(l) > 0;
}

int spec_net_choose(json_object *spec, enum runm_net_mode *mode, const char **ns_path, runm_error_t *err)
{
  json_object *ann = member(spec, "annotations"), *v = member(ann, RUNM_NET_ANNOTATION);
  json_object *nss = member(member(spec, "linux"), "namespaces"), *hooks = member(spec, "hooks");
  json_object *netns = NULL;
  bool named = false;

  *mode = RUNM_NET_USER;
  *ns_path = NULL;
  for (size_t i = 0; nss && json_object_is_type(nss, json_type_array) && i < json_object_array_length(nss); i++) {
    json_object *e = json_object_array_get_idx(nss, i);
    const char *t = json_object_get_string(member(e, "type"));
    if (t && strcmp(t, "network") == 0) netns = e;
  }
  if (netns) {
    json_object *p = member(netns, "path");
    if (p && !json_object_is_type(p, json_type_string))
      return runm_make_error(err, EINVAL, "linux.namespaces: the network namespace's path is not a string");
    if (p && json_object_get_string_len(p) > 0) {
      *ns_path = json_object_get_string(p);
      if ((*ns_path)[0] != '/')
        return runm_make_error(err, EINVAL, "linux.namespaces: network namespace path `%s` is not absolute", *ns_path);
    }
  }
  if (v) {
    if (!json_object_is_type(v, json_type_string))
      return runm_make_error(err, EINVAL, "annotation %s must be a string", RUNM_NET_ANNOTATION);
    if (runm_net_mode_parse(json_object_get_string(v), mode, err) < 0)
      return runm_error_wrap(err, "annotation %s", RUNM_NET_ANNOTATION);
    named = true;
  }
  if (!named) {
    if (netns == NULL) *mode = RUNM_NET_USER;
    else if (*ns_path) *mode = RUNM_NET_TAP;
    else if (has_hooks(hooks, "prestart") || has_hooks(hooks, "createRuntime") || has_hooks(hooks, "poststop"))
      *mode = RUNM_NET_TAP;
  }
  if (*mode != RUNM_NET_TAP) *ns_path = NULL;
  return 0;
}

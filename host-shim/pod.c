/* What a spec says about its pod (pod.h). */
#include "pod.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_spec.h"

static const char *annotation(json_object *spec, const char *key)
{
  json_object *v = spec_member(spec_member(spec, "annotations"), key);
  return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A decimal annotation; 0 when absent, an error when not a number. */
static int number(json_object *spec, const char *key, int64_t *out, runm_error_t *err)
{
  const char *v = annotation(spec, key);
  char *end;
  *out = 0;
  if (v == NULL || v[0] == '\0') return 0;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || *end || n < 0) return runm_make_error(err, EINVAL, "annotation %s: `%s` is not a count", key, v);
  *out = n;
  return 0;
}

int pod_info_read(json_object *spec, const char *id, struct pod_info *out, runm_error_t *err)
{
  static const char *const groups[] = {POD_GROUP_ANNOTATION, POD_CRI_SANDBOX_ID};
  const char *g = NULL, *type;
  int64_t mem, quota, period;

  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]) && g == NULL; i++) {
    g = annotation(spec, groups[i]);
    if (g && (g[0] == '\0' || strlen(g) >= sizeof(out->group)))
      return runm_make_error(err, EINVAL, "annotation %s: `%s` is empty or longer than %zu bytes", groups[i], g,
                             sizeof(out->group) - 1);
  }
  out->grouped = g != NULL;
  snprintf(out->group, sizeof(out->group), "%s", g ? g : id);
  type = annotation(spec, POD_CRI_CONTAINER_TYPE);
  out->sandbox = type && strcmp(type, "sandbox") == 0;
  out->member = type && strcmp(type, "container") == 0;
  if (number(spec, POD_CRI_SANDBOX_MEMORY, &mem, err) < 0 || number(spec, POD_CRI_SANDBOX_CPU_QUOTA, &quota, err) < 0 ||
      number(spec, POD_CRI_SANDBOX_CPU_PERIOD, &period, err) < 0)
    return -1;
  out->memory_bytes = (uint64_t)mem;
  if (quota > 0 && period > 0) out->cpus = (double)quota / (double)period;
  return 0;
}

int pod_rewrite_namespaces(json_object *spec, int host_pid, int guest_pid, runm_error_t *err)
{
  json_object *ns = spec_member(spec_member(spec, "linux"), "namespaces");
  char prefix[48];
  size_t pl;

  snprintf(prefix, sizeof(prefix), "/proc/%d/ns/", host_pid);
  pl = strlen(prefix);
  if (!json_object_is_type(ns, json_type_array)) return 0;
  for (size_t i = 0; i < json_object_array_length(ns); i++) {
    json_object *n = json_object_array_get_idx(ns, i);
    const char *type = json_object_get_string(spec_member(n, "type"));
    const char *path = json_object_get_string(spec_member(n, "path"));
    char guest[64];
    if (path == NULL || path[0] == '\0' || (type && strcmp(type, "network") == 0)) continue;
    if (host_pid <= 0 || strncmp(path, prefix, pl) != 0 || strchr(path + pl, '/') || path[pl] == '\0')
      return runm_make_error(err, EINVAL,
                             "%s namespace `%s` is not one of the pod sandbox's (/proc/%d/ns/...): a container in a "
                             "runm pod joins only its own pod's namespaces",
                             type ? type : "a", path, host_pid);
    snprintf(guest, sizeof(guest), "/proc/%d/ns/%s", guest_pid, path + pl);
    if (spec_set_string(n, "path", guest, err) < 0) return -1;
  }
  return 0;
}

bool pod_spec_has_hooks(json_object *spec)
{
  json_object *hooks = spec_member(spec, "hooks");
  if (!json_object_is_type(hooks, json_type_object)) return false;
  json_object_object_foreach(hooks, k, v)
  {
    (void)k;
    if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0) return true;
  }
  return false;
}

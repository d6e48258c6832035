/* The guest copy of config.json (guest_spec.h). Built as a series of small
 * steps on a deep copy of the host spec; a new concern (say, networking)
 * adds a step to guest_spec_build. */
#include "guest_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

const char *const spec_hook_kinds[SPEC_N_HOOK_KINDS] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

static void json_putp(json_object **o)
{
  if (*o) json_object_put(*o);
}
#define cleanup_json __attribute__((cleanup(json_putp)))

int spec_json_load(const char *bundle, json_object **out, runm_error_t *err)
{
  char path[PATH_MAX];
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  struct json_tokener *tok;
  json_object *root;
  struct stat st;
  size_t off = 0;

  *out = NULL;
  if (snprintf(path, sizeof(path), "%s/config.json", bundle) >= (int)sizeof(path))
    return runm_make_error(err, ENAMETOOLONG, "bundle path `%s` is too long", bundle);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0) return runm_make_error(err, errno, "open `%s`", path);
  if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "`%s` is not a file", path);
  if (st.st_size > SPEC_JSON_MAX)
    return runm_make_error(err, E2BIG, "`%s` is %lld bytes; runm reads at most %d", path,
                           (long long)st.st_size, SPEC_JSON_MAX);
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) return runm_make_error(err, ENOMEM, "read `%s`", path);
  while (off < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "read `%s`", path);
    if (n == 0) break;
    off += (size_t)n;
  }
  buf[off] = '\0';
  tok = json_tokener_new();
  if (tok == NULL) return runm_make_error(err, ENOMEM, "parse `%s`", path);
  root = json_tokener_parse_ex(tok, buf, (int)off);
  if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
    runm_make_error(err, EINVAL, "cannot parse `%s`: %s", path,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
    if (root) json_object_put(root);
    json_tokener_free(tok);
    return -1;
  }
  json_tokener_free(tok);
  if (!json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    return runm_make_error(err, EINVAL, "`%s` is not a JSON object", path);
  }
  *out = root;
  return 0;
}

json_object *spec_member(json_object *o, const char *key)
{
  json_object *v = NULL;
  if (o == NULL || !json_object_is_type(o, json_type_object)) return NULL;
  return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int spec_set_string(json_object *o, const char *key, const char *value, runm_error_t *err)
{
  json_object *s = json_object_new_string(value);
  if (s == NULL || json_object_object_add(o, key, s) < 0) {
    json_object_put(s);
    return runm_make_error(err, ENOMEM, "guest spec");
  }
  return 0;
}

static int array_add_string(json_object *a, const char *value, runm_error_t *err)
{
  json_object *s = json_object_new_string(value);
  if (s == NULL || json_object_array_add(a, s) < 0) {
    json_object_put(s);
    return runm_make_error(err, ENOMEM, "guest spec");
  }
  return 0;
}

/* "<bundle>/<rel>" for a path the runtime resolves against the bundle (runc
 * chdirs there; in the guest it runs in another directory). */
static int absolute_under(json_object *o, const char *key, const char *bundle, runm_error_t *err)
{
  const char *p = json_object_get_string(spec_member(o, key));
  cleanup_free char *abs = NULL;
  if (p == NULL || p[0] == '/') return 0;
  if (asprintf(&abs, "%s/%s", bundle, p) < 0) return runm_make_error(err, ENOMEM, "guest spec");
  return spec_set_string(o, key, abs, err);
}

static int fix_root(json_object *spec, const char *bundle, runm_error_t *err)
{
  json_object *root = spec_member(spec, "root");
  if (root == NULL) {
    root = json_object_new_object();
    if (root == NULL || json_object_object_add(spec, "root", root) < 0)
      return runm_make_error(err, ENOMEM, "guest spec");
  }
  if (spec_member(root, "path") == NULL && spec_set_string(root, "path", "rootfs", err) < 0) return -1;
  return absolute_under(root, "path", bundle, err);
}

bool spec_has_option(json_object *opts, const char *want)
{
  size_t n = json_object_is_type(opts, json_type_array) ? json_object_array_length(opts) : 0;
  for (size_t i = 0; i < n; i++) {
    const char *o = json_object_get_string(json_object_array_get_idx(opts, i));
    if (o && strcmp(o, want) == 0) return true;
  }
  return false;
}

static int fix_bind_sources(json_object *spec, const char *bundle, runm_error_t *err)
{
  json_object *mounts = spec_member(spec, "mounts");
  size_t n = json_object_is_type(mounts, json_type_array) ? json_object_array_length(mounts) : 0;
  for (size_t i = 0; i < n; i++) {
    json_object *m = json_object_array_get_idx(mounts, i), *opts = spec_member(m, "options");
    const char *type = json_object_get_string(spec_member(m, "type"));
    if (!((type && strcmp(type, "bind") == 0) || spec_has_option(opts, "bind") || spec_has_option(opts, "rbind")))
      continue;
    if (absolute_under(m, "source", bundle, err) < 0) return -1;
  }
  return 0;
}

/* The container joins the VM's network namespace: the VM is the isolation
 * boundary, and a namespace path names a host namespace the guest does not
 * have. */
static int drop_network_namespace(json_object *spec, runm_error_t *err)
{
  json_object *ns = spec_member(spec_member(spec, "linux"), "namespaces");
  size_t n = json_object_is_type(ns, json_type_array) ? json_object_array_length(ns) : 0;
  for (size_t i = n; i-- > 0;) {
    const char *type = json_object_get_string(spec_member(json_object_array_get_idx(ns, i), "type"));
    if (type && strcmp(type, "network") == 0 && json_object_array_del_idx(ns, i, 1) < 0)
      return runm_make_error(err, ENOMEM, "guest spec");
  }
  return 0;
}

static bool is_runm_var(const char *e)
{
  return strncmp(e, "RUNM_HOOK=", 10) == 0 || strncmp(e, "RUNM_HOOK_PATH=", 15) == 0;
}

/* One host-side hook entry of kind `kind` at `index`: path -> the proxy;
 * the proxy's RUNM_HOOK* variables appended to env; args kept. */
static int rewrite_hook(json_object *h, const char *kind, size_t index, runm_error_t *err)
{
  const char *path = json_object_get_string(spec_member(h, "path"));
  json_object *args = spec_member(h, "args"), *timeout = spec_member(h, "timeout");
  cleanup_free char *orig = NULL, *v_hook = NULL, *v_path = NULL;
  /* Held: replacing "env" in h below drops h's reference. */
  cleanup_json json_object *env = json_object_get(spec_member(h, "env"));
  json_object *new_env;

  if (!json_object_is_type(h, json_type_object) ||
      !json_object_is_type(spec_member(h, "path"), json_type_string) || path[0] != '/')
    return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `path` must be an absolute path", kind, index);
  if (args && !json_object_is_type(args, json_type_array))
    return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `args` must be an array", kind, index);
  if (env && !json_object_is_type(env, json_type_array))
    return runm_make_error(err, EINVAL, "hooks.%s[%zu]: `env` must be an array", kind, index);
  orig = strdup(path);
  if (orig == NULL || asprintf(&v_hook, "RUNM_HOOK=%s:%zu", kind, index) < 0 ||
      asprintf(&v_path, "RUNM_HOOK_PATH=%s", orig) < 0)
    return runm_make_error(err, ENOMEM, "guest spec");

  /* runc runs a hook without args as argv = [path]; with the path changed
   * that must be said explicitly, and the host matches it the same way. */
  if (args == NULL || json_object_array_length(args) == 0) {
    args = json_object_new_array();
    if (args == NULL || json_object_object_add(h, "args", args) < 0) {
      json_object_put(args);
      return runm_make_error(err, ENOMEM, "guest spec");
    }
    if (array_add_string(args, orig, err) < 0) return -1;
  }
  new_env = json_object_new_array();
  if (new_env == NULL || json_object_object_add(h, "env", new_env) < 0) {
    json_object_put(new_env);
    return runm_make_error(err, ENOMEM, "guest spec");
  }
  for (size_t i = 0, n = env ? json_object_array_length(env) : 0; i < n; i++) {
    const char *e = json_object_get_string(json_object_array_get_idx(env, i));
    if (e && !is_runm_var(e) && array_add_string(new_env, e, err) < 0) return -1;
  }
  if (array_add_string(new_env, v_hook, err) < 0 || array_add_string(new_env, v_path, err) < 0 ||
      spec_set_string(h, "path", GUEST_PROXY_PATH, err) < 0)
    return -1;
  if (timeout && json_object_is_type(timeout, json_type_int) && json_object_get_int64(timeout) > 0) {
    int64_t t = json_object_get_int64(timeout);
    json_object *nt = json_object_new_int64(t > INT32_MAX ? t : t + GUEST_HOOK_TIMEOUT_GRACE_S);
    if (nt == NULL || json_object_object_add(h, "timeout", nt) < 0) {
      json_object_put(nt);
      return runm_make_error(err, ENOMEM, "guest spec");
    }
  }
  return 0;
}

static int rewrite_hooks(json_object *spec, runm_error_t *err)
{
  json_object *hooks = spec_member(spec, "hooks");
  if (hooks == NULL) return 0;
  if (!json_object_is_type(hooks, json_type_object))
    return runm_make_error(err, EINVAL, "`hooks` must be an object");
  for (size_t k = 0; k < SPEC_N_HOOK_KINDS; k++) {
    json_object *list = spec_member(hooks, spec_hook_kinds[k]);
    size_t n;
    if (list == NULL) continue;
    if (!json_object_is_type(list, json_type_array))
      return runm_make_error(err, EINVAL, "hooks.%s must be an array", spec_hook_kinds[k]);
    n = json_object_array_length(list);
    if (n > SPEC_MAX_HOOKS)
      return runm_make_error(err, E2BIG, "hooks.%s lists %zu hooks; runm takes at most %d",
                             spec_hook_kinds[k], n, SPEC_MAX_HOOKS);
    /* Runs inside the container, where its path resolves: left to runc. */
    if (k == SPEC_HOOK_START_CONTAINER) continue;
    for (size_t i = 0; i < n; i++)
      if (rewrite_hook(json_object_array_get_idx(list, i), spec_hook_kinds[k], i, err) < 0) return -1;
  }
  return 0;
}

int guest_spec_build(json_object *host_spec, const char *bundle, struct guest_spec *out,
                     runm_error_t *err)
{
  cleanup_json json_object *spec = NULL;
  const char *text;

  memset(out, 0, sizeof(*out));
  if (json_object_deep_copy(host_spec, &spec, NULL) < 0 || spec == NULL)
    return runm_make_error(err, ENOMEM, "copy the spec");
  /* One step per concern; each edits the copy in place. */
  if (fix_root(spec, bundle, err) < 0 || fix_bind_sources(spec, bundle, err) < 0 ||
      drop_network_namespace(spec, err) < 0 || rewrite_hooks(spec, err) < 0)
    return runm_error_wrap(err, "guest spec");
  text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (text == NULL || (out->json = strdup(text)) == NULL)
    return runm_make_error(err, ENOMEM, "guest spec");
  out->len = strlen(out->json);
  return 0;
}

void guest_spec_free(struct guest_spec *gs)
{
  free(gs->json);
  gs->json = NULL;
  gs->len = 0;
}

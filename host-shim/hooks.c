/* The shim's runm.v1.Host service (hooks.h): OCI hooks, asked for by an
 * untrusted guest, run on the host only as the task's own spec lists them.
 *
 * What makes a request acceptable, and why each rule is there:
 * - kind, index, path and args equal the spec's entry: the guest can only
 *   pick among commands the host's bundle already names, never name one;
 * - each entry runs at most once per container: a guest cannot replay one;
 * - only while the lifecycle call that runs that kind is in flight;
 * - the env is the spec's, never the guest's; stdin is the state JSON
 *   rebuilt on the host (id checked, bundle = the host bundle, annotations
 *   from the host spec); every size is capped;
 * - the spec's timeout is enforced here, by killing the hook's process
 *   group; a hook whose caller goes away (the VM, the guest call) is
 *   killed too.
 * The shim is threaded (gRPC): hooks start with posix_spawn only. */
#include "hooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_spec.h"
#include "hook_run.h"
#include "hooks_priv.h"
#include "host_vsock.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/host.pb-c.h"
#include "vm.h"

static const char *const phase_names[] = {"no lifecycle call", "create", "start", "delete"};

/* Which kinds each phase admits (indices into spec_hook_kinds). */
static bool phase_admits(enum hook_phase ph, size_t kind)
{
  static const bool table[4][SPEC_N_HOOK_KINDS] = {
      /* prestart createRuntime createContainer startContainer poststart poststop */
      [HOOK_PHASE_NONE] = {false, false, false, false, false, false},
      [HOOK_PHASE_CREATE] = {true, true, true, false, true, true},
      [HOOK_PHASE_START] = {false, false, false, false, true, true},
      [HOOK_PHASE_DELETE] = {false, false, false, false, false, true},
  };
  return table[ph][kind];
}

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

int hooks_new(const struct runm_logger *log, struct hooks **out, runm_error_t *err)
{
  struct hooks *h = calloc(1, sizeof(*h));
  *out = NULL;
  if (h == NULL) return runm_make_error(err, ENOMEM, "hooks");
  pthread_mutex_init(&h->lock, NULL);
  h->log = log;
  *out = h;
  return 0;
}

static void lists_free(struct hooks *h)
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
  if (ret < 0) lists_free(h);
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

void hooks_set_state_dir(struct hooks *h, const char *dir)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  snprintf(h->state_dir, sizeof(h->state_dir), "%s", dir);
  pthread_mutex_unlock(&h->lock);
}

/* A process's start time (clock ticks after boot), 0 when unknown: with
 * the pid it names one process, whatever pids get reused. */
static unsigned long long start_time(pid_t pid)
{
  char path[64], buf[1024], *p;
  cleanup_close int fd = -1;
  ssize_t n;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')'); /* comm may hold anything */
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void record_path(struct hooks *h, pid_t pgid, char *out, size_t cap)
{
  pthread_mutex_lock(&h->lock);
  if (h->state_dir[0]) snprintf(out, cap, "%s/hook-%d", h->state_dir, (int)pgid);
  else out[0] = '\0';
  pthread_mutex_unlock(&h->lock);
}

void hooks_started(void *arg, pid_t pgid)
{
  char path[PATH_MAX + 32], text[32];
  cleanup_close int fd = -1;
  int n;
  record_path(arg, pgid, path, sizeof(path));
  if (path[0] == '\0') return;
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  n = snprintf(text, sizeof(text), "%llu\n", start_time(pgid));
  if (fd >= 0 && write(fd, text, (size_t)n) != n) unlink(path);
}

void hooks_ended(void *arg, pid_t pgid)
{
  char path[PATH_MAX + 32];
  record_path(arg, pgid, path, sizeof(path));
  if (path[0]) unlink(path);
}

int hooks_kill_orphans(const char *vm_dir)
{
  cleanup_dir DIR *d = opendir(vm_dir);
  struct dirent *de;
  int killed = 0;

  while (d && (de = readdir(d))) {
    char text[32] = "";
    cleanup_close int fd = -1;
    unsigned long long want, now;
    char *end;
    long pgid;
    ssize_t n;

    if (strncmp(de->d_name, "hook-", 5) != 0) continue;
    pgid = strtol(de->d_name + 5, &end, 10);
    if (*end != '\0' || pgid <= 1 || pgid > 0x3fffffff) continue;
    fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0) continue;
    text[n] = '\0';
    want = strtoull(text, NULL, 10);
    now = start_time((pid_t)pgid);
    /* The leader still runs: only if it is the one recorded. Gone: its
     * group id cannot be anyone else's while the group has members. */
    if (now != 0 && now != want) continue;
    if (kill(-(pid_t)pgid, SIGKILL) == 0) killed++;
  }
  return killed;
}

void hooks_set_phase(struct hooks *h, enum hook_phase phase)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  h->phase = phase;
  pthread_mutex_unlock(&h->lock);
}

void hooks_set_pid(struct hooks *h, pid_t pid)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  h->pid = pid;
  pthread_mutex_unlock(&h->lock);
}

/* Guest-supplied text in a log line: printable, bounded. */
static void printable(const char *in, char *out, size_t cap)
{
  size_t o = 0;
  for (; in && *in && o + 4 < cap; in++) out[o++] = (*in < 0x20 || *in == 0x7f) ? '?' : *in;
  if (in && *in) {
    out[o++] = '.';
    out[o++] = '.';
    out[o++] = '.';
  }
  out[o] = '\0';
}

/* ---- the state JSON ---------------------------------------------------- */

/* Rebuilds the state the guest's runc wrote: its status (one of the OCI
 * states) is kept, the id must be the task's, the pid is the task's QEMU
 * (the guest's pid would name an unrelated host process: nerdctl's hooks
 * enter /proc/<pid>/ns/net), the bundle is the host's and the annotations
 * the host spec's. */
static int fix_state(struct hooks *h, const ProtobufCBinaryData *in, char **out, runm_error_t *err)
{
  static const char *const statuses[] = {"creating", "created", "running", "stopped"};
  struct json_tokener *tok = json_tokener_new();
  json_object *st, *v;
  const char *s;
  bool status_ok = false;
  int ret = -1;

  if (tok == NULL) return runm_make_error(err, ENOMEM, "state");
  st = json_tokener_parse_ex(tok, (const char *)in->data, (int)in->len);
  if (st == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      !json_object_is_type(st, json_type_object)) {
    runm_make_error(err, EINVAL, "the hook's state is not a JSON object");
    goto out;
  }
  s = json_object_get_string(spec_member(st, "id"));
  if (!json_object_is_type(spec_member(st, "id"), json_type_string) || strcmp(s, h->id) != 0) {
    char shown[80];
    printable(s, shown, sizeof(shown));
    runm_make_error(err, EPERM, "the hook's state names container `%s`, not this task's `%s`",
                    shown, h->id);
    goto out;
  }
  s = json_object_get_string(spec_member(st, "status"));
  for (size_t i = 0; s && i < sizeof(statuses) / sizeof(statuses[0]); i++)
    if (json_object_is_type(spec_member(st, "status"), json_type_string) && strcmp(s, statuses[i]) == 0)
      status_ok = true;
  if (!status_ok) {
    runm_make_error(err, EINVAL, "the hook's state has no valid status");
    goto out;
  }
  v = spec_member(st, "ociVersion");
  ret = hooks_state_json(h, json_object_is_type(v, json_type_string) && json_object_get_string_len(v) < 64
                                ? json_object_get_string(v) : NULL,
                         s, out, err);
out:
  if (st) json_object_put(st);
  json_tokener_free(tok);
  return ret;
}

int hooks_state_json(struct hooks *h, const char *oci_version, const char *status, char **out,
                     runm_error_t *err)
{
  json_object *res = json_object_new_object(), *a = NULL;
  const char *text;
  pid_t pid;
  int ret = -1;

  if (res == NULL) goto oom;
  if (oci_version && json_object_object_add(res, "ociVersion", json_object_new_string(oci_version)) < 0) goto oom;
  if (json_object_object_add(res, "id", json_object_new_string(h->id)) < 0 ||
      json_object_object_add(res, "status", json_object_new_string(status)) < 0)
    goto oom;
  pthread_mutex_lock(&h->lock);
  pid = h->pid;
  pthread_mutex_unlock(&h->lock);
  if (pid > 0 && json_object_object_add(res, "pid", json_object_new_int64(pid)) < 0) goto oom;
  if (json_object_object_add(res, "bundle", json_object_new_string(h->bundle)) < 0) goto oom;
  if (h->annotations ? json_object_deep_copy(h->annotations, &a, NULL) < 0 : (a = json_object_new_object()) == NULL)
    goto oom;
  pthread_mutex_lock(&h->lock);
  /* The namespace mode: nerdctl >= 2.0 runs CNI on this path (before
   * /proc/<pid>/ns/net), which stays valid after QEMU is gone. */
  ret = h->netns ? json_object_object_add(a, "nerdctl/network-namespace", json_object_new_string(h->netns)) : 0;
  pthread_mutex_unlock(&h->lock);
  if (ret < 0) goto oom;
  ret = -1;
  if (json_object_object_length(a) == 0) {
    json_object_put(a);
  } else if (json_object_object_add(res, "annotations", a) < 0) {
    json_object_put(a);
    goto oom;
  }
  a = NULL;
  text = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  *out = text ? strdup(text) : NULL;
  if (*out == NULL) goto oom;
  ret = 0;
  goto out;
oom:
  json_object_put(a);
  runm_make_error(err, ENOMEM, "state");
out:
  if (res) json_object_put(res);
  return ret;
}

void hooks_set_netns(struct hooks *h, const char *path)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  free(h->netns);
  h->netns = path && path[0] ? strdup(path) : NULL;
  pthread_mutex_unlock(&h->lock);
}

/* ---- the RPC ----------------------------------------------------------- */

static bool args_match(const struct hook *hk, const Runm__V1__RunHookRequest *r)
{
  if (r->n_args != hk->n_args) return false;
  for (size_t i = 0; i < r->n_args; i++)
    if (strcmp(r->args[i], hk->args[i]) != 0) return false;
  return true;
}

/* Decides whether the request names a hook the spec lists that may run now,
 * with a valid state (*state: the host's version), and only then claims
 * it: a request refused for any reason leaves the hook to runc. */
static int admit(struct hooks *h, const Runm__V1__RunHookRequest *r, struct hook **out,
                 char **state, runm_error_t *err)
{
  size_t k = SPEC_N_HOOK_KINDS, total = 0;
  struct hook *hk;
  int ret = 0;

  if (strlen(r->kind) > 32 || strlen(r->path) >= PATH_MAX)
    return runm_make_error(err, EINVAL, "hook kind or path too long");
  if (r->n_args > HOOK_MAX_ARGS) return runm_make_error(err, E2BIG, "too many hook args");
  for (size_t i = 0; i < r->n_args; i++) total += strlen(r->args[i]) + 1;
  if (total > HOOK_MAX_ARGS_BYTES) return runm_make_error(err, E2BIG, "hook args too long");
  if (r->state.len > HOOK_MAX_STATE)
    return runm_make_error(err, E2BIG, "hook state is %zu bytes; the limit is %d", r->state.len,
                           HOOK_MAX_STATE);
  for (size_t i = 0; i < SPEC_N_HOOK_KINDS; i++)
    if (strcmp(r->kind, spec_hook_kinds[i]) == 0) k = i;
  if (k == SPEC_N_HOOK_KINDS) return runm_make_error(err, EINVAL, "no such hook kind");
  if (k == SPEC_HOOK_START_CONTAINER)
    return runm_make_error(err, EPERM, "startContainer hooks run inside the container, never on the host");
  pthread_mutex_lock(&h->lock);
  ret = h->loaded ? 0 : runm_make_error(err, EPERM, "no task has been created: no hook may run");
  pthread_mutex_unlock(&h->lock);
  if (ret < 0) return ret;
  if (r->index >= h->n[k])
    return runm_make_error(err, EPERM, "the spec lists %zu %s hook(s); there is no #%u", h->n[k],
                           spec_hook_kinds[k], r->index);
  hk = &h->list[k][r->index];
  if (strcmp(r->path, hk->path) != 0)
    return runm_make_error(err, EPERM, "%s hook #%u is not that command (path differs)",
                           spec_hook_kinds[k], r->index);
  if (!args_match(hk, r))
    return runm_make_error(err, EPERM, "%s hook #%u is not that command (args differ)",
                           spec_hook_kinds[k], r->index);
  if (fix_state(h, &r->state, state, err) < 0) return -1;
  pthread_mutex_lock(&h->lock);
  if (hk->ran)
    ret = runm_make_error(err, EPERM, "%s hook #%u has run already (each runs once)",
                          spec_hook_kinds[k], r->index);
  else if (!phase_admits(h->phase, k))
    ret = runm_make_error(err, EPERM, "%s hooks do not run during %s", spec_hook_kinds[k],
                          phase_names[h->phase]);
  else
    hk->ran = true;
  pthread_mutex_unlock(&h->lock);
  if (ret < 0) {
    free(*state);
    *state = NULL;
    return ret;
  }
  *out = hk;
  return 0;
}

static int rpc_run_hook(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, runm_error_t *err)
{
  struct hooks *h = opaque;
  const Runm__V1__RunHookRequest *r = (const Runm__V1__RunHookRequest *)req;
  Runm__V1__RunHookResponse *out;
  struct hook *hk = NULL;
  cleanup_free char *state = NULL;
  struct hook_result res;
  struct hook_cmd cmd;
  char what[300], shown[200];

  printable(r->path, shown, sizeof(shown));
  snprintf(what, sizeof(what), "%.32s hook #%u (`%s`)", r->kind, r->index, shown);
  for (char *p = what; *p; p++)
    if (*p < 0x20 || *p == 0x7f) *p = '?';
  if (admit(h, r, &hk, &state, err) < 0) {
    cleanup_free char *msg = runm_error_string(*err);
    runm_log(h->log, RUNM_LOG_WARN, "refused %s: %s", what, msg ? msg : "error");
    return -1;
  }
  /* Where runc runs them: createContainer hooks in the rootfs (runc has
   * chdir'ed there to mount it), the others in the bundle directory. */
  cmd = (struct hook_cmd){.path = hk->path, .argv = hk->args, .envp = hk->env,
                          .dir = strcmp(r->kind, "createContainer") == 0 ? h->root : h->bundle,
                          .timeout_s = hk->timeout_s, .started = hooks_started,
                          .ended = hooks_ended, .arg = h};
  if (hook_run(&cmd, state, call, &res, err) < 0) {
    cleanup_free char *msg = runm_error_string(*err);
    runm_log(h->log, RUNM_LOG_WARN, "%s: %s", what, msg ? msg : "error");
    hook_result_free(&res);
    return -1;
  }
  if (res.cancelled) {
    runm_log(h->log, RUNM_LOG_WARN, "%s: the guest gave up on it after %.3f s; killed", what,
             res.seconds);
    hook_result_free(&res);
    return runm_make_error(err, ECANCELED, "cancelled");
  }
  out = malloc(sizeof(*out));
  if (out == NULL) {
    hook_result_free(&res);
    return runm_make_error(err, ENOMEM, "hook response");
  }
  runm__v1__run_hook_response__init(out);
  if (WIFSIGNALED(res.status)) {
    out->signal = WTERMSIG(res.status);
    out->exit_code = 128 + out->signal;
  } else {
    out->exit_code = WEXITSTATUS(res.status);
  }
  out->timed_out = res.timed_out;
  out->seconds = res.seconds;
  out->stdout_truncated = res.out.truncated;
  out->stderr_truncated = res.err.truncated;
  /* The buffers move into the response (freed with it). */
  out->stdout.data = (uint8_t *)res.out.buf;
  out->stdout.len = res.out.len;
  out->stderr.data = (uint8_t *)res.err.buf;
  out->stderr.len = res.err.len;
  res.out.buf = res.err.buf = NULL;
  hook_result_free(&res);
  if (res.timed_out)
    runm_log(h->log, RUNM_LOG_WARN, "%s ran past its timeout of %lld s: killed its process group",
             what, (long long)hk->timeout_s);
  else
    runm_log(h->log, RUNM_LOG_INFO, "ran %s: %s %d in %.3f s", what,
             out->signal ? "killed by signal" : "exit", out->signal ? out->signal : out->exit_code,
             res.seconds);
  *resp = &out->base;
  return 0;
}

/* runm.v1.Host's methods; paths and types from its generated descriptor. */
static const struct runm_rpc_handler handlers[] = {{"RunHook", RUNM_RPC_UNARY, rpc_run_hook, NULL}};

int hooks_listen(void *opaque, const struct runm_vm_plan *plan, runm_error_t *err)
{
  struct hooks *h = opaque;
  struct runm_rpc_server_config cfg = {.n_methods = 1, .opaque = h};

  /* Kept until hooks_free: a fresh VM's channel may replace a pooled one's. */
  if (h->methods == NULL &&
      runm_rpc_methods_build(&runm__v1__host__descriptor, handlers, 1, &h->methods, err) < 0)
    return -1;
  cfg.methods = h->methods;
  hooks_set_state_dir(h, plan->dir);
  h->srv = runm_rpc_server_new(&cfg, err);
  if (h->srv == NULL) return -1;
  if (runm_rpc_server_listen_unix(h->srv, plan->host_sock, err) < 0 ||
      runm_rpc_server_start(h->srv, err) < 0)
    goto fail;
  /* vsock: the guest dials the host CID; the relay hands each connection
   * to the same server (gRPC here cannot serve a vsock fd itself). */
  if (plan->transport == RUNM_TRANSPORT_VSOCK) {
    h->vsock = host_vsock_start(plan->host_vsock_port, plan->vsock_cid, plan->host_sock, h->log, err);
    if (h->vsock == NULL) goto fail;
  }
  return 0;
fail:
  runm_rpc_server_free(h->srv);
  h->srv = NULL;
  return -1;
}

void hooks_unlisten(struct hooks *h)
{
  if (h == NULL) return;
  host_vsock_stop(h->vsock);
  h->vsock = NULL;
  runm_rpc_server_free(h->srv);
  h->srv = NULL;
}

void hooks_free(struct hooks *h)
{
  if (h == NULL) return;
  host_vsock_stop(h->vsock);
  /* Cancels the calls in flight: their hooks are killed and reaped. */
  runm_rpc_server_free(h->srv);
  free(h->methods);
  lists_free(h);
  free(h->netns);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

/* OCI hooks on the host, without a VM: the guest copy of the spec
 * (host-shim/guest_spec.c), the allow-list (hooks_allow.c), the state
 * fix-up (hooks_state.c), the records of running hooks (hooks_orphans.c)
 * and running a hook (hooks.c), each against hostile or odd input. */
#include <signal.h>
#include <sys/stat.h>

#include "tap.h"

#include "../../host-shim/guest_spec.c"
#include "../../host-shim/hook_run.c"
#include "../../host-shim/host_vsock.c"
#include "../../host-shim/hooks.c"
#include "../../host-shim/hooks_allow.c"
#include "../../host-shim/hooks_orphans.c"
#include "../../host-shim/hooks_state.c"
#include "../../host-shim/timing.c"

static const char *const SPEC =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"annotations\":{\"a\":\"host-value\"},"
    "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"data\",\"options\":[\"rbind\"]}],"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},"
    "{\"type\":\"mount\"}]},"
    "\"hooks\":{"
    "\"prestart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat\"],"
    "\"env\":[\"A=1\",\"RUNM_HOOK=poststop:0\"],\"timeout\":3}],"
    "\"createRuntime\":[{\"path\":\"/bin/true\"}],"
    "\"startContainer\":[{\"path\":\"/bin/echo\",\"args\":[\"echo\",\"x\"]}],"
    "\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"exit 0\"]}]}}";

static json_object *parse(const char *s)
{
  return json_tokener_parse(s);
}

static const char *str_at(json_object *o, const char *path)
{
  /* "a.b.0.c": object keys and array indices. */
  char buf[256], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
    if (json_object_is_type(o, json_type_array))
      o = json_object_array_get_idx(o, (size_t)atoi(t));
    else
      o = spec_member(o, t);
  }
  return o ? json_object_get_string(o) : NULL;
}

static size_t len_at(json_object *o, const char *path)
{
  char buf[256], *save = NULL;
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
    o = json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, (size_t)atoi(t))
                                                : spec_member(o, t);
  return o && json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}

static void test_guest_spec(void)
{
  json_object *host = parse(SPEC), *g;
  char *before = strdup(json_object_to_json_string(host));
  struct guest_spec gs;
  runm_error_t err = NULL;
  size_t n;

  is_int(guest_spec_build(host, "/b", &gs, &err), 0, "guest spec builds");
  is_str(json_object_to_json_string(host), before, "the host spec object is left untouched");
  g = parse(gs.json);
  ok(g != NULL, "the guest spec is JSON");
  is_str(str_at(g, "root.path"), "/b/rootfs", "root.path is absolute under the bundle");
  is_str(str_at(g, "mounts.1.source"), "/b/data", "a relative bind source is made absolute");
  is_str(str_at(g, "mounts.0.source"), "proc", "a proc source is not a path");
  is_int(len_at(g, "linux.namespaces"), 2, "the network namespace (with a path) is dropped");
  is_str(str_at(g, "linux.namespaces.1.type"), "mount", "other namespaces are kept in order");
  is_str(str_at(g, "hooks.prestart.0.path"), GUEST_PROXY_PATH, "a hook's path names the proxy");
  is_str(str_at(g, "hooks.prestart.0.args.2"), "cat", "its args are kept");
  n = len_at(g, "hooks.prestart.0.env");
  is_int(n, 3, "its env: the spec's minus RUNM_HOOK*, plus two");
  is_str(str_at(g, "hooks.prestart.0.env.0"), "A=1", "the spec's env comes first");
  is_str(str_at(g, "hooks.prestart.0.env.1"), "RUNM_HOOK=prestart:0", "RUNM_HOOK names kind and index");
  is_str(str_at(g, "hooks.prestart.0.env.2"), "RUNM_HOOK_PATH=/bin/sh", "RUNM_HOOK_PATH is the host path");
  is_str(str_at(g, "hooks.prestart.0.timeout"), "8", "runc's timeout gets the grace");
  is_str(str_at(g, "hooks.createRuntime.0.args.0"), "/bin/true", "no args becomes [path]");
  is_int(len_at(g, "hooks.createRuntime.0.args"), 1, "... and only that");
  is_str(str_at(g, "hooks.poststop.0.path"), GUEST_PROXY_PATH, "poststop is forwarded too");
  is_str(str_at(g, "hooks.startContainer.0.path"), "/bin/echo",
         "startContainer (path in the container) is left to runc");
  ok(spec_member(json_object_array_get_idx(spec_member(spec_member(g, "hooks"), "startContainer"), 0),
                 "env") == NULL,
     "... untouched");
  is_int(len_at(g, "mounts"), 2, "no mount added");
  json_object_put(g);
  guest_spec_free(&gs);
  free(before);
  json_object_put(host);

  host = parse("{\"root\":{\"path\":\"/abs/root\"},\"linux\":{\"namespaces\":[{\"type\":\"network\"}]}}");
  is_int(guest_spec_build(host, "/b", &gs, &err), 0, "a spec without hooks builds");
  g = parse(gs.json);
  is_str(str_at(g, "root.path"), "/abs/root", "an absolute root is kept");
  is_int(len_at(g, "linux.namespaces"), 0, "a network namespace without path is dropped too");
  json_object_put(g);
  guest_spec_free(&gs);
  json_object_put(host);

  host = parse("{\"hooks\":{\"prestart\":[{\"path\":\"relative/hook\"}]}}");
  ok(guest_spec_build(host, "/b", &gs, &err) < 0 && err->status == EINVAL &&
         strstr(err->msg, "hooks.prestart[0]") != NULL,
     "a relative hook path is refused, naming the hook");
  runm_error_release(&err);
  json_object_put(host);

  {
    char big[8192] = "{\"hooks\":{\"poststop\":[";
    for (int i = 0; i <= SPEC_MAX_HOOKS; i++)
      strcat(big, i ? ",{\"path\":\"/x\"}" : "{\"path\":\"/x\"}");
    strcat(big, "]}}");
    host = parse(big);
    ok(guest_spec_build(host, "/b", &gs, &err) < 0 && err->status == E2BIG,
       "more than SPEC_MAX_HOOKS hooks of a kind are refused");
    runm_error_release(&err);
    json_object_put(host);
  }
}

static Runm__V1__RunHookRequest request(const char *kind, unsigned index, const char *path,
                                        char **args, size_t n_args)
{
  Runm__V1__RunHookRequest r = RUNM__V1__RUN_HOOK_REQUEST__INIT;
  r.kind = (char *)kind;
  r.index = index;
  r.path = (char *)path;
  r.args = args;
  r.n_args = n_args;
  r.state.data = (uint8_t *)"{\"id\":\"c1\",\"status\":\"creating\"}";
  r.state.len = strlen((const char *)r.state.data);
  return r;
}

static int admit_err(struct hooks *h, Runm__V1__RunHookRequest *r, const char *want)
{
  runm_error_t err = NULL;
  struct hook *hk = NULL;
  char *state = NULL;
  int ok_ = admit(h, r, &hk, &state, &err) < 0 && err && state == NULL &&
            (want == NULL || strstr(err->msg, want) != NULL);
  if (!ok_) printf("#   error: %s\n", err ? err->msg : "(none)");
  runm_error_release(&err);
  return ok_;
}

static int admit_ok(struct hooks *h, Runm__V1__RunHookRequest *r, struct hook **hk)
{
  runm_error_t err = NULL;
  char *state = NULL;
  int ret = admit(h, r, hk, &state, &err);
  if (ret < 0) printf("#   error: %s\n", err->msg);
  runm_error_release(&err);
  free(state);
  return ret == 0;
}

static void test_allow_list(void)
{
  json_object *host = parse(SPEC);
  struct runm_logger log = {.component = "test", .max_level = RUNM_LOG_ERROR};
  struct hooks *h = NULL;
  runm_error_t err = NULL;
  struct hook *hk = NULL;
  char *pre_args[] = {"sh", "-c", "cat"}, *other[] = {"sh", "-c", "rm -rf /"}, *one[] = {"/bin/true"};
  Runm__V1__RunHookRequest r;

  is_int(hooks_new(&log, &h, &err), 0, "hooks_new");
  r = request("prestart", 0, "/bin/sh", pre_args, 3);
  ok(admit_err(h, &r, "no task has been created"), "nothing runs before the spec is loaded");
  is_int(hooks_load(h, host, "c1", "/b", &err), 0, "hooks_load reads the spec");
  ok(hooks_load(h, host, "c1", "/b", &err) < 0 && err->status == EEXIST, "... once");
  runm_error_release(&err);
  is_int(hooks_count(h), 3, "three host-side hooks listed (startContainer is not one)");
  r = request("prestart", 0, "/bin/sh", pre_args, 3);
  ok(admit_err(h, &r, "do not run during no lifecycle call"), "nothing runs outside a lifecycle call");
  hooks_set_phase(h, HOOK_PHASE_CREATE);
  r = request("prestart", 0, "/bin/sh", other, 3);
  ok(admit_err(h, &r, "args differ"), "same hook, other args: refused");
  r = request("prestart", 0, "/bin/bash", pre_args, 3);
  ok(admit_err(h, &r, "path differs"), "same hook, other path: refused");
  r = request("prestart", 0, "/bin/sh", pre_args, 2);
  ok(admit_err(h, &r, "args differ"), "a prefix of the args: refused");
  r = request("prestart", 1, "/bin/sh", pre_args, 3);
  ok(admit_err(h, &r, "there is no #1"), "an index past the list: refused");
  r = request("poststart", 0, "/bin/sh", pre_args, 3);
  ok(admit_err(h, &r, "lists 0 poststart"), "a kind the spec does not list: refused");
  r = request("preStart", 0, "/bin/sh", pre_args, 3);
  ok(admit_err(h, &r, "no such hook kind"), "an unknown kind: refused");
  r = request("startContainer", 0, "/bin/echo", (char *[]){"echo", "x"}, 2);
  ok(admit_err(h, &r, "never on the host"), "a startContainer hook is never run on the host");
  r = request("prestart", 0, "/bin/sh", pre_args, 3);
  r.state.data = (uint8_t *)"{\"id\":\"c2\",\"status\":\"creating\"}";
  ok(admit_err(h, &r, "names container `c2`"), "the listed hook with another container's state: refused");
  r = request("prestart", 0, "/bin/sh", pre_args, 3);
  ok(admit_ok(h, &r, &hk) && hk == &h->list[0][0], "... and not used up: then admitted");
  ok(admit_err(h, &r, "has run already"), "... once: a replay is refused");
  r = request("createRuntime", 0, "/bin/true", one, 1);
  ok(admit_ok(h, &r, &hk), "a hook without args is matched as [path]");
  runm_error_release(&err);
  hooks_set_phase(h, HOOK_PHASE_DELETE);
  r = request("poststop", 0, "/bin/sh", (char *[]){"sh", "-c", "exit 0"}, 3);
  ok(admit_ok(h, &r, &hk), "poststop runs during delete");
  runm_error_release(&err);
  {
    char *many[HOOK_MAX_ARGS + 1];
    for (size_t i = 0; i <= HOOK_MAX_ARGS; i++) many[i] = "a";
    r = request("prestart", 0, "/bin/sh", many, HOOK_MAX_ARGS + 1);
    ok(admit_err(h, &r, "too many hook args"), "more than HOOK_MAX_ARGS args: refused");
  }

  /* The state fix-up. */
  {
    char *out = NULL;
    ProtobufCBinaryData st;
    json_object *o;
#define STATE(s) (st.data = (uint8_t *)(s), st.len = strlen(s), &st)
    ok(hooks_fix_state(h, STATE("{\"id\":\"other\",\"status\":\"creating\"}"), &out, &err) < 0 &&
           err->status == EPERM && strstr(err->msg, "`other`"),
       "a state naming another container is refused");
    runm_error_release(&err);
    ok(hooks_fix_state(h, STATE("{\"id\":\"c1\",\"status\":\"exploded\"}"), &out, &err) < 0,
       "an unknown status is refused");
    runm_error_release(&err);
    ok(hooks_fix_state(h, STATE("[1,2]"), &out, &err) < 0, "a state that is not an object is refused");
    runm_error_release(&err);
    ok(hooks_fix_state(h, STATE("{\"id\":\"c1\""), &out, &err) < 0, "truncated JSON is refused");
    runm_error_release(&err);
    is_int(hooks_fix_state(h,
                     STATE("{\"ociVersion\":\"1.0.2-dev\",\"id\":\"c1\",\"status\":\"created\","
                           "\"pid\":42,\"bundle\":\"/run/runm/bundles/c1\","
                           "\"annotations\":{\"a\":\"guest-lie\",\"b\":\"x\"},\"extra\":1}"),
                     &out, &err),
           0, "a good state is accepted");
    o = parse(out);
    is_str(str_at(o, "bundle"), "/b", "bundle is the host bundle");
    is_str(str_at(o, "id"), "c1", "id is the task's");
    is_str(str_at(o, "status"), "created", "status kept");
    /* No host pid known yet: none at all, never the guest's. */
    ok(spec_member(o, "pid") == NULL, "the guest's pid does not pass (no host pid set)");
    is_str(str_at(o, "annotations.a"), "host-value", "annotations come from the host spec");
    ok(spec_member(spec_member(o, "annotations"), "b") == NULL && spec_member(o, "extra") == NULL,
       "nothing else of the guest's passes");
    json_object_put(o);
    free(out);
    out = NULL;
    /* The task's QEMU (hooks_set_pid): that is the pid hooks see. */
    hooks_set_pid(h, 4242);
    is_int(hooks_fix_state(h, STATE("{\"id\":\"c1\",\"status\":\"creating\",\"pid\":42}"), &out, &err), 0,
           "a state with the guest's pid is accepted");
    o = parse(out);
    is_str(str_at(o, "pid"), "4242", "pid is the host's (the task's QEMU), not the guest's");
    json_object_put(o);
    free(out);
  }
  hooks_free(h);
  json_object_put(host);
}

/* Dead: no such process, or a zombie its new parent has not reaped yet. */
static int gone(int pid)
{
  char path[64], buf[512], *rp;
  FILE *f;
  size_t n;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  f = fopen(path, "r");
  if (f == NULL) return 1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  rp = strrchr(buf, ')');
  return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static struct hook_cmd mkcmd(const char *dir, char **argv, char **env, int64_t timeout)
{
  struct hook_cmd c = {.path = "/bin/sh", .argv = argv, .envp = env, .dir = dir, .timeout_s = timeout};
  return c;
}

static void test_run(void)
{
  char dir[] = "/tmp/runm-hooktest.XXXXXX";
  runm_error_t err = NULL;
  struct hook_result res;
  struct hook_cmd cmd;
  struct timespec t0, t1;
  const char *state = "{\"id\":\"c1\",\"status\":\"creating\"}";

  if (mkdtemp(dir) == NULL) {
    ok(0, "mkdtemp");
    return;
  }
  cmd = mkcmd(dir, (char *[]){"sh", "-c", "cat; echo oops >&2; pwd >&2; exit 3", NULL}, (char *[]){NULL}, 0);
  is_int(hook_run(&cmd, state, NULL, &res, &err), 0, "a hook runs");
  ok(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3, "its exit status comes back");
  ok(res.out.len == strlen(state) && memcmp(res.out.buf, state, res.out.len) == 0,
     "its stdin is the state");
  {
    char want[256];
    snprintf(want, sizeof(want), "oops\n%s\n", dir);
    ok(res.err.len == strlen(want) && memcmp(res.err.buf, want, res.err.len) == 0,
       "stderr captured; it runs in the given (bundle) dir");
  }
  hook_result_free(&res);

  cmd = mkcmd(dir, (char *[]){"sh", "-c", "echo ${FOO}-${HOME:-nohome}", NULL}, (char *[]){"FOO=spec", NULL}, 0);
  setenv("FOO", "shim", 1);
  hook_run(&cmd, state, NULL, &res, &err);
  ok(res.out.len == 12 && memcmp(res.out.buf, "spec-nohome\n", 12) == 0, "the env is the spec's alone");
  hook_result_free(&res);

  cmd = mkcmd(dir, (char *[]){"sh", "-c", "head -c 3000000 /dev/zero", NULL}, (char *[]){NULL}, 0);
  hook_run(&cmd, state, NULL, &res, &err);
  ok(res.out.len == HOOK_MAX_OUTPUT && res.out.truncated, "output is capped at 1 MiB, marked truncated");
  hook_result_free(&res);

  cmd = mkcmd(dir, (char *[]){"sh", "-c", "exec 0<&-; sleep 0.2; echo done", NULL}, (char *[]){NULL}, 0);
  hook_run(&cmd, state, NULL, &res, &err);
  ok(WIFEXITED(res.status) && res.out.len == 5, "a hook that closes its stdin unread is fine");
  hook_result_free(&res);

  cmd = mkcmd(dir, (char *[]){"sh", "-c", "kill -TERM $$", NULL}, (char *[]){NULL}, 0);
  hook_run(&cmd, state, NULL, &res, &err);
  ok(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGTERM, "a signal death is reported");
  hook_result_free(&res);

  /* A hook that hangs, with a child in the background: both go at the timeout. */
  {
    char pidfile[300], script[400];
    FILE *f;
    int bg = 0;
    double secs;
    snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", dir);
    snprintf(script, sizeof(script), "sleep 100 & echo $! >%s; sleep 100", pidfile);
    cmd = mkcmd(dir, (char *[]){"sh", "-c", script, NULL}, (char *[]){NULL}, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hook_run(&cmd, state, NULL, &res, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(res.timed_out && WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGKILL,
       "a hanging hook is killed at its timeout");
    if (!ok(secs >= 0.9 && secs < 3.0, "... after about 1 s")) printf("#   took %.3f s\n", secs);
    f = fopen(pidfile, "r");
    if (f) {
      if (fscanf(f, "%d", &bg) != 1) bg = 0;
      fclose(f);
    }
    usleep(100000);
    ok(bg > 0 && gone(bg), "... and so is what it started");
    unlink(pidfile);
    hook_result_free(&res);
  }

  cmd = mkcmd(dir, (char *[]){"x", NULL}, (char *[]){NULL}, 0);
  cmd.path = "/nonexistent/hook";
  ok(hook_run(&cmd, state, NULL, &res, &err) < 0 && strstr(err->msg, "/nonexistent/hook"),
     "a missing hook binary is an error naming it");
  runm_error_release(&err);
  hook_result_free(&res);
  rmdir(dir);
}

/* After a crash, `shim delete` kills the groups the records name, and only
 * those whose leader is the process recorded. */
static void test_orphans(void)
{
  char dir[] = "/tmp/runm-orphans.XXXXXX", path[300];
  struct hooks *h = NULL;
  struct runm_logger log = {.component = "test", .max_level = RUNM_LOG_ERROR};
  runm_error_t err = NULL;
  pid_t a, b;
  int st;
  FILE *f;

  if (mkdtemp(dir) == NULL) {
    ok(0, "mkdtemp");
    return;
  }
  hooks_new(&log, &h, &err);
  hooks_set_state_dir(h, dir);
  a = fork();
  if (a == 0) {
    setpgid(0, 0);
    pause();
    _exit(0);
  }
  b = fork();
  if (b == 0) {
    setpgid(0, 0);
    pause();
    _exit(0);
  }
  setpgid(a, a);
  setpgid(b, b);
  hooks_started(h, a);
  snprintf(path, sizeof(path), "%s/hook-%d", dir, (int)a);
  ok(access(path, F_OK) == 0, "a running hook's group is recorded in the VM dir");
  /* b's record names another start time: a recycled pid must be spared. */
  snprintf(path, sizeof(path), "%s/hook-%d", dir, (int)b);
  f = fopen(path, "w");
  if (f) {
    fprintf(f, "%llu\n", start_time(b) + 12345);
    fclose(f);
  }
  is_int(hooks_kill_orphans(dir), 1, "hooks_kill_orphans kills one group");
  ok(waitpid(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "... the recorded one");
  ok(waitpid(b, &st, WNOHANG) == 0, "... and spares a pid whose start time differs");
  kill(b, SIGKILL);
  waitpid(b, &st, 0);
  hooks_ended(h, a);
  unlink(path);
  snprintf(path, sizeof(path), "%s/hook-%d", dir, (int)a);
  ok(access(path, F_OK) < 0, "the record goes when the hook is reaped");
  hooks_free(h);
  rmdir(dir);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  test_guest_spec();
  test_allow_list();
  test_run();
  test_orphans();
  return tap_done();
}

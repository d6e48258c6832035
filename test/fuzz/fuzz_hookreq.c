/* libFuzzer target for the RunHook request the shim's runm.v1.Host server
 * takes from the guest (host-shim/hooks.c): decoded as the server decodes
 * it (runm_rpc_decode), then judged by hooks.c's own admit() against an
 * allow-list loaded from a spec, in each lifecycle phase. It includes
 * hooks.c to reach the static admit() unchanged. Besides not crashing or
 * leaking: an admitted request names exactly a listed hook (path and args)
 * of a kind its phase allows, never startContainer, and the state handed
 * to the hook is the host's (this task's id and bundle, a known status).
 * Each admitted hook is made runnable again so later inputs reach it too.
 *
 * With FUZZ_WRITE_SEEDS=DIR in the environment it writes seed requests
 * (the listed hooks, and near misses) into DIR and exits. */
#include "../../host-shim/hooks.c"

#include "rpc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char spec_json[] =
    "{\"root\":{\"path\":\"rootfs\"},\"annotations\":{\"a\":\"b\"},\"hooks\":{"
    "\"prestart\":[{\"path\":\"/bin/hook\",\"args\":[\"hook\",\"prestart\"],\"env\":[\"A=1\"]}],"
    "\"createRuntime\":[{\"path\":\"/bin/cr\"},{\"path\":\"/bin/hook\",\"args\":[\"hook\"],"
    "\"timeout\":5}],"
    "\"createContainer\":[{\"path\":\"/bin/cc\",\"args\":[\"cc\",\"\"]}],"
    "\"startContainer\":[{\"path\":\"/bin/true\"}],"
    "\"poststart\":[{\"path\":\"/bin/ps\",\"args\":[\"ps\",\"x\",\"y\"]}],"
    "\"poststop\":[{\"path\":\"/bin/stop\"}]}}";

static struct hooks *fz;

static void setup(void)
{
  runm_error_t err = NULL;
  json_object *spec = json_tokener_parse(spec_json);
  if (spec == NULL || hooks_new(NULL, &fz, &err) < 0 ||
      hooks_load(fz, spec, "task-1", "/run/bundle", &err) < 0) {
    fprintf(stderr, "fuzz_hookreq setup: %s\n", err && err->msg ? err->msg : "spec");
    abort();
  }
  json_object_put(spec);
}

static void check_state(const char *state)
{
  json_object *o = json_tokener_parse(state);
  const char *id = json_object_get_string(spec_member(o, "id"));
  const char *b = json_object_get_string(spec_member(o, "bundle"));
  const char *st = json_object_get_string(spec_member(o, "status"));
  if (o == NULL || id == NULL || strcmp(id, "task-1") != 0 || b == NULL ||
      strcmp(b, "/run/bundle") != 0 || st == NULL)
    __builtin_trap();
  if (strcmp(st, "creating") && strcmp(st, "created") && strcmp(st, "running") &&
      strcmp(st, "stopped"))
    __builtin_trap();
  json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const Runm__V1__RunHookRequest *r;
  ProtobufCMessage *m = NULL;
  runm_error_t err = NULL;
  struct hook *hk = NULL;
  char *state = NULL;
  enum hook_phase ph;

  if (size < 1) return 0;
  ph = (enum hook_phase)(data[0] % 4);
  hooks_set_phase(fz, ph);
  if (runm_rpc_decode(&runm__v1__run_hook_request__descriptor, data + 1, size - 1, &m, &err) < 0) {
    runm_error_release(&err);
    return 0;
  }
  r = (const Runm__V1__RunHookRequest *)m;
  if (admit(fz, r, &hk, &state, &err) == 0) {
    size_t k = SPEC_N_HOOK_KINDS;
    for (size_t i = 0; i < SPEC_N_HOOK_KINDS; i++)
      if (strcmp(r->kind, spec_hook_kinds[i]) == 0) k = i;
    if (k == SPEC_N_HOOK_KINDS || k == SPEC_HOOK_START_CONTAINER || !phase_admits(ph, k))
      __builtin_trap();
    if (hk != &fz->list[k][r->index] || strcmp(hk->path, r->path) != 0 || !args_match(hk, r))
      __builtin_trap();
    if (state == NULL) __builtin_trap();
    check_state(state);
    free(state);
    pthread_mutex_lock(&fz->lock);
    hk->ran = false;
    pthread_mutex_unlock(&fz->lock);
  } else {
    if (err == NULL || err->msg == NULL || state != NULL) __builtin_trap();
    runm_error_release(&err);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  return 0;
}

/* ---- seeds ---- */

static void seed(const char *dir, int *no, uint8_t phase, const char *kind, uint32_t index,
                 const char *path, char **args, size_t n_args, const char *state)
{
  Runm__V1__RunHookRequest rq = RUNM__V1__RUN_HOOK_REQUEST__INIT;
  char p[4096];
  size_t n;
  uint8_t *buf;
  FILE *f;

  rq.kind = (char *)kind;
  rq.index = index;
  rq.path = (char *)path;
  rq.args = args;
  rq.n_args = n_args;
  rq.state.data = (uint8_t *)state;
  rq.state.len = strlen(state);
  n = protobuf_c_message_get_packed_size(&rq.base);
  buf = malloc(n + 1);
  if (buf == NULL) abort();
  buf[0] = phase;
  protobuf_c_message_pack(&rq.base, buf + 1);
  snprintf(p, sizeof(p), "%s/seed-%03d", dir, (*no)++);
  f = fopen(p, "we");
  if (f == NULL || fwrite(buf, 1, n + 1, f) != n + 1 || fclose(f) != 0) abort();
  free(buf);
}

static void write_seeds(const char *dir)
{
  char *pre[] = {"hook", "prestart"}, *cr0[] = {"/bin/cr"}, *cr1[] = {"hook"};
  char *cc[] = {"cc", ""}, *ps[] = {"ps", "x", "y"}, *stop[] = {"/bin/stop"};
  const char *creating = "{\"ociVersion\":\"1.0.2\",\"id\":\"task-1\",\"status\":\"creating\","
                         "\"pid\":42,\"bundle\":\"/guest/b\",\"annotations\":{\"x\":\"y\"}}";
  const char *stopped = "{\"id\":\"task-1\",\"status\":\"stopped\"}";
  int no = 0;

  seed(dir, &no, HOOK_PHASE_CREATE, "prestart", 0, "/bin/hook", pre, 2, creating);
  seed(dir, &no, HOOK_PHASE_CREATE, "createRuntime", 0, "/bin/cr", cr0, 1, creating);
  seed(dir, &no, HOOK_PHASE_CREATE, "createRuntime", 1, "/bin/hook", cr1, 1, creating);
  seed(dir, &no, HOOK_PHASE_CREATE, "createContainer", 0, "/bin/cc", cc, 2, creating);
  seed(dir, &no, HOOK_PHASE_START, "poststart", 0, "/bin/ps", ps, 3, creating);
  seed(dir, &no, HOOK_PHASE_DELETE, "poststop", 0, "/bin/stop", stop, 1, stopped);
  seed(dir, &no, HOOK_PHASE_CREATE, "startContainer", 0, "/bin/true", stop, 1, creating);
  seed(dir, &no, HOOK_PHASE_NONE, "poststop", 0, "/bin/stop", stop, 1, "{\"id\":\"other\"}");
  seed(dir, &no, HOOK_PHASE_CREATE, "prestart", 3, "/bin/sh", pre, 2, "not json");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  const char *dir = getenv("FUZZ_WRITE_SEEDS");
  if (dir && *dir) {
    write_seeds(dir);
    exit(0);
  }
  setup();
  return 0;
}

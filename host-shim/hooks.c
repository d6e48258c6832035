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
 * The shim is threaded (gRPC): hooks start with posix_spawn only.
 * Here: the phase rules, the RPC and the service's life; the allow-list's
 * loading is in hooks_allow.c, the state JSON in hooks_state.c, the records
 * of running hooks in hooks_orphans.c. */
#include "hooks.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
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
#include "timing.h"
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

void hooks_set_phase(struct hooks *h, enum hook_phase phase)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  h->phase = phase;
  pthread_mutex_unlock(&h->lock);
}

/* Guest-supplied text in a log line: printable, bounded. */
void hooks_printable(const char *in, char *out, size_t cap)
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
  if (hooks_fix_state(h, &r->state, state, err) < 0) return -1;
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
  char what[300], shown[200], tid[sizeof(h->timing_id)], mark[64];
  int ret;

  hooks_printable(r->path, shown, sizeof(shown));
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
  /* r->kind is one of the spec's hook kinds (admit checked it). */
  pthread_mutex_lock(&h->lock);
  snprintf(tid, sizeof(tid), "%s", h->timing_id);
  pthread_mutex_unlock(&h->lock);
  snprintf(mark, sizeof(mark), "hook.%.32s.begin", r->kind);
  if (tid[0]) shim_timing_mark(tid, mark, 0);
  ret = hook_run(&cmd, state, call, &res, err);
  snprintf(mark, sizeof(mark), "hook.%.32s.end", r->kind);
  if (tid[0]) shim_timing_mark(tid, mark, 0);
  if (ret < 0) {
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
  hooks_lists_free(h);
  free(h->netns);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

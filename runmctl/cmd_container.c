/* runmctl container commands: every container RPC of the guest service,
 * from a shell. `run` and `exec` attach stdio (and a tty); the rest are one
 * call each, printing text or --json. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "cleanup.h"
#include "json.h"
#include "rpc.h"
#include "runm/v1/guest.pb-c.h"
#include "runmctl.h"

struct copts {
  const char *vm, *socket, *exec_id, *id, *bundle, *cwd, *user, *resources;
  const char *env[64];
  size_t n_env;
  bool tty, tty_set, interactive, detach, all, force;
  long timeout_s, count, pids_limit;
  long long memory;
  unsigned long since;
  int signal;
};

struct command {
  const char *name;
  const char *usage;
  int (*run)(struct runmctl *ctl, struct copts *o, int argc, char **argv);
};

static const char common_help[] =
    "  --vm ID            the VM (default $RUNM_VM)\n"
    "  --socket PATH      or an RPC socket directly\n"
    "  --json             machine-readable output\n";

static void free_msg(ProtobufCMessage *m)
{
  if (m) protobuf_c_message_free_unpacked(m, NULL);
}

static int fail(const char *cmd, runm_error_t err)
{
  cleanup_free char *msg = runm_error_string(err);
  fprintf(stderr, "runmctl %s: %s\n", cmd, msg ? msg : "error");
  return runmctl_exit_code(err);
}

static struct runm_rpc_client *connect_opts(struct runmctl *ctl, const struct copts *o,
                                            runm_error_t *err)
{
  struct rpc_target t;
  const char *vm = o->vm ? o->vm : getenv("RUNM_VM");
  if (target_resolve(ctl, o->socket ? NULL : vm, o->socket, &t, err) < 0) return NULL;
  return target_connect(&t, err);
}

static int call(struct runm_rpc_client *cl, const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp, long timeout_s,
                runm_error_t *err)
{
  char full[128];
  snprintf(full, sizeof(full), "/runm.v1.Guest/%s", method);
  return runm_rpc_client_unary(cl, full, req, d, resp, timeout_s * 1000LL, false, err);
}

static char *exec_id_or_empty(const struct copts *o)
{
  return (char *)(o->exec_id ? o->exec_id : "");
}

/* Delete after an attached run; errors here are reported but do not hide
 * the container's own exit status. */
static void delete_quiet(struct runm_rpc_client *cl, const char *id, const char *exec_id)
{
  Runm__V1__DeleteRequest req = RUNM__V1__DELETE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  cleanup_error runm_error_t err = NULL;
  req.id = (char *)id;
  req.exec_id = (char *)(exec_id ? exec_id : "");
  req.force = true;
  if (runm_rpc_client_unary(cl, "/runm.v1.Guest/Delete", &req.base,
                            &runm__v1__delete_response__descriptor, &resp, 30000, false, &err) < 0)
    fail("delete", err);
  free_msg(resp);
}

static void random_cid(char *out, size_t len)
{
  unsigned char b[4] = {0};
  cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) memset(b, 0x5a, sizeof(b));
  snprintf(out, len, "c-%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

static int exit_code_of(int status)
{
  return status < 0 ? RUNMCTL_FAIL : status & 0xff;
}

static bool config_terminal(const char *bundle)
{
  char path[PATH_MAX];
  json_object *root, *proc, *term;
  bool r = false;
  snprintf(path, sizeof(path), "%s/config.json", bundle);
  root = json_object_from_file(path);
  if (root && json_object_object_get_ex(root, "process", &proc) &&
      json_object_object_get_ex(proc, "terminal", &term))
    r = json_object_get_boolean(term);
  if (root) json_object_put(root);
  return r;
}

static int do_create(struct runm_rpc_client *cl, const char *id, const char *bundle,
                     const struct copts *o, bool tty, uint32_t *pid, runm_error_t *err)
{
  Runm__V1__CreateRequest req = RUNM__V1__CREATE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  req.id = (char *)id;
  req.bundle = (char *)bundle;
  req.terminal = tty;
  req.stdin = o->interactive;
  if (call(cl, "Create", &req.base, &runm__v1__create_response__descriptor, &resp, o->timeout_s,
           err) < 0)
    return -1;
  *pid = ((Runm__V1__CreateResponse *)resp)->pid;
  free_msg(resp);
  return 0;
}

static int do_start(struct runm_rpc_client *cl, const char *id, const char *exec_id,
                    long timeout_s, uint32_t *pid, runm_error_t *err)
{
  Runm__V1__StartRequest req = RUNM__V1__START_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  req.id = (char *)id;
  req.exec_id = (char *)(exec_id ? exec_id : "");
  if (call(cl, "Start", &req.base, &runm__v1__start_response__descriptor, &resp, timeout_s, err) <
      0)
    return -1;
  *pid = ((Runm__V1__StartResponse *)resp)->pid;
  free_msg(resp);
  return 0;
}

static int resolve_bundle(const char *bundle, char *out, size_t len, runm_error_t *err)
{
  char real[PATH_MAX], cfg[PATH_MAX + 16];
  if (bundle == NULL) return runm_make_error(err, EINVAL, "--bundle is required");
  if (realpath(bundle, real) == NULL) return runm_make_error(err, errno, "bundle `%s`", bundle);
  snprintf(cfg, sizeof(cfg), "%s/config.json", real);
  if (access(cfg, R_OK) < 0) return runm_make_error(err, errno, "bundle `%s` has no config.json", real);
  snprintf(out, len, "%s", real);
  return 0;
}

static int cmd_run_or_create(struct runmctl *ctl, struct copts *o, bool run)
{
  const char *name = run ? "run" : "create";
  cleanup_error runm_error_t err = NULL;
  char bundle[PATH_MAX], idbuf[80];
  const char *id = o->id;
  struct runm_rpc_client *cl;
  struct runm_rpc_stream *st = NULL;
  uint32_t pid = 0;
  int status = -1;
  bool tty;

  if (resolve_bundle(o->bundle, bundle, sizeof(bundle), &err) < 0) return fail(name, err);
  tty = o->tty_set ? o->tty : config_terminal(bundle);
  if (id == NULL) {
    random_cid(idbuf, sizeof(idbuf));
    id = idbuf;
  }
  cl = connect_opts(ctl, o, &err);
  if (cl == NULL) return fail(name, err);
  if (do_create(cl, id, bundle, o, tty, &pid, &err) < 0) {
    runm_rpc_client_free(cl);
    return fail(name, err);
  }
  if (!run) {
    printf("%s %u\n", id, pid);
    runm_rpc_client_free(cl);
    return RUNMCTL_OK;
  }
  if (tty) attach_resize(cl, id, NULL, STDIN_FILENO, &err);
  runm_error_release(&err);
  if (!o->detach) {
    st = attach_open(cl, id, NULL, &err);
    if (st == NULL) goto fail_delete;
  }
  if (do_start(cl, id, NULL, o->timeout_s, &pid, &err) < 0) goto fail_delete;
  if (o->detach) {
    if (ctl->json) {
      struct runm_json j;
      runm_json_init(&j, stdout);
      runm_json_begin_object(&j, NULL);
      runm_json_string(&j, "id", id);
      runm_json_int(&j, "pid", pid);
      runm_json_end_object(&j);
    } else {
      printf("%s\n", id);
    }
    runm_rpc_client_free(cl);
    return RUNMCTL_OK;
  }
  if (attach_relay(cl, st, id, NULL, tty, o->interactive, &status, &err) < 0) {
    runm_rpc_stream_free(st);
    delete_quiet(cl, id, NULL);
    runm_rpc_client_free(cl);
    return fail(name, err);
  }
  runm_rpc_stream_free(st);
  delete_quiet(cl, id, NULL);
  runm_rpc_client_free(cl);
  return exit_code_of(status);

fail_delete:
  {
    int code = fail(name, err);
    if (st) runm_rpc_stream_free(st);
    delete_quiet(cl, id, NULL);
    runm_rpc_client_free(cl);
    return code;
  }
}

static int c_run(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  return cmd_run_or_create(ctl, o, true);
}

static int c_create(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  return cmd_run_or_create(ctl, o, false);
}

static int need_id(const char *cmd, int argc, char **argv, const char **id)
{
  if (optind >= argc) {
    fprintf(stderr, "runmctl %s: missing container id\n", cmd);
    return -1;
  }
  *id = argv[optind++];
  return 0;
}

static int c_start(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  const char *id;
  uint32_t pid;
  struct runm_rpc_client *cl;
  if (need_id("start", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  cl = connect_opts(ctl, o, &err);
  if (cl == NULL) return fail("start", err);
  int r = do_start(cl, id, o->exec_id, o->timeout_s, &pid, &err);
  runm_rpc_client_free(cl);
  if (r < 0) return fail("start", err);
  printf("%u\n", pid);
  return RUNMCTL_OK;
}

/* The exec's process: the container's own process from its bundle, with
 * args, tty, cwd, user and extra env replaced, as runc exec expects. */
static char *build_process_json(const char *bundle, const struct copts *o, bool tty, int argc,
                                char **argv, runm_error_t *err)
{
  char path[PATH_MAX];
  json_object *root = NULL, *proc = NULL, *args, *env;
  char *out;

  snprintf(path, sizeof(path), "%s/config.json", bundle);
  root = json_object_from_file(path);
  if (root == NULL || !json_object_object_get_ex(root, "process", &proc)) {
    if (root) json_object_put(root);
    runm_make_error(err, EINVAL, "cannot read the process of `%s`", path);
    return NULL;
  }
  proc = json_object_get(proc);
  json_object_put(root);
  args = json_object_new_array();
  for (int i = 0; i < argc; i++) json_object_array_add(args, json_object_new_string(argv[i]));
  json_object_object_add(proc, "args", args);
  json_object_object_add(proc, "terminal", json_object_new_boolean(tty));
  json_object_object_del(proc, "consoleSize");
  if (o->cwd) json_object_object_add(proc, "cwd", json_object_new_string(o->cwd));
  if (o->user) {
    unsigned uid = 0, gid = 0;
    json_object *u = json_object_new_object();
    int n = sscanf(o->user, "%u:%u", &uid, &gid);
    if (n < 1) {
      json_object_put(u);
      json_object_put(proc);
      runm_make_error(err, EINVAL, "--user `%s` is not UID[:GID]", o->user);
      return NULL;
    }
    json_object_object_add(u, "uid", json_object_new_int64(uid));
    json_object_object_add(u, "gid", json_object_new_int64(n == 2 ? gid : uid));
    json_object_object_add(proc, "user", u);
  }
  if (o->n_env) {
    if (!json_object_object_get_ex(proc, "env", &env)) {
      env = json_object_new_array();
      json_object_object_add(proc, "env", env);
    }
    for (size_t i = 0; i < o->n_env; i++)
      json_object_array_add(env, json_object_new_string(o->env[i]));
  }
  out = strdup(json_object_to_json_string_ext(proc, JSON_C_TO_STRING_PLAIN));
  json_object_put(proc);
  if (out == NULL) runm_make_error(err, ENOMEM, "process JSON");
  return out;
}

static int c_exec(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  cleanup_error runm_error_t err = NULL;
  const char *id;
  char eid[64];
  const char *exec_id = o->exec_id;
  struct runm_rpc_client *cl;
  struct runm_rpc_stream *st = NULL;
  Runm__V1__StateRequest sreq = RUNM__V1__STATE_REQUEST__INIT;
  Runm__V1__ExecRequest ereq = RUNM__V1__EXEC_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  cleanup_free char *proc = NULL;
  uint32_t pid;
  int status = -1;
  bool tty = o->tty;

  if (need_id("exec", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  if (optind < argc && strcmp(argv[optind], "--") == 0) optind++;
  if (optind >= argc) {
    fprintf(stderr, "runmctl exec: missing command\n");
    return RUNMCTL_USAGE;
  }
  if (exec_id == NULL) {
    snprintf(eid, sizeof(eid), "exec-%d-%ld", (int)getpid(), (long)time(NULL));
    exec_id = eid;
  }
  cl = connect_opts(ctl, o, &err);
  if (cl == NULL) return fail("exec", err);
  sreq.id = (char *)id;
  if (call(cl, "State", &sreq.base, &runm__v1__state_response__descriptor, &resp, o->timeout_s,
           &err) < 0)
    goto out_fail;
  proc = build_process_json(((Runm__V1__StateResponse *)resp)->bundle, o, tty, argc - optind,
                            argv + optind, &err);
  free_msg(resp);
  resp = NULL;
  if (proc == NULL) goto out_fail;
  ereq.id = (char *)id;
  ereq.exec_id = (char *)exec_id;
  ereq.process_json.data = (uint8_t *)proc;
  ereq.process_json.len = strlen(proc);
  ereq.terminal = tty;
  ereq.stdin = o->interactive;
  if (call(cl, "Exec", &ereq.base, &runm__v1__empty__descriptor, &resp, o->timeout_s, &err) < 0)
    goto out_fail;
  free_msg(resp);
  if (tty) attach_resize(cl, id, exec_id, STDIN_FILENO, &err);
  runm_error_release(&err);
  if (!o->detach) {
    st = attach_open(cl, id, exec_id, &err);
    if (st == NULL) goto out_fail_delete;
  }
  if (do_start(cl, id, exec_id, o->timeout_s, &pid, &err) < 0) goto out_fail_delete;
  if (o->detach) {
    printf("%s %u\n", exec_id, pid);
    runm_rpc_client_free(cl);
    return RUNMCTL_OK;
  }
  if (attach_relay(cl, st, id, exec_id, tty, o->interactive, &status, &err) < 0)
    goto out_fail_delete;
  runm_rpc_stream_free(st);
  delete_quiet(cl, id, exec_id);
  runm_rpc_client_free(cl);
  return exit_code_of(status);

out_fail_delete : {
  int code = fail("exec", err);
  if (st) runm_rpc_stream_free(st);
  delete_quiet(cl, id, exec_id);
  runm_rpc_client_free(cl);
  return code;
}
out_fail:
  runm_rpc_client_free(cl);
  return fail("exec", err);
}

static int simple(struct runmctl *ctl, struct copts *o, const char *cmd, const char *method,
                  const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
                  ProtobufCMessage **resp)
{
  cleanup_error runm_error_t err = NULL;
  struct runm_rpc_client *cl = connect_opts(ctl, o, &err);
  int r;
  if (cl == NULL) return fail(cmd, err);
  r = call(cl, method, req, rd, resp, o->timeout_s, &err);
  runm_rpc_client_free(cl);
  if (r < 0) return fail(cmd, err);
  return RUNMCTL_OK;
}

static int parse_signal(const char *s)
{
  static const struct {
    const char *n;
    int v;
  } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
               {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
               {"STOP", SIGSTOP}, {"WINCH", SIGWINCH}};
  char *end;
  long v = strtol(s, &end, 10);
  if (*s && *end == '\0') return v > 0 && v < 65 ? (int)v : -1;
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(s, names[i].n) == 0) return names[i].v;
  return -1;
}

static int c_kill(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__KillRequest req = RUNM__V1__KILL_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  const char *id;
  int sig = SIGTERM, r;
  if (need_id("kill", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  if (optind < argc) {
    sig = parse_signal(argv[optind]);
    if (sig < 0) {
      fprintf(stderr, "runmctl kill: unknown signal `%s`\n", argv[optind]);
      return RUNMCTL_USAGE;
    }
  }
  req.id = (char *)id;
  req.exec_id = exec_id_or_empty(o);
  req.signal = (uint32_t)sig;
  req.all = o->all;
  r = simple(ctl, o, "kill", "Kill", &req.base, &runm__v1__empty__descriptor, &resp);
  free_msg(resp);
  return r;
}

static int c_pause_resume(struct runmctl *ctl, struct copts *o, int argc, char **argv,
                          const char *cmd, const char *method)
{
  Runm__V1__ContainerRequest req = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  const char *id;
  int r;
  if (need_id(cmd, argc, argv, &id) < 0) return RUNMCTL_USAGE;
  req.id = (char *)id;
  r = simple(ctl, o, cmd, method, &req.base, &runm__v1__empty__descriptor, &resp);
  free_msg(resp);
  return r;
}

static int c_pause(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  return c_pause_resume(ctl, o, argc, argv, "pause", "Pause");
}

static int c_resume(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  return c_pause_resume(ctl, o, argc, argv, "resume", "Resume");
}

/* A flat response as a JSON object, every scalar field by its proto name,
 * read through the message's descriptor. */
static void print_json_fields(const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  struct runm_json j;
  runm_json_init(&j, stdout);
  runm_json_begin_object(&j, NULL);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const char *at = (const char *)m + f->offset;
    switch (f->type) {
    case PROTOBUF_C_TYPE_UINT32: runm_json_int(&j, f->name, *(const uint32_t *)at); break;
    case PROTOBUF_C_TYPE_INT64: runm_json_int(&j, f->name, *(const int64_t *)at); break;
    case PROTOBUF_C_TYPE_UINT64: runm_json_int(&j, f->name, (int64_t)*(const uint64_t *)at); break;
    default: break; /* only the scalar responses above use this */
    }
  }
  runm_json_end_object(&j);
}

/* The shape of every query command: one call, its answer printed (as JSON
 * with --json: by `json`, or every scalar field when that is NULL; else as
 * text), freed. */
static int query(struct runmctl *ctl, struct copts *o, const char *cmd, const char *method,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
                 void (*json)(const ProtobufCMessage *), void (*text)(const ProtobufCMessage *))
{
  ProtobufCMessage *resp = NULL;
  int r = simple(ctl, o, cmd, method, req, rd, &resp);
  if (r != RUNMCTL_OK) return r;
  if (ctl->json)
    (json ? json : print_json_fields)(resp);
  else
    text(resp);
  free_msg(resp);
  return RUNMCTL_OK;
}

static void state_json(const ProtobufCMessage *m)
{
  const Runm__V1__StateResponse *s = (const Runm__V1__StateResponse *)m;
  struct runm_json j;
  runm_json_init(&j, stdout);
  runm_json_begin_object(&j, NULL);
  runm_json_string(&j, "id", s->id);
  runm_json_string(&j, "exec_id", s->exec_id);
  runm_json_int(&j, "pid", s->pid);
  runm_json_string(&j, "status", s->status);
  runm_json_int(&j, "exit_status", s->exit_status);
  runm_json_int(&j, "exited_at_ns", s->exited_at_ns);
  runm_json_string(&j, "bundle", s->bundle);
  runm_json_bool(&j, "terminal", s->terminal);
  runm_json_end_object(&j);
}

static void state_text(const ProtobufCMessage *m)
{
  const Runm__V1__StateResponse *s = (const Runm__V1__StateResponse *)m;
  printf("id=%s exec_id=%s pid=%u status=%s exit_status=%u bundle=%s\n", s->id, s->exec_id, s->pid,
         s->status, s->exit_status, s->bundle);
}

static int c_state(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__StateRequest req = RUNM__V1__STATE_REQUEST__INIT;
  const char *id;
  if (need_id("state", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  req.id = (char *)id;
  req.exec_id = exec_id_or_empty(o);
  return query(ctl, o, "state", "State", &req.base, &runm__v1__state_response__descriptor, state_json,
               state_text);
}

static void ps_json(const ProtobufCMessage *m)
{
  const Runm__V1__PidsResponse *p = (const Runm__V1__PidsResponse *)m;
  struct runm_json j;
  runm_json_init(&j, stdout);
  runm_json_begin_array(&j, NULL);
  for (size_t i = 0; i < p->n_processes; i++) {
    runm_json_begin_object(&j, NULL);
    runm_json_int(&j, "pid", p->processes[i]->pid);
    runm_json_string(&j, "exec_id", p->processes[i]->exec_id);
    runm_json_end_object(&j);
  }
  runm_json_end_array(&j);
}

static void ps_text(const ProtobufCMessage *m)
{
  const Runm__V1__PidsResponse *p = (const Runm__V1__PidsResponse *)m;
  printf("%-8s %s\n", "PID", "EXEC");
  for (size_t i = 0; i < p->n_processes; i++)
    printf("%-8u %s\n", p->processes[i]->pid, p->processes[i]->exec_id);
}

static int c_ps(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__PidsRequest req = RUNM__V1__PIDS_REQUEST__INIT;
  const char *id;
  if (need_id("ps", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  req.id = (char *)id;
  return query(ctl, o, "ps", "Pids", &req.base, &runm__v1__pids_response__descriptor, ps_json, ps_text);
}

static int c_update(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__UpdateRequest req = RUNM__V1__UPDATE_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  cleanup_free char *json = NULL;
  const char *id;
  int r;
  if (need_id("update", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  if (o->resources) {
    json_object *res = strcmp(o->resources, "-") == 0 ? json_object_from_fd(STDIN_FILENO)
                                                       : json_object_from_file(o->resources);
    if (res == NULL) {
      fprintf(stderr, "runmctl update: `%s` is not JSON\n", o->resources);
      return RUNMCTL_USAGE;
    }
    json = strdup(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
    json_object_put(res);
  } else if (o->pids_limit || o->memory) {
    json_object *res = json_object_new_object();
    if (o->pids_limit) {
      json_object *p = json_object_new_object();
      json_object_object_add(p, "limit", json_object_new_int64(o->pids_limit));
      json_object_object_add(res, "pids", p);
    }
    if (o->memory) {
      json_object *m = json_object_new_object();
      json_object_object_add(m, "limit", json_object_new_int64(o->memory));
      json_object_object_add(res, "memory", m);
    }
    json = strdup(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
    json_object_put(res);
  } else {
    fprintf(stderr, "runmctl update: give --resources FILE|- or --pids-limit/--memory\n");
    return RUNMCTL_USAGE;
  }
  req.id = (char *)id;
  req.resources_json.data = (uint8_t *)json;
  req.resources_json.len = json ? strlen(json) : 0;
  r = simple(ctl, o, "update", "Update", &req.base, &runm__v1__empty__descriptor, &resp);
  free_msg(resp);
  return r;
}

/* Every field, by its proto name, from the descriptor (all uint64). */
static void stats_text(const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++)
    printf("%-24s %llu\n", d->fields[i].name,
           (unsigned long long)*(const uint64_t *)((const char *)m + d->fields[i].offset));
}

static int c_stats(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__ContainerRequest req = RUNM__V1__CONTAINER_REQUEST__INIT;
  const char *id;
  if (need_id("stats", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  req.id = (char *)id;
  return query(ctl, o, "stats", "Stats", &req.base, &runm__v1__stats_response__descriptor, NULL,
               stats_text);
}

static int c_wait(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__WaitRequest req = RUNM__V1__WAIT_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  cleanup_error runm_error_t err = NULL;
  struct runm_rpc_client *cl;
  const char *id;
  int r;
  if (need_id("wait", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  cl = connect_opts(ctl, o, &err);
  if (cl == NULL) return fail("wait", err);
  req.id = (char *)id;
  req.exec_id = exec_id_or_empty(o);
  /* Waiting has no deadline unless one is asked for. */
  r = runm_rpc_client_unary(cl, "/runm.v1.Guest/Wait", &req.base,
                            &runm__v1__wait_response__descriptor, &resp,
                            o->timeout_s > 0 ? o->timeout_s * 1000LL : 0, false, &err);
  runm_rpc_client_free(cl);
  if (r < 0) return fail("wait", err);
  if (ctl->json)
    print_json_fields(resp);
  else
    printf("%u\n", ((Runm__V1__WaitResponse *)resp)->exit_status);
  free_msg(resp);
  return RUNMCTL_OK;
}

static void delete_text(const ProtobufCMessage *m)
{
  printf("%u\n", ((const Runm__V1__DeleteResponse *)m)->exit_status);
}

static int c_delete(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__DeleteRequest req = RUNM__V1__DELETE_REQUEST__INIT;
  const char *id;
  if (need_id("delete", argc, argv, &id) < 0) return RUNMCTL_USAGE;
  req.id = (char *)id;
  req.exec_id = exec_id_or_empty(o);
  req.force = o->force;
  return query(ctl, o, "delete", "Delete", &req.base, &runm__v1__delete_response__descriptor, NULL,
               delete_text);
}

static int c_events(struct runmctl *ctl, struct copts *o, int argc, char **argv)
{
  Runm__V1__EventsRequest req = RUNM__V1__EVENTS_REQUEST__INIT;
  cleanup_error runm_error_t err = NULL;
  struct runm_rpc_client *cl = connect_opts(ctl, o, &err);
  struct runm_rpc_stream *st;
  long seen = 0;
  int r = 0;

  if (cl == NULL) return fail("events", err);
  req.since = o->since;
  st = runm_rpc_stream_open(cl, "/runm.v1.Guest/Events", &req.base, &runm__v1__event__descriptor,
                            o->timeout_s > 0 ? o->timeout_s * 1000LL : 0, &err);
  if (st == NULL) {
    runm_rpc_client_free(cl);
    return fail("events", err);
  }
  while (o->count <= 0 || seen < o->count) {
    ProtobufCMessage *m = NULL;
    r = runm_rpc_stream_recv(st, &m, &err);
    if (r <= 0) break;
    Runm__V1__Event *e = (Runm__V1__Event *)m;
    if (ctl->json) {
      struct runm_json j;
      runm_json_init(&j, stdout);
      runm_json_begin_object(&j, NULL);
      runm_json_int(&j, "seq", (int64_t)e->seq);
      runm_json_int(&j, "timestamp_ns", e->timestamp_ns);
      if (e->kind_case == RUNM__V1__EVENT__KIND_EXIT) {
        runm_json_string(&j, "type", "exit");
        runm_json_string(&j, "id", e->exit->id);
        runm_json_string(&j, "exec_id", e->exit->exec_id);
        runm_json_int(&j, "pid", e->exit->pid);
        runm_json_int(&j, "exit_status", e->exit->exit_status);
      } else if (e->kind_case == RUNM__V1__EVENT__KIND_OOM) {
        runm_json_string(&j, "type", "oom");
        runm_json_string(&j, "id", e->oom->id);
      }
      runm_json_end_object(&j);
    } else if (e->kind_case == RUNM__V1__EVENT__KIND_EXIT) {
      printf("%llu exit id=%s exec_id=%s pid=%u status=%u\n", (unsigned long long)e->seq,
             e->exit->id, e->exit->exec_id, e->exit->pid, e->exit->exit_status);
    } else if (e->kind_case == RUNM__V1__EVENT__KIND_OOM) {
      printf("%llu oom id=%s\n", (unsigned long long)e->seq, e->oom->id);
    }
    fflush(stdout);
    free_msg(m);
    seen++;
  }
  runm_rpc_stream_free(st);
  runm_rpc_client_free(cl);
  if (r < 0) return fail("events", err);
  return RUNMCTL_OK;
}

static const struct command commands[] = {
    {"run",
     "usage: runmctl run [options] --bundle DIR\n"
     "Create and start a container from an OCI bundle (inside a share of the VM),\n"
     "attach its stdio, exit with its exit status, delete it.\n"
     "  --id ID            container id (default random)\n"
     "  -t, --tty          allocate a pty (default: the bundle's process.terminal)\n"
     "  -i, --interactive  attach stdin\n"
     "  -d, --detach       start and print the id; do not wait\n",
     c_run},
    {"create", "usage: runmctl create [options] --bundle DIR [--id ID] [-t] [-i]\n", c_create},
    {"start", "usage: runmctl start [options] [--exec-id E] ID\n", c_start},
    {"exec",
     "usage: runmctl exec [options] ID -- CMD [ARG...]\n"
     "Run a process in a running container (its bundle's process, with these\n"
     "args), attached; exits with its exit status.\n"
     "  --exec-id E        exec id (default generated)\n"
     "  -t, --tty  -i, --interactive  -d, --detach\n"
     "  --env K=V          extra environment (repeatable)\n"
     "  --cwd DIR          working directory\n"
     "  --user UID[:GID]   user\n",
     c_exec},
    {"kill", "usage: runmctl kill [options] [--all] [--exec-id E] ID [SIGNAL]\n", c_kill},
    {"ps", "usage: runmctl ps [options] ID\n", c_ps},
    {"state", "usage: runmctl state [options] [--exec-id E] ID\n", c_state},
    {"pause", "usage: runmctl pause [options] ID\n", c_pause},
    {"resume", "usage: runmctl resume [options] ID\n", c_resume},
    {"update",
     "usage: runmctl update [options] ID (--resources FILE|- | --pids-limit N | --memory BYTES)\n"
     "FILE is OCI LinuxResources JSON, as for runc update.\n",
     c_update},
    {"stats", "usage: runmctl stats [options] ID\n", c_stats},
    {"wait", "usage: runmctl wait [options] [--exec-id E] ID\nPrints the exit status.\n", c_wait},
    {"delete", "usage: runmctl delete [options] [--force] [--exec-id E] ID\n", c_delete},
    {"events",
     "usage: runmctl events [options] [--since SEQ] [--count N]\n"
     "Stream exit and OOM events in order.\n",
     c_events},
};

bool is_container_command(const char *name)
{
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(commands[i].name, name) == 0) return true;
  return false;
}

int cmd_container(struct runmctl *ctl, int argc, char **argv)
{
  static const struct option opts[] = {
      {"vm", required_argument, NULL, 'V'},        {"socket", required_argument, NULL, 'S'},
      {"json", no_argument, NULL, 'j'},            {"help", no_argument, NULL, 'h'},
      {"timeout", required_argument, NULL, 'T'},   {"exec-id", required_argument, NULL, 'e'},
      {"id", required_argument, NULL, 'I'},        {"bundle", required_argument, NULL, 'b'},
      {"tty", no_argument, NULL, 't'},             {"interactive", no_argument, NULL, 'i'},
      {"detach", no_argument, NULL, 'd'},          {"all", no_argument, NULL, 'a'},
      {"force", no_argument, NULL, 'f'},           {"env", required_argument, NULL, 'E'},
      {"cwd", required_argument, NULL, 'C'},       {"user", required_argument, NULL, 'u'},
      {"resources", required_argument, NULL, 'r'}, {"pids-limit", required_argument, NULL, 'P'},
      {"memory", required_argument, NULL, 'M'},    {"since", required_argument, NULL, 's'},
      {"count", required_argument, NULL, 'c'},     {NULL, 0, NULL, 0},
  };
  const struct command *cmd = NULL;
  struct copts o = {.timeout_s = 60};
  int c;

  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(commands[i].name, argv[0]) == 0) cmd = &commands[i];
  if (cmd == NULL) return RUNMCTL_USAGE;
  optind = 1;
  /* For exec, '+' stops at the first non-option so the command keeps its
   * own flags; elsewhere options may follow the id. */
  const char *optstring = strcmp(cmd->name, "exec") == 0 ? "+htidafu:" : "htidafu:";
  while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
    switch (c) {
    case 'V': o.vm = optarg; break;
    case 'S': o.socket = optarg; break;
    case 'j': ctl->json = true; break;
    case 'T': o.timeout_s = atol(optarg); break;
    case 'e': o.exec_id = optarg; break;
    case 'I': o.id = optarg; break;
    case 'b': o.bundle = optarg; break;
    case 't': o.tty = o.tty_set = true; break;
    case 'i': o.interactive = true; break;
    case 'd': o.detach = true; break;
    case 'a': o.all = true; break;
    case 'f': o.force = true; break;
    case 'E':
      if (o.n_env < sizeof(o.env) / sizeof(o.env[0])) o.env[o.n_env++] = optarg;
      break;
    case 'C': o.cwd = optarg; break;
    case 'u': o.user = optarg; break;
    case 'r': o.resources = optarg; break;
    case 'P': o.pids_limit = atol(optarg); break;
    case 'M': o.memory = atoll(optarg); break;
    case 's': o.since = strtoul(optarg, NULL, 10); break;
    case 'c': o.count = atol(optarg); break;
    case 'h':
      fputs(cmd->usage, stdout);
      fputs(common_help, stdout);
      return RUNMCTL_OK;
    default:
      fputs(cmd->usage, stderr);
      fputs(common_help, stderr);
      return RUNMCTL_USAGE;
    }
  }
  if (optind < argc && strcmp(argv[optind], "--") == 0 && strcmp(cmd->name, "exec") != 0) optind++;
  return cmd->run(ctl, &o, argc, argv);
}

/* Container lifecycle handlers: Create, Start, Exec, Delete. runc does the
 * work; init keeps the stdio, the pids and the exit statuses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "handlers.h"
#include "init.h"
#include "runc.h"
#include "cgroup_stats.h"
#include "stdio_relay.h"
#include "tty.h"
#include "runm/v1/guest.pb-c.h"

/* Guest copies of bundles (CreateRequest.config_json). */
#define GUEST_BUNDLE_DIR "/run/runm/bundles"
#define CONFIG_JSON_MAX (2 * 1024 * 1024)

int handler_empty(ProtobufCMessage **resp, runm_error_t *err)
{
  Runm__V1__Empty *out = RESP_NEW(Runm__V1__Empty, RUNM__V1__EMPTY__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "response");
  *resp = &out->base;
  return 0;
}

int state_path(char *out, size_t cap, const char *id, const char *name, runm_error_t *err)
{
  int n = snprintf(out, cap, "%s/%s%s%s", CONTAINER_DIR, id, name[0] ? "/" : "", name);
  if (n < 0 || (size_t)n >= cap) return runm_make_error(err, ENAMETOOLONG, "state path for `%s`", id);
  return 0;
}

/* The state directory holds only files init wrote (pid files, process
 * JSON): one level, no recursion needed. */
static void remove_state_dir(const char *id)
{
  char dir[PATH_MAX];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;

  if (state_path(dir, sizeof(dir), id, "", NULL) < 0) return;
  d = opendir(dir);
  if (d) {
    while ((de = readdir(d)))
      if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
        unlinkat(dirfd(d), de->d_name, 0);
  }
  rmdir(dir);
}

static int read_pid_file(const char *path, pid_t *pid, runm_error_t *err)
{
  char buf[32];
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;
  char *end;
  long v;

  if (fd < 0) return runm_make_error(err, errno, "open pid file `%s`", path);
  n = read(fd, buf, sizeof(buf) - 1);
  if (n <= 0) return runm_make_error(err, n < 0 ? errno : EIO, "read pid file `%s`", path);
  buf[n] = '\0';
  v = strtol(buf, &end, 10);
  if (end == buf || v <= 1 || v > 0x3fffffff)
    return runm_make_error(err, EIO, "pid file `%s` holds no pid", path);
  *pid = (pid_t)v;
  return 0;
}

static int tty_socket_path(struct registry *reg, char *out, size_t cap)
{
  uint64_t n;
  pthread_mutex_lock(&reg->lock);
  n = reg->tty_seq++;
  pthread_mutex_unlock(&reg->lock);
  return snprintf(out, cap, "%s/%llu.sock", TTY_DIR, (unsigned long long)n);
}

/* The guest copy of a bundle's config.json (CreateRequest.config_json):
 * written to GUEST_BUNDLE_DIR/<id>/config.json and bound over
 * <bundle>/config.json in the guest's mount namespace only, so runc runs on
 * the host's bundle path and every hook's state names the bundle runc-v2
 * would. The shim never exports the bundle (only its rootfs, at
 * <bundle>/rootfs): the bundle path is then the guest's own directory on
 * its tmpfs root, and the bind target is an empty file made there. */
static void guest_config_path(const char *id, char *out, size_t cap)
{
  snprintf(out, cap, "%s/%s/config.json", GUEST_BUNDLE_DIR, id);
}

static void release_guest_bundle(const char *id, const char *bundle)
{
  char path[PATH_MAX];
  guest_config_path(id, path, sizeof(path));
  if (access(path, F_OK) < 0) return; /* none was made */
  if (bundle) {
    char target[PATH_MAX];
    snprintf(target, sizeof(target), "%s/config.json", bundle);
    umount2(target, MNT_DETACH);
  }
  unlink(path);
  snprintf(path, sizeof(path), "%s/%s", GUEST_BUNDLE_DIR, id);
  rmdir(path);
}

/* Returns 1 when the copy is bound over <bundle>/config.json (runc gets
 * `bundle`), 0 when the host bundle has no config.json the guest can see
 * (runc gets the copy's directory, `dir`). */
static int make_guest_bundle(const char *id, const char *bundle, const ProtobufCBinaryData *config,
                             char *dir, size_t cap, struct runm_logger *log, runm_error_t *err)
{
  char path[PATH_MAX], target[PATH_MAX];
  size_t i = 0;

  if (config->len > CONFIG_JSON_MAX)
    return runm_make_error(err, E2BIG, "config_json is %zu bytes; the limit is %d", config->len,
                           CONFIG_JSON_MAX);
  while (i < config->len && strchr(" \t\r\n", config->data[i])) i++;
  if (i == config->len || config->data[i] != '{')
    return runm_make_error(err, EINVAL, "config_json is not a JSON object");
  if (mkdir(GUEST_BUNDLE_DIR, 0700) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir `%s`", GUEST_BUNDLE_DIR);
  snprintf(dir, cap, "%s/%s", GUEST_BUNDLE_DIR, id);
  guest_config_path(id, path, sizeof(path));
  if (mkdir(dir, 0700) < 0) {
    if (errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", dir);
    /* An earlier container's: nothing in it is live. */
    unlink(path);
  }
  if (init_write_file(path, config->data, config->len, 0600, err) < 0) {
    rmdir(dir);
    return -1;
  }
  snprintf(target, sizeof(target), "%s/config.json", bundle);
  if (access(target, F_OK) < 0 && errno == ENOENT) {
    cleanup_close int fd = -1;
    if (init_mkdir_p(bundle, err) < 0) return -1;
    fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return runm_make_error(err, errno, "create `%s`", target);
  }
  if (mount(path, target, NULL, MS_BIND, NULL) == 0) return 1;
  runm_log(log, RUNM_LOG_WARN, "%s: cannot bind the guest spec over `%s` (%m): runc runs on `%s`",
           id, target, dir);
  return 0;
}

/* Best effort: after a failed create, runc may have left state behind. */
static void runc_force_delete(struct registry *reg, const char *id)
{
  const char *args[] = {"delete", "--force", id, NULL};
  struct runc_io io;
  cleanup_error runm_error_t ignored = NULL;
  runc_io_init(&io);
  runc_run(reg->reaper, args, &io, EIO, &ignored);
}

static int do_create(struct registry *reg, struct container *c, const Runm__V1__CreateRequest *r,
                     pid_t *ret_pid, runm_error_t *err)
{
  char dir[PATH_MAX], pidfile[PATH_MAX], sock[108] = "", gbundle[PATH_MAX] = "";
  const char *bundle = r->bundle;
  cleanup_close int listen_fd = -1;
  struct process *p;
  struct runc_io io;
  const char *args[RUNC_MAX_ARGS];
  size_t n = 0;
  pid_t pid = 0;
  int ret;

  if (rlimits_from_request(r->rlimits, r->n_rlimits, &c->rlimits, err) < 0 ||
      rlimits_prepare_kernel(&c->rlimits, err) < 0)
    return runm_error_wrap(err, "create `%s`", c->id);
  c->bundle = strdup(r->bundle);
  if (c->bundle == NULL) return runm_make_error(err, ENOMEM, "create");
  if (state_path(dir, sizeof(dir), c->id, "", err) < 0 ||
      state_path(pidfile, sizeof(pidfile), c->id, "init.pid", err) < 0)
    return -1;
  if (mkdir(dir, 0700) < 0) {
    if (errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", dir);
    /* Left by an earlier container of this id: nothing in it is live. */
    remove_state_dir(c->id);
    if (mkdir(dir, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", dir);
  }

  pthread_mutex_lock(&reg->lock);
  p = process_new_locked(c, "");
  pthread_mutex_unlock(&reg->lock);
  if (p == NULL) {
    remove_state_dir(c->id);
    return runm_make_error(err, ENOMEM, "create");
  }
  p->terminal = r->terminal;
  p->stdin = r->stdin;

  if (r->config_json.len > 0) {
    ret = make_guest_bundle(c->id, r->bundle, &r->config_json, gbundle, sizeof(gbundle), reg->log,
                            err);
    if (ret < 0) {
      gbundle[0] = '\0';
      goto fail;
    }
    if (ret == 0) bundle = gbundle;
  }

  runc_io_init(&io);
  if (r->terminal) {
    tty_socket_path(reg, sock, sizeof(sock));
    listen_fd = tty_console_listen(sock, err);
    if (listen_fd < 0) goto fail;
    io.console_listen = listen_fd;
  } else {
    if (stdio_make_pipes(p, err) < 0) goto fail;
    io.stdio[0] = p->child_in;
    io.stdio[1] = p->child_out;
    io.stdio[2] = p->child_err;
  }
  io.rlimits = &c->rlimits;

  args[n++] = "create";
  args[n++] = "--bundle";
  args[n++] = bundle;
  args[n++] = "--pid-file";
  args[n++] = pidfile;
  if (r->terminal) {
    args[n++] = "--console-socket";
    args[n++] = sock;
  }
  if (r->no_pivot) args[n++] = "--no-pivot";
  if (r->no_new_keyring) args[n++] = "--no-new-keyring";
  args[n++] = c->id;
  args[n] = NULL;
  /* A spec runc refuses is the caller's to fix: INVALID_ARGUMENT. */
  ret = runc_run(reg->reaper, args, &io, EINVAL, err);
  /* The container process has its stdio now; init keeps only its ends. */
  stdio_close_child_ends(p);
  if (sock[0]) unlink(sock);
  if (ret < 0) {
    if (io.console_master >= 0) close(io.console_master);
    goto fail_delete;
  }
  if (r->terminal) {
    if (io.console_master < 0) {
      runm_make_error(err, EPROTO, "runc did not send the pty master on the console socket");
      goto fail_delete;
    }
    p->master = io.console_master;
  }
  if (read_pid_file(pidfile, &pid, err) < 0) goto fail_delete;
  {
    /* The init is parked in runc init until Start, so its cgroup is there
     * to read. Without it: no stats and no OOM events, but a container. */
    cleanup_error runm_error_t cgerr = NULL;
    if (cgroup_of_pid(pid, c->cgroup, sizeof(c->cgroup), &cgerr) < 0) {
      runm_log_error(reg->log, cgerr, c->id);
      c->cgroup[0] = '\0';
    }
  }
  pthread_mutex_lock(&reg->lock);
  p->pid = pid;
  p->state = PROC_CREATED;
  ret = process_watch_locked(p, err);
  if (ret == 0) {
    c->init = p;
    oom_watch_add_locked(reg, c);
  }
  pthread_mutex_unlock(&reg->lock);
  if (ret < 0) goto fail_delete;
  *ret_pid = pid;
  return 0;

fail_delete:
  runc_force_delete(reg, c->id);
fail:
  if (sock[0]) unlink(sock);
  if (gbundle[0]) release_guest_bundle(c->id, r->bundle);
  remove_state_dir(c->id);
  process_put(p);
  return -1;
}

int svc_create(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
               ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__CreateRequest *r = (const Runm__V1__CreateRequest *)req;
  Runm__V1__CreateResponse *out;
  struct container *c;
  pid_t pid = 0;
  int ret;

  if (validate_id("container id", r->id, false, err) < 0) return -1;
  if (r->bundle[0] != '/' || strlen(r->bundle) >= BUNDLE_MAX)
    return runm_make_error(err, EINVAL, "bundle must be an absolute path shorter than %d bytes",
                           BUNDLE_MAX);
  c = registry_reserve(reg, r->id, err);
  if (c == NULL) return -1;
  ret = do_create(reg, c, r, &pid, err);
  if (ret < 0) {
    pthread_mutex_lock(&reg->lock);
    registry_remove_locked(reg, c);
    pthread_mutex_unlock(&reg->lock);
  }
  pthread_rwlock_unlock(&c->op_lock);
  container_put(c);
  if (ret < 0) return ret;
  runm_log(ctx->registry->log, RUNM_LOG_DEBUG, "created %s, init pid %d", r->id, (int)pid);
  out = RESP_NEW(Runm__V1__CreateResponse, RUNM__V1__CREATE_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "create");
  out->pid = (uint32_t)pid;
  *resp = &out->base;
  return 0;
}

static const char *state_name(enum proc_state s)
{
  switch (s) {
  case PROC_CREATED:
  case PROC_STARTING: return "created";
  case PROC_RUNNING: return "running";
  case PROC_STOPPED: return "stopped";
  default: return "unknown";
  }
}

static int start_init(struct registry *reg, const char *id, pid_t *ret_pid, runm_error_t *err)
{
  cleanup_container_op struct container *c = container_op_begin(reg, id, true, err);
  const char *args[] = {"start", id, NULL};
  struct runc_io io;
  enum proc_state st;

  if (c == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  st = c->init->state;
  pthread_mutex_unlock(&reg->lock);
  if (st != PROC_CREATED)
    return runm_make_error(err, EBUSY, "container `%s` is %s: only a created container starts", id,
                           state_name(st));
  runc_io_init(&io);
  if (runc_run(reg->reaper, args, &io, EIO, err) < 0) return runm_error_wrap(err, "start `%s`", id);
  pthread_mutex_lock(&reg->lock);
  /* It may have exited already; that exit stands. */
  if (c->init->state == PROC_CREATED) c->init->state = PROC_RUNNING;
  *ret_pid = c->init->pid;
  pthread_mutex_unlock(&reg->lock);
  return 0;
}

static int run_exec(struct registry *reg, struct container *c, struct process *p, pid_t *ret_pid,
                    runm_error_t *err)
{
  char json[PATH_MAX], pidfile[PATH_MAX], name[ID_MAX + 16], sock[108] = "";
  cleanup_close int listen_fd = -1;
  const char *args[RUNC_MAX_ARGS];
  struct runc_io io;
  size_t n = 0;
  pid_t pid = 0;
  int ret;

  snprintf(name, sizeof(name), "exec-%s.json", p->exec_id);
  if (state_path(json, sizeof(json), c->id, name, err) < 0) return -1;
  snprintf(name, sizeof(name), "exec-%s.pid", p->exec_id);
  if (state_path(pidfile, sizeof(pidfile), c->id, name, err) < 0) return -1;
  /* STARTING makes this thread the only user of process_json. */
  ret = init_write_file(json, p->process_json, p->process_json_len, 0600, err);
  free(p->process_json);
  p->process_json = NULL;
  if (ret < 0) return ret;

  runc_io_init(&io);
  if (p->terminal) {
    tty_socket_path(reg, sock, sizeof(sock));
    listen_fd = tty_console_listen(sock, err);
    if (listen_fd < 0) {
      unlink(json);
      return -1;
    }
    io.console_listen = listen_fd;
  } else {
    io.stdio[0] = p->child_in;
    io.stdio[1] = p->child_out;
    io.stdio[2] = p->child_err;
  }
  io.rlimits = &c->rlimits;
  args[n++] = "exec";
  args[n++] = "--detach";
  args[n++] = "--pid-file";
  args[n++] = pidfile;
  args[n++] = "--process";
  args[n++] = json;
  if (p->terminal) {
    args[n++] = "--console-socket";
    args[n++] = sock;
  }
  args[n++] = c->id;
  args[n] = NULL;
  ret = runc_run(reg->reaper, args, &io, EINVAL, err);
  unlink(json);
  if (sock[0]) unlink(sock);
  pthread_mutex_lock(&reg->lock);
  stdio_close_child_ends(p);
  pthread_mutex_unlock(&reg->lock);
  if (ret == 0 && p->terminal && io.console_master < 0)
    ret = runm_make_error(err, EPROTO, "runc did not send the pty master on the console socket");
  if (ret == 0) ret = read_pid_file(pidfile, &pid, err);
  unlink(pidfile);
  if (ret < 0) {
    /* A process runc started but init cannot track must not run on. */
    if (pid > 1) kill(pid, SIGKILL);
    if (io.console_master >= 0) close(io.console_master);
    pthread_mutex_lock(&reg->lock);
    process_start_failed_locked(p);
    pthread_mutex_unlock(&reg->lock);
    /* runc's own words, as runc-v2 gives them: the shim puts "OCI runtime
     * exec failed" in front (which exec of which container, the caller
     * knows). */
    return ret;
  }
  /* stdin_lock first: the order every stdin writer uses. */
  pthread_mutex_lock(&p->stdin_lock);
  pthread_mutex_lock(&reg->lock);
  if (p->terminal) p->master = io.console_master;
  p->pid = pid;
  p->state = PROC_RUNNING;
  ret = process_watch_locked(p, err);
  if (ret < 0) process_start_failed_locked(p);
  pthread_cond_broadcast(&reg->changed); /* a stream may wait for the master */
  pthread_mutex_unlock(&reg->lock);
  pthread_mutex_unlock(&p->stdin_lock);
  if (ret < 0) {
    kill(pid, SIGKILL);
    return ret;
  }
  *ret_pid = pid;
  return 0;
}

static int start_exec(struct registry *reg, const char *id, const char *exec_id, pid_t *ret_pid,
                      runm_error_t *err)
{
  cleanup_container_op struct container *c = container_op_begin(reg, id, false, err);
  cleanup_process struct process *p = NULL;
  enum proc_state st;

  if (c == NULL) return -1;
  p = registry_get_process(reg, id, exec_id, err);
  if (p == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  st = p->state;
  if (st == PROC_CREATED) p->state = PROC_STARTING;
  pthread_mutex_unlock(&reg->lock);
  if (st != PROC_CREATED)
    return runm_make_error(err, EBUSY, "exec `%s` of `%s` was started already", exec_id, id);
  return run_exec(reg, c, p, ret_pid, err);
}

int svc_start(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
              ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__StartRequest *r = (const Runm__V1__StartRequest *)req;
  Runm__V1__StartResponse *out;
  pid_t pid = 0;
  int ret;

  if (validate_id("container id", r->id, false, err) < 0 ||
      validate_id("exec id", r->exec_id, true, err) < 0)
    return -1;
  if (r->exec_id[0] == '\0')
    ret = start_init(ctx->registry, r->id, &pid, err);
  else
    ret = start_exec(ctx->registry, r->id, r->exec_id, &pid, err);
  if (ret < 0) return ret;
  out = RESP_NEW(Runm__V1__StartResponse, RUNM__V1__START_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "start");
  out->pid = (uint32_t)pid;
  *resp = &out->base;
  return 0;
}

int svc_exec(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
             ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  struct registry *reg = ctx->registry;
  const Runm__V1__ExecRequest *r = (const Runm__V1__ExecRequest *)req;
  struct container *c;
  struct process *p;
  size_t i = 0;
  int ret = 0;

  if (validate_id("container id", r->id, false, err) < 0 ||
      validate_id("exec id", r->exec_id, false, err) < 0)
    return -1;
  if (r->process_json.len > PROCESS_JSON_MAX)
    return runm_make_error(err, E2BIG, "process_json is %zu bytes; the limit is %d",
                           r->process_json.len, PROCESS_JSON_MAX);
  while (i < r->process_json.len && strchr(" \t\r\n", r->process_json.data[i])) i++;
  if (i == r->process_json.len || r->process_json.data[i] != '{')
    return runm_make_error(err, EINVAL, "process_json is not a JSON object");

  c = registry_get(reg, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  if (c->removed || c->init == NULL) {
    ret = runm_make_error(err, ENOENT, "container `%s` not found", r->id);
    goto out;
  }
  for (p = c->execs; p; p = p->next)
    if (strcmp(p->exec_id, r->exec_id) == 0) break;
  if (p) {
    ret = runm_make_error(err, EEXIST, "exec `%s` already exists in `%s`", r->exec_id, r->id);
    goto out;
  }
  if (c->n_execs >= MAX_EXECS) {
    ret = runm_make_error(err, ENOSPC, "container `%s` has %d execs already", r->id, MAX_EXECS);
    goto out;
  }
  p = process_new_locked(c, r->exec_id);
  if (p == NULL) {
    ret = runm_make_error(err, ENOMEM, "exec");
    goto out;
  }
  p->terminal = r->terminal;
  p->stdin = r->stdin;
  p->process_json = malloc(r->process_json.len);
  if (p->process_json == NULL) {
    process_unref_locked(p);
    ret = runm_make_error(err, ENOMEM, "exec");
    goto out;
  }
  memcpy(p->process_json, r->process_json.data, r->process_json.len);
  p->process_json_len = r->process_json.len;
  /* Pipes now, so a Stdio stream can attach before Start; a pty only
   * exists once runc exec has made it. */
  if (!p->terminal && stdio_make_pipes(p, err) < 0) {
    process_unref_locked(p);
    ret = -1;
    goto out;
  }
  p->state = PROC_CREATED;
  p->next = c->execs;
  c->execs = p;
  c->n_execs++;
out:
  container_unref_locked(c);
  pthread_mutex_unlock(&reg->lock);
  if (ret < 0) return ret;
  return handler_empty(resp, err);
}

static int fill_delete(struct process *p, ProtobufCMessage **resp, runm_error_t *err)
{
  Runm__V1__DeleteResponse *out = RESP_NEW(Runm__V1__DeleteResponse, RUNM__V1__DELETE_RESPONSE__INIT);
  if (out == NULL) return runm_make_error(err, ENOMEM, "delete");
  out->pid = (uint32_t)p->pid;
  out->exit_status = p->exit_status;
  out->exited_at_ns = p->exited_at;
  *resp = &out->base;
  return 0;
}

static int delete_exec(struct registry *reg, struct runm_rpc_call *call,
                       const Runm__V1__DeleteRequest *r, ProtobufCMessage **resp, runm_error_t *err)
{
  cleanup_container_op struct container *c = container_op_begin(reg, r->id, false, err);
  cleanup_process struct process *p = NULL;
  enum proc_state st;
  int ret;

  if (c == NULL) return -1;
  p = registry_get_process(reg, r->id, r->exec_id, err);
  if (p == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  st = p->state;
  if (st == PROC_RUNNING && r->force) {
    cleanup_error runm_error_t gone = NULL; /* exited meanwhile: as good */
    process_signal(p, SIGKILL, &gone);
  }
  pthread_mutex_unlock(&reg->lock);
  if (st == PROC_STARTING)
    return runm_make_error(err, EBUSY, "exec `%s` is being started", r->exec_id);
  if (st == PROC_RUNNING) {
    if (!r->force)
      return runm_make_error(err, EBUSY, "exec `%s` of `%s` is running", r->exec_id, r->id);
    if (process_wait_exit(p, call, err) < 0) return -1;
  }
  pthread_mutex_lock(&reg->lock);
  if (p->removed) {
    pthread_mutex_unlock(&reg->lock);
    return runm_make_error(err, ENOENT, "exec `%s` was deleted", r->exec_id);
  }
  for (struct process **pp = &c->execs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      c->n_execs--;
      break;
    }
  p->removed = true;
  ret = fill_delete(p, resp, err);
  process_unref_locked(p); /* the table's */
  pthread_cond_broadcast(&reg->changed);
  pthread_mutex_unlock(&reg->lock);
  return ret;
}

static int delete_init(struct registry *reg, struct runm_rpc_call *call,
                       const Runm__V1__DeleteRequest *r, ProtobufCMessage **resp, runm_error_t *err)
{
  cleanup_container_op struct container *c = container_op_begin(reg, r->id, true, err);
  cleanup_process struct process *init = NULL;
  struct process *busy[MAX_EXECS];
  size_t nbusy = 0;
  bool exec_running = false;
  enum proc_state st;
  int ret;

  if (c == NULL) return -1;
  pthread_mutex_lock(&reg->lock);
  init = c->init;
  init->refs++;
  st = init->state;
  for (struct process *p = c->execs; p; p = p->next)
    if (p->state == PROC_RUNNING || p->state == PROC_STARTING) {
      exec_running = true;
      if (r->force && p->state == PROC_RUNNING && nbusy < MAX_EXECS) {
        p->refs++;
        busy[nbusy++] = p;
      }
    }
  pthread_mutex_unlock(&reg->lock);
  if (!r->force && exec_running)
    return runm_make_error(err, EBUSY, "container `%s` has running exec processes", r->id);
  if (!r->force && st == PROC_RUNNING)
    return runm_make_error(err, EBUSY, "container `%s` is running", r->id);

  ret = 0;
  for (size_t i = 0; i < nbusy; i++) {
    cleanup_error runm_error_t ignored = NULL;
    pthread_mutex_lock(&reg->lock);
    process_signal(busy[i], SIGKILL, &ignored);
    pthread_mutex_unlock(&reg->lock);
  }
  for (size_t i = 0; i < nbusy; i++) {
    if (ret == 0) ret = process_wait_exit(busy[i], call, err);
    process_put(busy[i]);
  }
  if (ret < 0) return ret;

  /* A frozen init cannot act on SIGKILL until thawed. */
  if (st != PROC_STOPPED && cgroup_frozen(c->cgroup)) {
    const char *args[] = {"resume", r->id, NULL};
    struct runc_io io;
    cleanup_error runm_error_t ignored = NULL;
    runc_io_init(&io);
    runc_run(reg->reaper, args, &io, EIO, &ignored);
  }
  {
    const char *args[4] = {"delete", NULL, NULL, NULL};
    struct runc_io io;
    if (r->force) {
      args[1] = "--force";
      args[2] = r->id;
    } else {
      args[1] = r->id;
    }
    runc_io_init(&io);
    ret = runc_run(reg->reaper, args, &io, EIO, err);
    /* runc forgetting a container it no longer has is what Delete wants. */
    if (ret < 0 && (*err)->status == ENOENT) {
      runm_error_release(err);
      ret = 0;
    }
    if (ret < 0) return runm_error_wrap(err, "delete `%s`", r->id);
  }
  /* runc delete killed a created or running init; its exit is on the way. */
  if (process_wait_exit(init, call, err) < 0) return -1;

  pthread_mutex_lock(&reg->lock);
  ret = fill_delete(init, resp, err);
  registry_remove_locked(reg, c);
  pthread_mutex_unlock(&reg->lock);
  remove_state_dir(r->id);
  release_guest_bundle(r->id, c->bundle);
  runm_log(reg->log, RUNM_LOG_DEBUG, "deleted %s", r->id);
  return ret;
}

int svc_delete(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
               ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__DeleteRequest *r = (const Runm__V1__DeleteRequest *)req;

  if (validate_id("container id", r->id, false, err) < 0 ||
      validate_id("exec id", r->exec_id, true, err) < 0)
    return -1;
  if (r->exec_id[0]) return delete_exec(ctx->registry, call, r, resp, err);
  return delete_init(ctx->registry, call, r, resp, err);
}

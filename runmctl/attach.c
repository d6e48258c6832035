/* Attached stdio for `runmctl run/exec`: the Stdio stream relayed to our own
 * stdin/stdout/stderr, the terminal in raw mode for a tty, SIGWINCH turned
 * into ResizePty and INT/TERM/HUP forwarded to the process. */
#include "attach.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "fdio.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"

struct attach_ctx {
  struct runm_rpc_client *cl;
  struct runm_rpc_stream *st;
  const char *id, *exec_id;
  bool tty;
  sigset_t sigs;
};

int attach_resize(struct runm_rpc_client *cl, const char *id, const char *exec_id, int fd,
                  runm_error_t *err)
{
  struct winsize ws;
  Runm__V1__ResizePtyRequest req = RUNM__V1__RESIZE_PTY_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  int r;

  if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0) return 0; /* not a terminal */
  req.id = (char *)id;
  req.exec_id = (char *)(exec_id ? exec_id : "");
  req.rows = ws.ws_row;
  req.cols = ws.ws_col;
  r = runm_rpc_call(cl, &runm__v1__guest__descriptor, "ResizePty", &req.base, &resp, 10000, err);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return r;
}

static void *stdin_thread(void *arg)
{
  struct attach_ctx *a = arg;
  uint8_t buf[32768];
  for (;;) {
    Runm__V1__StdioIn in = RUNM__V1__STDIO_IN__INIT;
    cleanup_error runm_error_t err = NULL;
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      in.close_stdin = true;
      runm_rpc_stream_send(a->st, &in.base, &err);
      return NULL;
    }
    in.stdin.data = buf;
    in.stdin.len = (size_t)n;
    if (runm_rpc_stream_send(a->st, &in.base, &err) < 0) return NULL;
  }
}

static void *signal_thread(void *arg)
{
  struct attach_ctx *a = arg;
  for (;;) {
    int sig;
    cleanup_error runm_error_t err = NULL;
    if (sigwait(&a->sigs, &sig) != 0) continue;
    if (sig == SIGWINCH) {
      if (a->tty) attach_resize(a->cl, a->id, a->exec_id, STDIN_FILENO, &err);
      continue;
    }
    Runm__V1__KillRequest req = RUNM__V1__KILL_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    req.id = (char *)a->id;
    req.exec_id = (char *)(a->exec_id ? a->exec_id : "");
    req.signal = (uint32_t)sig;
    runm_rpc_call(a->cl, &runm__v1__guest__descriptor, "Kill", &req.base, &resp, 10000, &err);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  }
  return NULL;
}

struct runm_rpc_stream *attach_open(struct runm_rpc_client *cl, const char *id,
                                    const char *exec_id, runm_error_t *err)
{
  Runm__V1__StdioIn first = RUNM__V1__STDIO_IN__INIT;
  struct runm_rpc_stream *st = runm_rpc_stream_open(cl, "/runm.v1.Guest/Stdio", NULL,
                                                    &runm__v1__stdio_out__descriptor, 0, err);
  if (st == NULL) return NULL;
  first.id = (char *)id;
  first.exec_id = (char *)(exec_id ? exec_id : "");
  if (runm_rpc_stream_send(st, &first.base, err) < 0) {
    runm_rpc_stream_free(st);
    return NULL;
  }
  return st;
}

int attach_relay(struct runm_rpc_client *cl, struct runm_rpc_stream *st, const char *id,
                 const char *exec_id, bool tty, bool with_stdin, int *status, runm_error_t *err)
{
  /* Lives until exit: the detached threads may still hold it. */
  struct attach_ctx *a = calloc(1, sizeof(*a));
  struct termios saved;
  bool raw = false;
  pthread_t t;
  int ret = 0;

  if (a == NULL) return runm_make_error(err, ENOMEM, "attach");
  a->cl = cl;
  a->st = st;
  a->id = id;
  a->exec_id = exec_id;
  a->tty = tty;
  sigemptyset(&a->sigs);
  sigaddset(&a->sigs, SIGWINCH);
  if (!tty) {
    /* With a tty these arrive as bytes in raw mode; without, forward them. */
    sigaddset(&a->sigs, SIGINT);
    sigaddset(&a->sigs, SIGTERM);
    sigaddset(&a->sigs, SIGHUP);
  }
  pthread_sigmask(SIG_BLOCK, &a->sigs, NULL);
  if (pthread_create(&t, NULL, signal_thread, a) == 0) pthread_detach(t);

  if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios r = saved;
    cfmakeraw(&r);
    raw = tcsetattr(STDIN_FILENO, TCSANOW, &r) == 0;
  }
  if (with_stdin && pthread_create(&t, NULL, stdin_thread, a) == 0) pthread_detach(t);

  *status = -1;
  for (;;) {
    ProtobufCMessage *m = NULL;
    int r = runm_rpc_stream_recv(st, &m, err);
    if (r < 0) {
      ret = r;
      break;
    }
    if (r == 0) {
      ret = runm_make_error(err, EPROTO, "stdio stream ended before the process's exit");
      break;
    }
    Runm__V1__StdioOut *o = (Runm__V1__StdioOut *)m;
    if (o->stdout.len) runm_write_all(STDOUT_FILENO, o->stdout.data, o->stdout.len);
    if (o->stderr.len) runm_write_all(STDERR_FILENO, o->stderr.data, o->stderr.len);
    if (o->exited) {
      *status = (int)o->exit_status;
      protobuf_c_message_free_unpacked(m, NULL);
      break;
    }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  if (raw) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return ret;
}

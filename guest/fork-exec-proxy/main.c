/* runm-fork-exec-proxy: stands in, inside the guest, for the host binary an
 * OCI hook names. runc runs it with the hook's args and env and the OCI
 * state JSON on stdin; it asks the host (through init, see
 * guest/init/hostlink.c) to run the real hook, writes back the hook's
 * stdout and stderr and exits with its exit code (128+N when signal N ended
 * it).
 *
 * The guest spec (host-shim/guest_spec.c) tells it which hook it stands
 * for: RUNM_HOOK=<kind>:<index> and RUNM_HOOK_PATH=<the host path>.
 *
 * runc runs it in the guest's runtime namespace (prestart, createRuntime,
 * poststart, poststop) or in the container's namespaces before pivot_root
 * (createContainer), where the guest's files are still visible but its
 * network namespace may not be: it talks to a filesystem unix socket, not
 * an abstract one. Static, with protobuf-c as its one library, so that it
 * depends on nothing of the guest's but that socket.
 *
 * Exit codes of its own: 126 when the hook could not be run (the host
 * refused it, or there is no channel), with the reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runm/v1/host.pb-c.h"
#include "unix_socket.h"

/* guest/init/hostlink.h: HOSTLINK_SOCKET */
#define HOST_SOCKET "/run/runm/host.sock"
/* The state runc writes is a few hundred bytes; the host caps it at 1 MiB. */
#define MAX_STATE (1024 * 1024)
/* A reply: up to 1 MiB each of stdout and stderr, plus framing. */
#define MAX_REPLY (3 * 1024 * 1024)
#define EXIT_CANNOT_RUN 126

extern char **environ;

/* The last NAME=value in the environment: the guest spec appends ours after
 * whatever the hook's own env holds. */
static const char *last_env(const char *name)
{
  size_t n = strlen(name);
  const char *v = NULL;
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') v = *e + n + 1;
  return v;
}

static int fail(const char *hook, const char *fmt, const char *arg)
{
  fprintf(stderr, "runm-fork-exec-proxy: %s: ", hook);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return EXIT_CANNOT_RUN;
}

static int read_all(int fd, uint8_t **out, size_t *len, size_t max)
{
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) return -ENOMEM;
  for (;;) {
    ssize_t r;
    if (n == cap) {
      uint8_t *nb;
      if (cap > max) {
        free(buf);
        return -E2BIG;
      }
      cap *= 2;
      nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        return -ENOMEM;
      }
      buf = nb;
    }
    r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      return -e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n > max) {
    free(buf);
    return -E2BIG;
  }
  *out = buf;
  *len = n;
  return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
  size_t off = 0;
  while (off < len) {
    ssize_t n = read(fd, (char *)buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -ECONNRESET;
    off += (size_t)n;
  }
  return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, (const char *)buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -errno;
    off += (size_t)n;
  }
  return 0;
}

static int connect_to(const char *path)
{
  return runm_unix_connect(path, SOCK_STREAM, NULL);
}

int main(int argc, char **argv)
{
  Runm__V1__RunHookRequest req = RUNM__V1__RUN_HOOK_REQUEST__INIT;
  Runm__V1__HookReply *reply;
  const Runm__V1__RunHookResponse *r;
  const char *hook = last_env("RUNM_HOOK"), *path = last_env("RUNM_HOOK_PATH");
  char kind[32], name[64];
  uint8_t *state = NULL, *buf, *rbuf;
  size_t state_len = 0, len;
  uint32_t hdr;
  unsigned long index;
  const char *colon;
  char *end;
  int fd, ret;

  if (hook == NULL || path == NULL)
    return fail("runm-fork-exec-proxy", "%s",
                "RUNM_HOOK and RUNM_HOOK_PATH are not set: this binary only runs as an OCI hook "
                "of a runm container");
  colon = strchr(hook, ':');
  if (colon == NULL || (size_t)(colon - hook) >= sizeof(kind) || colon == hook)
    return fail(hook, "%s", "RUNM_HOOK is not KIND:INDEX");
  memcpy(kind, hook, (size_t)(colon - hook));
  kind[colon - hook] = '\0';
  errno = 0;
  index = strtoul(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || errno || index > UINT32_MAX)
    return fail(hook, "%s", "RUNM_HOOK is not KIND:INDEX");
  snprintf(name, sizeof(name), "%s hook #%lu", kind, index);

  ret = read_all(STDIN_FILENO, &state, &state_len, MAX_STATE);
  if (ret < 0) return fail(name, "reading the state from stdin: %s", strerror(-ret));

  req.kind = kind;
  req.index = (uint32_t)index;
  req.path = (char *)path;
  req.n_args = (size_t)argc;
  req.args = argv;
  req.state.data = state;
  req.state.len = state_len;
  len = runm__v1__run_hook_request__get_packed_size(&req);
  buf = malloc(len + 4);
  if (buf == NULL) return fail(name, "%s", "out of memory");
  hdr = htonl((uint32_t)len);
  memcpy(buf, &hdr, 4);
  runm__v1__run_hook_request__pack(&req, buf + 4);
  free(state);

  fd = connect_to(HOST_SOCKET);
  if (fd < 0) return fail(name, "cannot reach runm's host channel: %s", strerror(-fd));
  ret = write_all(fd, buf, len + 4);
  free(buf);
  if (ret < 0) return fail(name, "sending the request: %s", strerror(-ret));
  /* No shutdown(SHUT_WR): init takes a half-close for "runc gave up". */
  ret = read_full(fd, &hdr, 4);
  if (ret < 0) return fail(name, "no reply from runm's host channel: %s", strerror(-ret));
  len = ntohl(hdr);
  if (len > MAX_REPLY) return fail(name, "%s", "the reply is too large");
  rbuf = malloc(len ? len : 1);
  if (rbuf == NULL) return fail(name, "%s", "out of memory");
  ret = read_full(fd, rbuf, len);
  close(fd);
  if (ret < 0) return fail(name, "reading the reply: %s", strerror(-ret));
  reply = runm__v1__hook_reply__unpack(NULL, len, rbuf);
  free(rbuf);
  if (reply == NULL) return fail(name, "%s", "malformed reply");
  if (reply->code != 0 || reply->response == NULL) {
    fprintf(stderr, "runm-fork-exec-proxy: %s (%s): the host did not run it: %s\n", name, path,
            reply->message && reply->message[0] ? reply->message : "no reason given");
    return EXIT_CANNOT_RUN;
  }
  r = reply->response;
  if (write_all(STDOUT_FILENO, r->stdout.data, r->stdout.len) < 0 ||
      write_all(STDERR_FILENO, r->stderr.data, r->stderr.len) < 0) {
    /* runc reads both until we exit; nothing else to tell it. */
  }
  if (r->timed_out)
    fprintf(stderr,
            "runm-fork-exec-proxy: %s (%s) ran past its timeout: the host killed it after %.1f s\n",
            name, path, r->seconds);
  if (r->stdout_truncated || r->stderr_truncated)
    fprintf(stderr, "runm-fork-exec-proxy: %s (%s): output beyond 1 MiB was dropped\n", name, path);
  ret = r->exit_code;
  if (ret < 0 || ret > 255) ret = EXIT_CANNOT_RUN;
  return ret;
}

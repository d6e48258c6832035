/* The pool's claim (docs/pool.md): `start` hands a task and its listening
 * socket to an idle shim in one SOCK_SEQPACKET message. The peer is the same
 * user, but its message is still input: bounded in size, fields, fds (one)
 * and time (CLAIM_READ_TIMEOUT_MS). */
#include "pool_claim.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "names.h"
#include "unix_socket.h"

#define CLAIM_MAX 16384
#define CLAIM_TIMEOUT_MS 5000
/* A claimer connects and sends at once; the idle shim waits no longer
 * than this for the message, and takes exactly one fd with it. */
#define CLAIM_READ_TIMEOUT_MS 2000
#define CLAIM_MAX_FDS 8

int pool_dir_of(const struct shim_config *cfg, const char *address, char *out, size_t len,
                    runm_error_t *err)
{
  char parent[PATH_MAX];
  snprintf(parent, sizeof(parent), "%s/pool", cfg->state_dir);
  if (mkdir(cfg->state_dir, 0711) < 0 && errno != EEXIST)
    return runm_make_error(err, errno, "mkdir `%s`", cfg->state_dir);
  if (mkdir(parent, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", parent);
  /* One dir per containerd: its address's digest, never another's. */
  const char *parts[] = {address};
  char h[33];
  shim_digest_hex(parts, 1, h, 32);
  if (h[0] == '\0') return runm_make_error(err, ENOMEM, "pool dir name");
  if (snprintf(out, len, "%s/%s", parent, h) >= (int)len)
    return runm_make_error(err, ENAMETOOLONG, "pool dir under `%s`", parent);
  if (mkdir(out, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", out);
  return 0;
}

/* ---- the claim message ------------------------------------------------ */

static size_t claim_encode(const struct pool_claim *c, char *buf, size_t len)
{
  const char *f[] = {c->ns, c->id, c->address, c->publish_binary, c->ttrpc_address, c->bundle,
                     c->debug ? "1" : "0"};
  size_t off = 0;
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    size_t l = strlen(f[i]) + 1;
    if (off + l > len) return 0;
    memcpy(buf + off, f[i], l);
    off += l;
  }
  return off;
}

/* The peer is the same user (the socket is 0600), but it is still input:
 * exactly seven fields, each fitting its buffer. */
static int claim_decode(const char *buf, size_t len, struct pool_claim *c, runm_error_t *err)
{
  struct {
    char *dst;
    size_t size;
  } f[] = {{c->ns, sizeof(c->ns)},
           {c->id, sizeof(c->id)},
           {c->address, sizeof(c->address)},
           {c->publish_binary, sizeof(c->publish_binary)},
           {c->ttrpc_address, sizeof(c->ttrpc_address)},
           {c->bundle, sizeof(c->bundle)},
           {NULL, 0}};
  size_t off = 0, i;

  memset(c, 0, sizeof(*c));
  for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    const char *end = memchr(buf + off, '\0', len - off);
    size_t l;
    if (end == NULL) return runm_make_error(err, EPROTO, "claim: field %zu is not terminated", i);
    l = (size_t)(end - (buf + off));
    if (f[i].dst) {
      if (l >= f[i].size) return runm_make_error(err, EPROTO, "claim: field %zu is too long", i);
      memcpy(f[i].dst, buf + off, l + 1);
    } else {
      c->debug = l == 1 && buf[off] == '1';
    }
    off += l + 1;
  }
  if (off != len) return runm_make_error(err, EPROTO, "claim: trailing bytes");
  if (c->ns[0] == '\0' || c->id[0] == '\0' || c->bundle[0] != '/')
    return runm_make_error(err, EPROTO, "claim: namespace, id and an absolute bundle are required");
  return 0;
}

/* ---- `start`'s side ------------------------------------------------------ */

static int try_claim(const char *sock, const char *msg, size_t len, int lfd)
{
  cleanup_close int fd = runm_unix_connect(sock, SOCK_SEQPACKET, NULL);
  struct timeval tv = {.tv_sec = CLAIM_TIMEOUT_MS / 1000};
  char cbuf[CMSG_SPACE(sizeof(int))] = {0}, reply[512];
  struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *cm;
  ssize_t n;

  if (fd < 0) return 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)len) return 0;
  do
    n = recv(fd, reply, sizeof(reply) - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  reply[n] = '\0';
  return strcmp(reply, "ok") == 0;
}

int pool_claim(const struct shim_config *cfg, const struct pool_claim *c, int lfd, runm_error_t *err)
{
  char dir[PATH_MAX], msg[CLAIM_MAX];
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  size_t len;

  if (cfg->pool_size == 0) return 0;
  if (pool_dir_of(cfg, c->address, dir, sizeof(dir), err) < 0) return -1;
  len = claim_encode(c, msg, sizeof(msg));
  if (len == 0) return runm_make_error(err, E2BIG, "claim: task identity too long");
  d = opendir(dir);
  if (d == NULL) return runm_make_error(err, errno, "open `%s`", dir);
  while ((de = readdir(d))) {
    char sock[PATH_MAX + 300];
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".sock") != 0) continue;
    snprintf(sock, sizeof(sock), "%s/%s", dir, de->d_name);
    if (try_claim(sock, msg, len, lfd)) return 1;
  }
  return 0;
}

int pool_claim_reply(int fd, const char *msg)
{
  return send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void close_fds(int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* One claim from a connected client: 1 = taken (c, *lfd filled). The
 * message must come within CLAIM_READ_TIMEOUT_MS and carry exactly one
 * fd; every fd that came with a refused claim is closed. */
int pool_claim_take(int cfd, const char *address, struct pool_claim *c, int *lfd,
                      const struct runm_logger *log)
{
  char buf[CLAIM_MAX], cbuf[CMSG_SPACE(sizeof(int) * CLAIM_MAX_FDS)];
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  struct pollfd pfd = {.fd = cfd, .events = POLLIN};
  struct ucred cred;
  socklen_t cl = sizeof(cred);
  cleanup_error runm_error_t err = NULL;
  int fds[CLAIM_MAX_FDS];
  size_t nfds = 0;
  struct cmsghdr *cm;
  ssize_t n;
  int type = 0, r;
  socklen_t tl = sizeof(type);

  if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
    pool_claim_reply(cfd, "error: not the same user");
    return 0;
  }
  do
    r = poll(&pfd, 1, CLAIM_READ_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    runm_log(log, RUNM_LOG_WARN, "pool claim: nothing sent within %d ms", CLAIM_READ_TIMEOUT_MS);
    pool_claim_reply(cfd, "error: claim too slow");
    return 0;
  }
  memset(cbuf, 0, sizeof(cbuf));
  n = recvmsg(cfd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return 0;
  for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    size_t k;
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0)) continue;
    k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && nfds < CLAIM_MAX_FDS; i++)
      memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    close_fds(fds, nfds);
    pool_claim_reply(cfd, "error: claim truncated");
    return 0;
  }
  if (nfds != 1 || getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
    close_fds(fds, nfds);
    pool_claim_reply(cfd, nfds == 1 ? "error: no listening socket attached" : "error: exactly one fd must be attached");
    return 0;
  }
  if (claim_decode(buf, (size_t)n, c, &err) < 0) {
    close_fds(fds, nfds);
    runm_log_error(log, err, "pool claim");
    pool_claim_reply(cfd, "error: malformed claim");
    return 0;
  }
  if (strcmp(c->address, address) != 0) {
    close_fds(fds, nfds);
    pool_claim_reply(cfd, "error: this VM belongs to another containerd");
    return 0;
  }
  *lfd = fds[0];
  return 1;
}


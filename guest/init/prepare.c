/* Prepare: a pooled VM booted before its container was known becomes that
 * container's. Everything a VM could carry over from the time it sat in the
 * pool is renewed here (clock, entropy, hostname), and the host directories
 * the shim bound under the pool share are mounted at their host paths, as
 * boot-time shares would have been. Allowed once, before any container;
 * a Prepare of shares alone any time. */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "handlers.h"
#include "init.h"
#include "runm/v1/guest.pb-c.h"

#define PREPARE_MAX_SHARES 16
#define PREPARE_MAX_ENTROPY 512

/* The host names these paths, so they are checked like boot-time shares:
 * absolute, normalised, and a source that cannot climb out of the share. */
static int check_share(const Runm__V1__PrepareShare *sh, runm_error_t *err)
{
  const char *p = sh->path;
  if (sh->source[0] == '\0' || strchr(sh->source, '/') || strcmp(sh->source, ".") == 0 ||
      strcmp(sh->source, "..") == 0)
    return runm_make_error(err, EINVAL, "share source `%s` is not a single name", sh->source);
  if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
      (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) || strlen(p) >= PATH_MAX - 1)
    return runm_make_error(err, EINVAL, "share path `%s` is not an absolute normalised path", p);
  return 0;
}

static int add_entropy(const uint8_t *data, size_t len, runm_error_t *err)
{
  struct {
    struct rand_pool_info info;
    uint8_t buf[PREPARE_MAX_ENTROPY];
  } e;
  cleanup_close int fd = -1;

  if (len == 0) return 0;
  if (len > PREPARE_MAX_ENTROPY)
    return runm_make_error(err, E2BIG, "%zu bytes of entropy; at most %d", len, PREPARE_MAX_ENTROPY);
  fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return runm_make_error(err, errno, "open /dev/urandom");
  e.info.entropy_count = (int)(len * 8);
  e.info.buf_size = (int)len;
  memcpy(e.buf, data, len);
  if (ioctl(fd, RNDADDENTROPY, &e.info) < 0) return runm_make_error(err, errno, "RNDADDENTROPY");
  return 0;
}

/* net.c wrote the boot hostname into /etc/hosts; the new one replaces it
 * where it is a line's last name. */
static int rename_in_hosts(const char *old_name, const char *new_name, runm_error_t *err)
{
  char in[4096], out[8192];
  size_t o = 0;
  ssize_t n;
  cleanup_close int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open /etc/hosts");
  n = read(fd, in, sizeof(in) - 1);
  if (n < 0) return runm_make_error(err, errno, "read /etc/hosts");
  in[n] = '\0';
  for (char *line = in, *nl; *line; line = nl) {
    size_t ll, ol = strlen(old_name);
    nl = strchr(line, '\n');
    nl = nl ? nl + 1 : line + strlen(line);
    ll = (size_t)(nl - line) - (nl[-1] == '\n');
    if (ll > ol && strncmp(line + ll - ol, old_name, ol) == 0 &&
        (line[ll - ol - 1] == '\t' || line[ll - ol - 1] == ' '))
      o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s%s\n", (int)(ll - ol), line, new_name);
    else
      o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s", (int)(nl - line), line);
    if (o >= sizeof(out)) return runm_make_error(err, E2BIG, "/etc/hosts grows too big");
  }
  return init_write_file("/etc/hosts", out, o, 0644, err);
}

static int prepare(struct init_ctx *ctx, const Runm__V1__PrepareRequest *r, runm_error_t *err)
{
  char old_host[65] = "";
  struct timespec ts;

  if (r->n_shares > PREPARE_MAX_SHARES)
    return runm_make_error(err, E2BIG, "%zu shares; at most %d", r->n_shares, PREPARE_MAX_SHARES);
  if (r->n_shares && (r->share_root[0] != '/' || strstr(r->share_root, "/..")))
    return runm_make_error(err, EINVAL, "share root `%s` is not an absolute path", r->share_root);
  for (size_t i = 0; i < r->n_shares; i++)
    if (check_share(r->shares[i], err) < 0) return -1;
  if (strlen(r->hostname) > 64) return runm_make_error(err, EINVAL, "hostname longer than 64 bytes");

  if (r->realtime_ns > 0) {
    ts.tv_sec = r->realtime_ns / 1000000000LL;
    ts.tv_nsec = r->realtime_ns % 1000000000LL;
    if (clock_settime(CLOCK_REALTIME, &ts) < 0) return runm_make_error(err, errno, "clock_settime");
  }
  if (add_entropy(r->entropy.data, r->entropy.len, err) < 0) return -1;
  if (r->hostname[0]) {
    if (gethostname(old_host, sizeof(old_host) - 1) < 0) old_host[0] = '\0';
    if (sethostname(r->hostname, strlen(r->hostname)) < 0)
      return runm_make_error(err, errno, "sethostname `%s`", r->hostname);
    if (old_host[0] && rename_in_hosts(old_host, r->hostname, err) < 0) return -1;
  }

  for (size_t i = 0; i < r->n_shares; i++) {
    const Runm__V1__PrepareShare *sh = r->shares[i];
    char src[PATH_MAX];
    if (snprintf(src, sizeof(src), "%s/%s", r->share_root, sh->source) >= (int)sizeof(src))
      return runm_make_error(err, ENAMETOOLONG, "share `%s`", sh->source);
    if (init_mkdir_p(sh->path, err) < 0) return -1;
    if (mount(src, sh->path, NULL, MS_BIND | MS_REC, NULL) < 0)
      return runm_make_error(err, errno, "bind `%s` on `%s`", src, sh->path);
    /* The host bound it read-only too: ro holds at the share and here. */
    if (sh->readonly &&
        mount(NULL, sh->path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
      return runm_make_error(err, errno, "remount `%s` read-only", sh->path);
    runm_log(&ctx->log, RUNM_LOG_DEBUG, "pool share %s on %s (%s)", sh->source, sh->path,
             sh->readonly ? "ro" : "rw");
  }
  if (r->hostname[0]) {
    snprintf(ctx->cfg.vm_id, sizeof(ctx->cfg.vm_id), "%s", r->hostname);
    runm_log(&ctx->log, RUNM_LOG_INFO, "prepared for %s (%zu shares)", r->hostname, r->n_shares);
  }
  return 0;
}

int svc_prepare(void *opaque, struct runm_rpc_call *call, const ProtobufCMessage *req,
                ProtobufCMessage **resp, runm_error_t *err)
{
  struct init_ctx *ctx = opaque;
  const Runm__V1__PrepareRequest *r = (const Runm__V1__PrepareRequest *)req;
  int expected = 0;

  /* Shares alone (no hostname, clock or entropy): what a fresh VM's shim
   * asks at boot, and a pod's shim for each further container (its exports
   * under the share, docs/security-parts/pods.md). Nothing is renamed or
   * renewed, so it may come any time; a share only ever adds a bind. */
  if (r->hostname[0] == '\0' && r->realtime_ns == 0 && r->entropy.len == 0) {
    if (prepare(ctx, r, err) < 0) return -1;
    return handler_empty(resp, err);
  }
  if (!__atomic_compare_exchange_n(&ctx->prepared, &expected, 1, false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST))
    return runm_make_error(err, EALREADY, "this VM was already prepared for a container");
  if (registry_count(ctx->registry) != 0)
    return runm_make_error(err, EBUSY, "this VM already runs a container");
  if (prepare(ctx, r, err) < 0) return -1;
  return handler_empty(resp, err);
}

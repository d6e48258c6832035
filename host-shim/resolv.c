/* A container's /etc/resolv.conf under runm's user-mode network. The VM is
 * behind QEMU's NAT, so a nameserver on the host's loopback (systemd-
 * resolved's 127.0.0.53, a local dnsmasq) is not reachable from the guest;
 * slirp's forwarder at 10.0.2.3 is, and it asks the host's resolver. */
#include "resolv.h"
#include "netmode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

#define RESOLV_DEST "/etc/resolv.conf"

/* Loopback or unspecified: what a guest behind NAT cannot use. */
static bool unreachable_server(const char *addr)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, addr, &a4) == 1) {
    uint32_t h = ntohl(a4.s_addr);
    return (h >> 24) == 127 || h == 0;
  }
  if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6);
  return false;
}

int resolv_rewrite(const char *in, char **out, runm_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  FILE *m;
  bool changed = false, added = false;
  const char *p = in;

  *out = NULL;
  m = open_memstream(&buf, &len);
  if (m == NULL) return runm_make_error(err, errno, "resolv.conf");
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t ll = eol ? (size_t)(eol - p) : strlen(p);
    char word[16], addr[64];
    int consumed = 0;
    /* `nameserver ADDR` with nothing after the address but blanks. */
    if (ll < 128) {
      char line[128];
      memcpy(line, p, ll);
      line[ll] = '\0';
      if (sscanf(line, " %15s %63s %n", word, addr, &consumed) == 2 &&
          strcmp(word, "nameserver") == 0 && line[consumed] == '\0' && unreachable_server(addr)) {
        changed = true;
        if (!added) fprintf(m, "nameserver %s\n", RESOLV_SLIRP_DNS);
        added = true;
        p += ll + (eol ? 1 : 0);
        continue;
      }
    }
    fwrite(p, 1, ll, m);
    fputc('\n', m);
    p += ll + (eol ? 1 : 0);
  }
  if (fclose(m) != 0) return runm_make_error(err, ENOMEM, "resolv.conf");
  if (!changed) return 0;
  *out = steal_pointer(&buf);
  return 1;
}

static int read_small(const char *path, char **out, runm_error_t *err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  struct stat st;

  if (fd < 0) return runm_make_error(err, errno, "open `%s`", path);
  if (fstat(fd, &st) < 0) return runm_make_error(err, errno, "stat `%s`", path);
  if (!S_ISREG(st.st_mode)) return runm_make_error(err, EINVAL, "`%s` is not a file", path);
  buf = malloc(RESOLV_MAX + 1);
  if (buf == NULL) return runm_make_error(err, ENOMEM, "read `%s`", path);
  for (;;) {
    ssize_t n = read(fd, buf + len, RESOLV_MAX + 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runm_make_error(err, errno, "read `%s`", path);
    if (n == 0) break;
    len += (size_t)n;
    if (len > RESOLV_MAX) return runm_make_error(err, EFBIG, "`%s` is larger than %d bytes", path, RESOLV_MAX);
  }
  buf[len] = '\0';
  if (memchr(buf, '\0', len)) return runm_make_error(err, EINVAL, "`%s` holds a NUL byte", path);
  *out = steal_pointer(&buf);
  return 0;
}

/* Replaces the file atomically: a rerun of the same create sees it whole. */
static int write_file(const char *path, const char *text, runm_error_t *err)
{
  char tmp[PATH_MAX];
  cleanup_close int fd = -1;
  size_t len = strlen(text), off = 0;

  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
    return runm_make_error(err, ENAMETOOLONG, "`%s`", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return runm_make_error(err, errno, "create `%s`", tmp);
  /* Readable by every container user whatever the shim's umask (a pooled
   * shim's was 077 once: DNS failed for non-root users). */
  if (fchmod(fd, 0644) < 0) {
    int e = errno;
    unlink(tmp);
    return runm_make_error(err, e, "chmod `%s`", tmp);
  }
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      unlink(tmp);
      return runm_make_error(err, e, "write `%s`", tmp);
    }
    off += (size_t)w;
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return runm_make_error(err, e, "rename `%s`", tmp);
  }
  return 0;
}

static json_object *string_array(const char *const *v, size_t n)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; a && i < n; i++) json_object_array_add(a, json_object_new_string(v[i]));
  return a;
}

int resolv_apply(json_object *spec, const char *dir, runm_error_t *err)
{
  json_object *mounts = NULL, *found = NULL;
  char path[PATH_MAX];
  cleanup_free char *text = NULL, *rewritten = NULL;
  const char *src = NULL;
  enum runm_net_mode net = RUNM_NET_USER;
  const char *ns_path;

  /* spec_read validated it already; a bad one here is an error too. In
   * the namespace mode, DNS is what the spec binds (nerdctl's file). */
  if (spec_net_choose(spec, &net, &ns_path, err) < 0) return -1;
  if (net != RUNM_NET_USER) return 0;
  if (snprintf(path, sizeof(path), "%s/%s", dir, RESOLV_FILE) >= (int)sizeof(path))
    return runm_make_error(err, ENAMETOOLONG, "path `%s` is too long", dir);
  if (!json_object_object_get_ex(spec, "mounts", &mounts)) {
    mounts = json_object_new_array();
    if (mounts == NULL) return runm_make_error(err, ENOMEM, "spec");
    json_object_object_add(spec, "mounts", mounts);
  }
  if (!json_object_is_type(mounts, json_type_array))
    return runm_make_error(err, EINVAL, "spec: mounts is not an array");
  /* runc mounts in order: the last mount on the destination is what shows. */
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    json_object *m = json_object_array_get_idx(mounts, i), *d = NULL;
    if (json_object_object_get_ex(m, "destination", &d) && d &&
        strcmp(json_object_get_string(d), RESOLV_DEST) == 0)
      found = m;
  }

  if (found) {
    json_object *s = NULL;
    if (!json_object_object_get_ex(found, "source", &s) || s == NULL) return 0;
    src = json_object_get_string(s);
    /* Only a file from the host can name the host's loopback; one that
     * cannot be read is runc's to report, with the spec's own words. */
    if (src == NULL || src[0] != '/') return 0;
    if (read_small(src, &text, err) < 0) {
      runm_error_release(err);
      return 0;
    }
    if (resolv_rewrite(text, &rewritten, err) < 0) return -1;
    if (rewritten == NULL) return 0;
    if (write_file(path, rewritten, err) < 0) return -1;
    json_object_object_add(found, "source", json_object_new_string(path));
    return 0;
  }

  {
    static const char *const opts[] = {"rbind", "ro", "nosuid", "nodev", "noexec"};
    json_object *m = json_object_new_object();
    if (m == NULL) return runm_make_error(err, ENOMEM, "spec");
    if (write_file(path, "nameserver " RESOLV_SLIRP_DNS "\n", err) < 0) {
      json_object_put(m);
      return -1;
    }
    json_object_object_add(m, "destination", json_object_new_string(RESOLV_DEST));
    json_object_object_add(m, "type", json_object_new_string("bind"));
    json_object_object_add(m, "source", json_object_new_string(path));
    json_object_object_add(m, "options", string_array(opts, sizeof(opts) / sizeof(opts[0])));
    json_object_array_add(mounts, m);
  }
  return 0;
}

/* A task's host network namespace and its TAP device (netns.h).
 *
 * The shim is threaded (gRPC), and a network namespace belongs to a thread:
 * the one step that must run inside the namespace (making it, opening
 * /dev/net/tun and a netlink socket there) runs on a short-lived thread of
 * its own. The fds it leaves stay bound to the namespace, so every later
 * step (TUNSETIFF, rtnetlink, tc) runs from any thread.
 *
 * The record (<state>/net/<vm id>/record) is written before each thing it
 * names exists, and removed last: a shim killed at any point leaves
 * `shim delete` enough to clean up. It lives in the shim's 0700 state dir,
 * which QEMU's mount namespace sees read-only and the guest not at all. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm.h"

#define RECORD "record"
#define OWN_NS "netns"

/* ---- the record ------------------------------------------------------------ */

struct net_record {
  char ns[PATH_MAX];
  bool own;
  char cni[IF_NAMESIZE];
  bool cni_qdisc;
};

static int record_write(const char *dir, const struct net_record *r, runm_error_t *err)
{
  char path[PATH_MAX + 16], tmp[PATH_MAX + 16], text[PATH_MAX + 128];
  cleanup_close int fd = -1;
  int len;

  snprintf(path, sizeof(path), "%s/" RECORD, dir);
  snprintf(tmp, sizeof(tmp), "%s/" RECORD ".tmp", dir);
  len = snprintf(text, sizeof(text), "ns %s\nown %d\ncni %s\ncni_qdisc %d\n", r->ns, r->own ? 1 : 0,
                 r->cni[0] ? r->cni : "-", r->cni_qdisc ? 1 : 0);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return runm_make_error(err, errno, "network record `%s`", tmp);
  /* No fsync: the record outlives a crash of the shim (the rename is
   * atomic), and a crash of the host takes its namespaces with it. */
  if (write(fd, text, (size_t)len) != len) {
    int e = errno ? errno : EIO;
    unlink(tmp);
    return runm_make_error(err, e, "network record `%s`", tmp);
  }
  if (rename(tmp, path) < 0) return runm_make_error(err, errno, "network record `%s`", path);
  return 0;
}

static int record_read(const char *dir, struct net_record *r, runm_error_t *err)
{
  char path[PATH_MAX + 16], line[PATH_MAX + 32];
  cleanup_file FILE *f = NULL;
  cleanup_close int fd = -1;

  memset(r, 0, sizeof(*r));
  snprintf(path, sizeof(path), "%s/" RECORD, dir);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "network record `%s`", path);
  f = fdopen(fd, "r");
  if (f == NULL) return runm_make_error(err, errno, "network record `%s`", path);
  fd = -1;
  while (fgets(line, sizeof(line), f)) {
    size_t l = strlen(line);
    if (l && line[l - 1] == '\n') line[--l] = '\0';
    if (strncmp(line, "ns /", 4) == 0) snprintf(r->ns, sizeof(r->ns), "%s", line + 3);
    else if (strcmp(line, "own 1") == 0) r->own = true;
    else if (strncmp(line, "cni ", 4) == 0 && strcmp(line + 4, "-") != 0 && l - 4 < sizeof(r->cni))
      snprintf(r->cni, sizeof(r->cni), "%s", line + 4);
    else if (strcmp(line, "cni_qdisc 1") == 0) r->cni_qdisc = true;
  }
  return 0;
}

static void net_dir(const char *state_dir, const char *vm_id, char *out, size_t len)
{
  snprintf(out, len, "%s/net/%s", state_dir, vm_id);
}

/* ---- inside the namespace ------------------------------------------------------ */

struct ns_job {
  int ns_fd;          /* join this one, or -1: make a new one */
  const char *bind;   /* new: bind-mount it here */
  bool want_tun;
  int tun_fd;         /* out */
  struct mnl_socket *nl; /* out */
  int new_fd;         /* out: the new namespace */
  const char *step;   /* out, on failure */
  int err;
};

static void *ns_thread(void *arg)
{
  struct ns_job *j = arg;
  if (j->ns_fd < 0) {
    j->step = "make a network namespace";
    if (unshare(CLONE_NEWNET) < 0) goto fail;
    j->step = "open the new network namespace";
    j->new_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (j->new_fd < 0) goto fail;
    j->step = "bind-mount the network namespace";
    if (mount("/proc/thread-self/ns/net", j->bind, NULL, MS_BIND, NULL) < 0) goto fail;
  } else {
    j->step = "enter the network namespace";
    if (setns(j->ns_fd, CLONE_NEWNET) < 0) goto fail;
  }
  j->step = "open /dev/net/tun";
  if (j->want_tun && (j->tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0) goto fail;
  j->step = "open rtnetlink";
  j->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (j->nl == NULL || mnl_socket_bind(j->nl, 0, MNL_SOCKET_AUTOPID) < 0) goto fail;
  j->step = NULL;
  return NULL;
fail:
  j->err = errno ? errno : EIO;
  return NULL;
}

/* Runs the job on a thread of its own; its namespace ends with it. */
static int in_namespace(struct ns_job *j, const char *ns_path, runm_error_t *err)
{
  pthread_t t;
  int r;
  j->tun_fd = j->new_fd = -1;
  j->nl = NULL;
  j->err = 0;
  j->step = NULL;
  if ((r = pthread_create(&t, NULL, ns_thread, j)) != 0)
    return runm_make_error(err, r, "network namespace `%s`: thread", ns_path);
  pthread_join(t, NULL);
  if (j->err == 0) return 0;
  if (j->tun_fd >= 0) close(j->tun_fd);
  if (j->new_fd >= 0) close(j->new_fd);
  if (j->nl) mnl_socket_close(j->nl);
  j->tun_fd = j->new_fd = -1;
  j->nl = NULL;
  return runm_make_error(err, j->err, "network namespace `%s`: %s", ns_path, j->step);
}

/* ---- open ------------------------------------------------------------------- */

static int open_tap(struct task_net *n, int tun_fd, runm_error_t *err)
{
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", NETNS_TAP_NAME);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (netif_index(n->nl, NETNS_TAP_NAME, &n->tap_index, err) < 0) return -1;
  if (n->tap_index)
    return runm_make_error(err, EEXIST, "network namespace `%s` already has runm's TAP device %s (another task uses it)",
                           n->ns_path, NETNS_TAP_NAME);
  if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0)
    return runm_make_error(err, errno, "network namespace `%s`: create TAP device %s", n->ns_path, NETNS_TAP_NAME);
  if (netif_index(n->nl, NETNS_TAP_NAME, &n->tap_index, err) < 0) return -1;
  if (n->tap_index == 0)
    return runm_make_error(err, ENODEV, "network namespace `%s`: TAP device %s vanished", n->ns_path, NETNS_TAP_NAME);
  return 0;
}

int task_net_open(struct task_net *n, const char *state_dir, const char *vm_id, const char *spec_ns_path,
                  runm_error_t *err)
{
  struct ns_job j = {.ns_fd = -1, .want_tun = true};
  struct net_record rec = {0};
  char parent[PATH_MAX];
  cleanup_close int fd = -1;
  int r;

  memset(n, 0, sizeof(*n));
  n->ns_fd = n->tap_fd = -1;
  snprintf(parent, sizeof(parent), "%s/net", state_dir);
  net_dir(state_dir, vm_id, n->dir, sizeof(n->dir));
  if (runm_state_dir_check(parent, true, err) < 0) return -1;
  r = mkdir(n->dir, 0700);
  /* Another task's teardown may just have removed an empty <state>/net. */
  if (r < 0 && errno == ENOENT) r = runm_state_dir_check(parent, true, err) < 0 ? -2 : mkdir(n->dir, 0700);
  if (r == -2) return -1;
  if (r < 0)
    return runm_make_error(err, errno, "network state dir `%s`%s", n->dir,
                           errno == EEXIST ? " (a task of this name left it: `shim delete` removes it)" : "");
  n->active = true;
  n->own_ns = spec_ns_path == NULL;
  if (n->own_ns) snprintf(n->ns_path, sizeof(n->ns_path), "%s/" OWN_NS, n->dir);
  else snprintf(n->ns_path, sizeof(n->ns_path), "%s", spec_ns_path);
  snprintf(rec.ns, sizeof(rec.ns), "%s", n->ns_path);
  rec.own = n->own_ns;
  if (record_write(n->dir, &rec, err) < 0) goto fail;
  if (n->own_ns) {
    fd = open(n->ns_path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
    if (fd < 0) {
      runm_make_error(err, errno, "network namespace mount point `%s`", n->ns_path);
      goto fail;
    }
    j.bind = n->ns_path;
  } else {
    n->ns_fd = open(n->ns_path, O_RDONLY | O_CLOEXEC);
    if (n->ns_fd < 0) {
      runm_make_error(err, errno, "the spec's network namespace `%s`", n->ns_path);
      goto fail;
    }
    j.ns_fd = n->ns_fd;
  }
  if (in_namespace(&j, n->ns_path, err) < 0) goto fail;
  if (n->own_ns) n->ns_fd = j.new_fd;
  n->nl = j.nl;
  n->tap_fd = j.tun_fd;
  if (open_tap(n, n->tap_fd, err) < 0) goto fail;
  return 0;
fail: {
  cleanup_error runm_error_t e2 = NULL;
  task_net_close(n, &e2);
  return -1;
}
}

int task_net_persist_tap(struct task_net *n, runm_error_t *err)
{
  /* A persistent TAP outlives its last fd; unwire deletes it by name in
   * every teardown, as it does a TAP whose QEMU died with the shim. */
  if (ioctl(n->tap_fd, TUNSETPERSIST, 1) < 0)
    return runm_make_error(err, errno, "network namespace `%s`: make TAP device %s persistent", n->ns_path,
                           NETNS_TAP_NAME);
  task_net_drop_tap(n);
  return 0;
}

void task_net_drop_tap(struct task_net *n)
{
  if (n->tap_fd >= 0) close(n->tap_fd);
  n->tap_fd = -1;
}

/* ---- connect ---------------------------------------------------------------- */

int task_net_connect(struct task_net *n, bool *found, runm_error_t *err)
{
  cleanup_free struct netif_list *l = calloc(1, sizeof(*l));
  struct netif *cni = NULL;
  struct net_record rec = {0};
  char names[160] = "";
  size_t count = 0;
  bool tap_qdisc = false;

  *found = false;
  if (l == NULL) return runm_make_error(err, ENOMEM, "network");
  if (netif_dump(n->nl, l, err) < 0) return runm_error_wrap(err, "network namespace `%s`", n->ns_path);
  for (size_t i = 0; i < l->n; i++) {
    struct netif *f = &l->links[i];
    if (f->type == ARPHRD_LOOPBACK || f->index == n->tap_index) continue;
    snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", count ? ", " : "", f->name);
    count++;
    cni = f;
  }
  if (l->truncated)
    return runm_make_error(err, E2BIG, "network namespace `%s` holds more links, addresses or routes than runm takes (%d, %d, %d)",
                           n->ns_path, NETIF_MAX_LINKS, NETIF_MAX_ADDRS, NETIF_MAX_ROUTES);
  if (count == 0) return 0;
  /* One NIC per VM: microvm has no hotplug, and the VM booted with one. */
  if (count > 1)
    return runm_make_error(err, ENOTSUP, "network namespace `%s` has %zu interfaces (%s); runm connects one", n->ns_path,
                           count, names);
  if (cni->type != ARPHRD_ETHER || !cni->has_mac)
    return runm_make_error(err, ENOTSUP, "network namespace `%s`: interface %s is not Ethernet", n->ns_path, cni->name);
  n->cni = *cni;
  snprintf(rec.ns, sizeof(rec.ns), "%s", n->ns_path);
  rec.own = n->own_ns;
  snprintf(rec.cni, sizeof(rec.cni), "%s", cni->name);
  /* Written before the filters exist, as if the qdisc were ours: `shim
   * delete` of a half-done connect then removes what might be there. */
  rec.cni_qdisc = true;
  if (record_write(n->dir, &rec, err) < 0) return -1;
  if (netif_tc_redirect(n->nl, cni->index, n->tap_index, &n->cni_qdisc, err) < 0 ||
      netif_tc_redirect(n->nl, n->tap_index, cni->index, &tap_qdisc, err) < 0)
    goto fail;
  n->connected = true;
  rec.cni_qdisc = n->cni_qdisc;
  if (record_write(n->dir, &rec, err) < 0) goto fail;
  if (netif_up(n->nl, n->tap_index, cni->mtu, err) < 0) goto fail;
  *found = true;
  return 0;
fail: {
  cleanup_error runm_error_t e2 = NULL;
  netif_tc_unredirect(n->nl, cni->index, n->cni_qdisc, &e2);
  n->connected = false;
  return runm_error_wrap(err, "network namespace `%s`: connect %s to the VM", n->ns_path, cni->name);
}
}

/* ---- teardown --------------------------------------------------------------- */

/* Removes our filter on the CNI interface and our TAP, by name (what a
 * record knows), through a netlink socket in the namespace. */
static int unwire(struct mnl_socket *nl, const char *ns, const char *cni, bool cni_qdisc, runm_error_t *err)
{
  int idx = 0;
  if (cni[0]) {
    if (netif_index(nl, cni, &idx, err) < 0) return -1;
    if (idx && netif_tc_unredirect(nl, idx, cni_qdisc, err) < 0)
      return runm_error_wrap(err, "network namespace `%s`: %s", ns, cni);
  }
  if (netif_index(nl, NETNS_TAP_NAME, &idx, err) < 0) return -1;
  if (idx && netif_delete(nl, idx, err) < 0) return runm_error_wrap(err, "network namespace `%s`: %s", ns, NETNS_TAP_NAME);
  return 0;
}

/* The bind of a namespace the shim made, its mount point, the record, the
 * dir. */
static int remove_dir(const char *dir, bool own, runm_error_t *err)
{
  char path[PATH_MAX + 16];
  if (own) {
    snprintf(path, sizeof(path), "%s/" OWN_NS, dir);
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
      return runm_make_error(err, errno, "unmount network namespace `%s`", path);
    if (unlink(path) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", path);
  }
  snprintf(path, sizeof(path), "%s/" RECORD ".tmp", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/" RECORD, dir);
  if (unlink(path) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", path);
  if (rmdir(dir) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", dir);
  /* <state>/net too once empty (another task's shim may be making its
   * own dir in it: task_net_open retries). */
  snprintf(path, sizeof(path), "%s", dir);
  if (strrchr(path, '/')) *strrchr(path, '/') = '\0';
  (void)rmdir(path);
  return 0;
}

int task_net_close(struct task_net *n, runm_error_t *err)
{
  int ret = 0;
  if (!n->active) return 0;
  task_net_drop_tap(n);
  if (n->nl) {
    ret = unwire(n->nl, n->ns_path, n->connected || n->cni.name[0] ? n->cni.name : "", n->cni_qdisc, err);
    mnl_socket_close(n->nl);
    n->nl = NULL;
  }
  if (n->ns_fd >= 0) close(n->ns_fd);
  n->ns_fd = -1;
  if (ret == 0) ret = remove_dir(n->dir, n->own_ns, err);
  n->active = false;
  return ret;
}

int task_net_recorded_ns(const char *state_dir, const char *vm_id, char *out, size_t len, runm_error_t *err)
{
  char dir[PATH_MAX];
  struct net_record r;
  net_dir(state_dir, vm_id, dir, sizeof(dir));
  out[0] = '\0';
  if (record_read(dir, &r, err) < 0) return -1;
  snprintf(out, len, "%s", r.ns);
  return 0;
}

int task_net_cleanup(const char *state_dir, const char *vm_id, runm_error_t *err)
{
  char dir[PATH_MAX];
  struct net_record r;
  struct ns_job j = {.ns_fd = -1};
  cleanup_close int fd = -1;
  struct stat st;
  int ret = 0;

  net_dir(state_dir, vm_id, dir, sizeof(dir));
  if (lstat(dir, &st) < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "`%s`", dir);
  if (record_read(dir, &r, err) < 0) return -1;
  /* A namespace its owner already deleted holds nothing of ours. */
  if (r.ns[0] && (fd = open(r.ns, O_RDONLY | O_CLOEXEC)) >= 0) {
    j.ns_fd = fd;
    if (in_namespace(&j, r.ns, err) < 0) return -1;
    ret = unwire(j.nl, r.ns, r.cni, r.cni_qdisc, err);
    mnl_socket_close(j.nl);
  }
  if (ret == 0) ret = remove_dir(dir, r.own, err);
  return ret;
}

/* The per-task export dir (exports.h). The guest is hostile: it is handed
 * exactly the rootfs and the bind volumes' sources, each through a bind
 * mount in a dir nobody but the shim writes, and the teardown never walks
 * into anything the guest could have written. */
#include "exports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_spec.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"

/* Stacked mounts on one path come off one by one, up to this many. */
#define UNMOUNT_TRIES 16
#define PREPARE_TIMEOUT_MS 10000

int exports_remove_at(int parent, const char *name, const char *path, int depth, runm_error_t *err)
{
  struct stat st;
  int i;

  /* NOFOLLOW: a symlink is never a mount point of ours; it is removed as a
   * link, and its target is left alone. */
  for (i = 0; i < UNMOUNT_TRIES; i++) {
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL) break; /* not (or no longer) a mount point */
    if (errno == ENOENT) return 0;
    return runm_make_error(err, errno, "unmount `%s`", path);
  }
  if (i == UNMOUNT_TRIES) return runm_make_error(err, EBUSY, "`%s`: more than %d mounts", path, UNMOUNT_TRIES);
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : runm_make_error(err, errno, "stat `%s`", path);
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) return runm_make_error(err, errno, "remove `%s`", path);
    return 0;
  }
  if (depth > 0) {
    /* No longer a mount point: what is left is the shim's own tree. */
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_dir DIR *d = NULL;
    struct dirent *de;
    if (fd < 0) return runm_make_error(err, errno, "open `%s`", path);
    d = fdopendir(fd);
    if (d == NULL) {
      close(fd);
      return runm_make_error(err, errno, "open `%s`", path);
    }
    while ((de = readdir(d))) {
      cleanup_free char *child = NULL;
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      if (asprintf(&child, "%s/%s", path, de->d_name) < 0) return runm_make_error(err, ENOMEM, "remove");
      if (exports_remove_at(dirfd(d), de->d_name, child, depth - 1, err) < 0) return -1;
    }
  }
  if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return runm_make_error(err, errno, "remove `%s`", path);
  return 0;
}

static int exports_path(const char *state_dir, const char *vm_id, char *parent, size_t plen, char *dir,
                        size_t dlen, runm_error_t *err)
{
  if (snprintf(parent, plen, "%s/exports", state_dir) >= (int)plen ||
      snprintf(dir, dlen, "%s/%s", parent, vm_id) >= (int)dlen)
    return runm_make_error(err, ENAMETOOLONG, "export dir for `%s`", vm_id);
  return 0;
}

int exports_remove(const char *state_dir, const char *vm_id, runm_error_t *err)
{
  char parent[PATH_MAX], dir[PATH_MAX];
  cleanup_close int pfd = -1;

  if (exports_path(state_dir, vm_id, parent, sizeof(parent), dir, sizeof(dir), err) < 0) return -1;
  pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) return errno == ENOENT ? 0 : runm_make_error(err, errno, "open `%s`", parent);
  /* E, E/x, E/x/<i>, E/x/<i>/<file>: three levels below E at most. */
  if (exports_remove_at(pfd, vm_id, dir, 3, err) < 0) return -1;
  rmdir(parent); /* shared by every shim: only when empty */
  return 0;
}

int exports_init(struct exports *ex, const char *state_dir, const char *vm_id, runm_error_t *err)
{
  char parent[PATH_MAX];
  memset(ex, 0, sizeof(*ex));
  if (exports_path(state_dir, vm_id, parent, sizeof(parent), ex->dir, sizeof(ex->dir), err) < 0) return -1;
  snprintf(ex->guest_dir, sizeof(ex->guest_dir), "%s", GUEST_EXPORTS_DIR);
  if (exports_remove(state_dir, vm_id, err) < 0) return runm_error_wrap(err, "stale export dir");
  if (mkdir(state_dir, 0711) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", state_dir);
  /* Another shim's exports_remove may drop an empty parent between the
   * two mkdirs: try again. */
  for (int tries = 0; tries < 3; tries++) {
    if (mkdir(parent, 0700) < 0 && errno != EEXIST) return runm_make_error(err, errno, "mkdir `%s`", parent);
    if (mkdir(ex->dir, 0700) == 0) {
      if (snprintf(ex->root, sizeof(ex->root), "%s/x", ex->dir) >= (int)sizeof(ex->root))
        return runm_make_error(err, ENAMETOOLONG, "export dir `%s`", ex->dir);
      if (mkdir(ex->root, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", ex->root);
      return 0;
    }
    if (errno != ENOENT) break;
  }
  return runm_make_error(err, errno, "mkdir `%s`", ex->dir);
}

void exports_free(struct exports *ex)
{
  for (size_t i = 0; i < ex->n; i++) free(ex->items[i].source);
  ex->n = 0;
}

static struct export_item *add_item(struct exports *ex, const char *source, bool is_dir, bool ro,
                                    runm_error_t *err)
{
  struct export_item *it;
  if (ex->n >= EXPORTS_MAX)
    return runm_make_error(err, E2BIG, "more than %d exports (the rootfs and %d bind sources)", EXPORTS_MAX,
                           EXPORTS_MAX - 1),
           NULL;
  it = &ex->items[ex->n];
  memset(it, 0, sizeof(*it));
  it->source = strdup(source);
  if (it->source == NULL) return runm_make_error(err, ENOMEM, "exports"), NULL;
  it->is_dir = is_dir;
  it->readonly = ro;
  {
    char share[sizeof(it->share)];
    snprintf(share, sizeof(share), "%s/%zu", ex->root, ex->n);
    memcpy(it->share, share, sizeof(share));
  }
  snprintf(it->guest, sizeof(it->guest), "%s/%zu", ex->guest_dir, ex->n);
  ex->n++;
  return it;
}

/* A bind mount's source: one item per distinct source string; shared rw
 * when any use of it is rw (as runc would see it). */
static int plan_bind(struct exports *ex, json_object *m, runm_error_t *err)
{
  const char *src = json_object_get_string(spec_member(m, "source"));
  bool ro = spec_has_option(spec_member(m, "options"), "ro");
  struct export_item *it = NULL;
  cleanup_free char *guest = NULL;
  struct stat st;

  if (src == NULL || src[0] != '/') return runm_make_error(err, EINVAL, "bind source `%s` is not absolute", src ? src : "");
  for (size_t i = 1; i < ex->n && it == NULL; i++)
    if (strcmp(ex->items[i].source, src) == 0) it = &ex->items[i];
  if (it) {
    it->readonly = it->readonly && ro;
  } else {
    char real[PATH_MAX];
    const char *base;
    if (stat(src, &st) < 0 || realpath(src, real) == NULL) return runm_make_error(err, errno, "bind source `%s`", src);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
      return runm_make_error(err, EINVAL, "bind source `%s` is neither a directory nor a file", src);
    it = add_item(ex, src, S_ISDIR(st.st_mode), ro, err);
    if (it == NULL) return -1;
    base = strrchr(real, '/') + 1;
    /* The file's own name, so that it reads the same in the guest. */
    if (strlen(base) >= sizeof(it->name)) return runm_make_error(err, ENAMETOOLONG, "`%s`", src);
    snprintf(it->name, sizeof(it->name), "%s", base[0] ? base : "file");
  }
  if (it->is_dir) return spec_set_string(m, "source", it->guest, err);
  if (asprintf(&guest, "%s/%s", it->guest, it->name) < 0) return runm_make_error(err, ENOMEM, "guest spec");
  return spec_set_string(m, "source", guest, err);
}

int exports_plan(struct exports *ex, json_object *spec, const char *bundle, runm_error_t *err)
{
  json_object *root = spec_member(spec, "root"), *mounts = spec_member(spec, "mounts");
  const char *rpath = json_object_get_string(spec_member(root, "path"));
  cleanup_free char *rootfs = NULL;
  struct export_item *it;
  size_t n;

  if (root && !json_object_is_type(root, json_type_object))
    return runm_make_error(err, EINVAL, "spec: `root` is not an object");
  if (!json_object_is_type(spec_member(root, "path"), json_type_string) || rpath[0] == '\0')
    rpath = "rootfs";
  if (rpath[0] == '/') rootfs = strdup(rpath);
  else if (asprintf(&rootfs, "%s/%s", bundle, rpath) < 0) rootfs = NULL;
  if (rootfs == NULL) return runm_make_error(err, ENOMEM, "exports");
  it = add_item(ex, rootfs, true, false, err);
  if (it == NULL) return -1;
  /* The guest's bundle is its own dir: config.json from the RPC, and the
   * rootfs share under it, where runc-v2 would have it. */
  if (snprintf(it->guest, sizeof(it->guest), "%s/rootfs", bundle) >= (int)sizeof(it->guest))
    return runm_make_error(err, ENAMETOOLONG, "bundle path `%s` is too long", bundle);
  if (root == NULL) {
    root = json_object_new_object();
    if (root == NULL || json_object_object_add(spec, "root", root) < 0) return runm_make_error(err, ENOMEM, "guest spec");
  }
  if (spec_set_string(root, "path", it->guest, err) < 0) return -1;

  n = json_object_is_type(mounts, json_type_array) ? json_object_array_length(mounts) : 0;
  for (size_t i = 0; i < n; i++) {
    json_object *m = json_object_array_get_idx(mounts, i), *opts = spec_member(m, "options");
    const char *type = json_object_get_string(spec_member(m, "type"));
    if (!((type && strcmp(type, "bind") == 0) || spec_has_option(opts, "bind") || spec_has_option(opts, "rbind")))
      continue;
    if (plan_bind(ex, m, err) < 0) return -1;
  }
  return 0;
}

/* Read-only all the way down where the kernel can (mount_setattr, 5.12);
 * the top mount always. */
static int make_readonly(const char *target, runm_error_t *err)
{
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
  if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
    return runm_make_error(err, errno, "remount `%s` read-only", target);
  if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr, sizeof(attr)) < 0 &&
      errno != ENOSYS)
    return runm_make_error(err, errno, "make `%s` read-only below", target);
  return 0;
}

/* Binds exactly what the planned source names now (a directory or a file,
 * as planned) at target. */
static int bind_item(const struct export_item *it, const char *src, const char *target, runm_error_t *err)
{
  cleanup_close int fd = open(src, O_PATH | O_CLOEXEC);
  char proc[64];
  struct stat st;

  if (fd < 0 || fstat(fd, &st) < 0) return runm_make_error(err, errno, "`%s`", src);
  if (it->is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    return runm_make_error(err, EINVAL, "`%s`: no longer a %s", src, it->is_dir ? "directory" : "file");
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if (mount(proc, target, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runm_make_error(err, errno, "bind `%s` on `%s`", src, target);
  if (it->readonly) return make_readonly(target, err);
  if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL) < 0)
    return runm_make_error(err, errno, "remount `%s` nosuid", target);
  return 0;
}

/* The mount points, made before E turns read-only. */
static int make_mount_points(struct exports *ex, runm_error_t *err)
{
  for (size_t i = 0; i < ex->n; i++) {
    struct export_item *it = &ex->items[i];
    char file[PATH_MAX + NAME_MAX + 2];
    cleanup_close int fd = -1;
    if (mkdir(it->share, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", it->share);
    if (it->is_dir) continue;
    snprintf(file, sizeof(file), "%s/%s", it->share, it->name);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return runm_make_error(err, errno, "create `%s`", file);
  }
  for (unsigned k = 0; k < ex->pod_slots; k++) {
    char slot[PATH_MAX + 16];
    snprintf(slot, sizeof(slot), "%s/p%u", ex->root, k);
    if (mkdir(slot, 0700) < 0) return runm_make_error(err, errno, "mkdir `%s`", slot);
  }
  return 0;
}

void exports_slot_guest_root(unsigned k, char *out, size_t len)
{
  snprintf(out, len, "%s/p%u", GUEST_SHARE_ROOT, k);
}

int exports_attach(const struct exports *leader, unsigned k, const struct exports *member, runm_error_t *err)
{
  char slot[PATH_MAX + 16];
  if (k >= leader->pod_slots) return runm_make_error(err, ENOSPC, "pod slot %u of %u", k, leader->pod_slots);
  snprintf(slot, sizeof(slot), "%s/p%u", leader->root, k);
  /* Private first: under a shared parent (a shared / makes E/x a peer of
   * it) the attach would propagate copies of the member's tree to the
   * peers, which its detach does not take back (they have children), and
   * whose mount points then make the member's files busy for good. */
  if (mount(NULL, leader->root, NULL, MS_PRIVATE, NULL) < 0)
    return runm_make_error(err, errno, "make `%s` private", leader->root);
  /* Recursive: the member's E/x is its read-only self-bind with the items
   * bound in it; the copy keeps each mount's flags. */
  if (mount(member->root, slot, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runm_make_error(err, errno, "attach `%s` at `%s`", member->root, slot);
  if (mount(NULL, slot, NULL, MS_PRIVATE | MS_REC, NULL) < 0) {
    int e = errno;
    umount2(slot, MNT_DETACH | UMOUNT_NOFOLLOW);
    return runm_make_error(err, e, "make `%s` private", slot);
  }
  return 0;
}

int exports_detach(const struct exports *leader, unsigned k, runm_error_t *err)
{
  char slot[PATH_MAX + 16];
  snprintf(slot, sizeof(slot), "%s/p%u", leader->root, k);
  for (int i = 0; i < UNMOUNT_TRIES; i++) {
    if (umount2(slot, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return 0;
    return runm_make_error(err, errno, "detach `%s`", slot);
  }
  return runm_make_error(err, EBUSY, "`%s`: more than %d mounts", slot, UNMOUNT_TRIES);
}

int exports_mount(struct exports *ex, struct fusebind *fb, struct runm_vm_share *root,
                  struct runm_vm_share *shares, size_t *n, runm_error_t *err)
{
  *n = 0;
  if (make_mount_points(ex, err) < 0) return -1;
  if (mount(ex->root, ex->root, NULL, MS_BIND, NULL) < 0) return runm_make_error(err, errno, "bind `%s`", ex->root);
  ex->mounted = true;
  if (mount(NULL, ex->root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return runm_make_error(err, errno, "remount `%s` read-only", ex->root);
  /* rw at QEMU: the rw items need it; E/x itself is read-only above, and
   * in QEMU's own mount namespace only the rw items become writable. */
  ex->n_rw = 0;
  *root = (struct runm_vm_share){.path = ex->root, .readonly = false, .guest_path = GUEST_SHARE_ROOT,
                                 .rw_paths = ex->rw};
  for (size_t i = 0; i < ex->n; i++) {
    struct export_item *it = &ex->items[i];
    const char *src = it->source;
    char *target = it->target;
    /* bind_mode fuse: a volume dir is seen through runm-bindfs. */
    struct runm_vm_share mirror = {.path = it->source, .readonly = it->readonly};
    if (fb && i > 0 && it->is_dir) {
      if (fusebind_volume(fb, &mirror, err) < 0) return -1;
      src = mirror.path;
    }
    if (it->is_dir) snprintf(target, sizeof(it->target), "%s", it->share);
    else snprintf(target, sizeof(it->target), "%s/%s", it->share, it->name);
    if (bind_item(it, src, target, err) < 0)
      return runm_error_wrap(err, "%s", i == 0 ? "the container's root" : "a bind mount's source");
    if (!it->readonly) ex->rw[ex->n_rw++] = target;
    shares[i] = (struct runm_vm_share){.path = it->share, .readonly = it->readonly, .guest_path = it->guest};
    (*n)++;
  }
  root->n_rw_paths = ex->n_rw;
  return 0;
}

int exports_guest_bind(struct runm_rpc_client *cl, const struct exports_prepare *pr, const char *share_root,
                       const struct runm_vm_share *items, size_t n, runm_error_t *err)
{
  Runm__V1__PrepareRequest rq = RUNM__V1__PREPARE_REQUEST__INIT;
  Runm__V1__PrepareShare ps[EXPORTS_MAX], *pps[EXPORTS_MAX];
  char names[EXPORTS_MAX][12];
  ProtobufCMessage *resp = NULL;

  if (n > EXPORTS_MAX) return runm_make_error(err, E2BIG, "%zu exports; at most %d", n, EXPORTS_MAX);
  for (size_t i = 0; i < n; i++) {
    snprintf(names[i], sizeof(names[i]), "%zu", i);
    runm__v1__prepare_share__init(&ps[i]);
    ps[i].source = names[i];
    ps[i].path = (char *)(items[i].guest_path ? items[i].guest_path : items[i].path);
    ps[i].readonly = items[i].readonly;
    pps[i] = &ps[i];
  }
  rq.hostname = (char *)(pr && pr->hostname ? pr->hostname : "");
  if (pr) {
    rq.realtime_ns = pr->realtime_ns;
    rq.entropy.data = (uint8_t *)pr->entropy;
    rq.entropy.len = pr->entropy_len;
  }
  rq.share_root = (char *)share_root;
  rq.n_shares = n;
  rq.shares = pps;
  if (runm_rpc_call(cl, &runm__v1__guest__descriptor, "Prepare", &rq.base, &resp, PREPARE_TIMEOUT_MS, err) < 0)
    return runm_error_wrap(err, "bind the exports in the guest");
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

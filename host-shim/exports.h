/* What a task's VM sees of the host (docs/security.md): a
 * runm-private dir per task, E = <state_dir>/exports/<vm id>:
 *   E/x              the VM's one 9p share (guest: GUEST_SHARE_ROOT), a
 *                    read-only bind of itself holding one bind per item:
 *   E/x/0            the container's rootfs (guest: <bundle>/rootfs)
 *   E/x/<i>          a bind volume's directory (guest: /run/runm/exports/<i>)
 *   E/x/<i>/<name>   a bind volume's single file, alone in its dir
 *   E/<file>         files runm writes for the guest (resolv.conf), not
 *                    exported themselves: bound as file items like any other
 * E/x turns read-only before the first item is bound: the guest can write
 * only inside an rw item, never next to one, so nothing it creates lives on
 * the state dir's tmpfs and no name the shim later unmounts or removes can
 * be one the guest planted. The guest binds each item to its place (the
 * Prepare call, as for a pooled VM). The bundle directory is never
 * exported. One share, not one per item: microvm has few virtio slots. */
#ifndef SHIM_EXPORTS_H
#define SHIM_EXPORTS_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "fusebind.h"
#include "vm.h"

/* One share per item; the rootfs is item 0. */
#define EXPORTS_MAX RUNM_VM_MAX_SHARES
/* Where the guest mounts item i (but the rootfs): GUEST_EXPORTS_DIR/<i>. */
#define GUEST_EXPORTS_DIR "/run/runm/exports"
/* Where a fresh VM mounts E/x. */
#define GUEST_SHARE_ROOT "/run/runm/share"

struct export_item {
  char *source;     /* the host path as the spec names it */
  bool readonly;    /* every use of the source is ro */
  bool is_dir;      /* else a single file, exported alone */
  char share[PATH_MAX];  /* E/x/<i> */
  char target[PATH_MAX + NAME_MAX + 2]; /* the bind: share, or share/name for a file */
  char guest[PATH_MAX];  /* where the guest binds it */
  char name[NAME_MAX + 1]; /* file items: the file's name under share/guest */
};

struct exports {
  char dir[PATH_MAX - 32]; /* E */
  char root[PATH_MAX];     /* E/x */
  /* Where the guest binds the volume items: GUEST_EXPORTS_DIR, or a
   * directory of its own for each member of a pod (exports_init sets the
   * default; change it before exports_plan). */
  char guest_dir[64];
  /* A pod's VM (the leader's exports): E/x also holds the empty slots
   * p0..p<pod_slots-1>, where the other members' E/x are attached. */
  unsigned pod_slots;
  struct export_item items[EXPORTS_MAX];
  size_t n;
  bool mounted; /* E's read-only self-bind is made */
  const char *rw[EXPORTS_MAX]; /* the rw items' targets: all QEMU may write */
  size_t n_rw;
};

/* E for vm_id, emptied of anything an earlier shim of that id left. */
int exports_init(struct exports *ex, const char *state_dir, const char *vm_id, runm_error_t *err);

/* Plans the items a guest spec needs and rewrites the spec (a json-c copy,
 * never the bundle's file) to the guest's paths: root.path becomes
 * <bundle>/rootfs, every bind mount's source the guest path of its item.
 * Nothing is mounted yet. */
int exports_plan(struct exports *ex, json_object *spec, const char *bundle, runm_error_t *err);

/* Binds every item into E/x (after the rootfs is mounted). With fb (bind
 * mode fuse), directory volumes are runm-bindfs mirrors first. Fills
 * items[0..n) (path E/x/<i>, guest_path, readonly) and *root, the VM's one
 * share (E/x, mounted at GUEST_SHARE_ROOT). */
int exports_mount(struct exports *ex, struct fusebind *fb, struct runm_vm_share *root,
                  struct runm_vm_share *items, size_t *n, runm_error_t *err);

/* Pod slots: at most this many members besides the leader at once. */
#define EXPORTS_POD_SLOTS 16
/* Attaches member's E/x (mounted by exports_mount, read-only, with its
 * items) at slot k of the leader's E/x, recursively: the leader's VM (whose
 * QEMU keeps the host's mount namespace, runm_vm_config.late_mounts) sees
 * it at exports_slot_guest_root(k). */
int exports_attach(const struct exports *leader, unsigned k, const struct exports *member, runm_error_t *err);
/* Takes whatever is attached at slot k off (lazily: QEMU may hold files). */
int exports_detach(const struct exports *leader, unsigned k, runm_error_t *err);
/* The guest path of slot k: GUEST_SHARE_ROOT/p<k>. */
void exports_slot_guest_root(unsigned k, char *out, size_t len);

/* What else a Prepare call renews (a pooled VM's clock, entropy and
 * hostname); NULL or zeroes: nothing. */
struct exports_prepare {
  const char *hostname;
  int64_t realtime_ns;
  const void *entropy;
  size_t entropy_len;
};
/* Has the guest bind <share_root>/<i> on items[i].guest_path (read-only
 * where the item is), with the Prepare call. */
struct runm_rpc_client;
int exports_guest_bind(struct runm_rpc_client *cl, const struct exports_prepare *pr, const char *share_root,
                       const struct runm_vm_share *items, size_t n, runm_error_t *err);

/* Unmounts and removes E for vm_id (from the shim, and from `delete` after
 * a crash): never follows a symlink, never reads a guest-written dir. */
int exports_remove(const char *state_dir, const char *vm_id, runm_error_t *err);
void exports_free(struct exports *ex);

/* Shared with pool.c: detach whatever is mounted at `name` under parent
 * (path names the same entry), then remove it, descending `depth` levels
 * into directories that are no longer mount points. Never follows a
 * symlink. */
int exports_remove_at(int parent, const char *name, const char *path, int depth, runm_error_t *err);

#endif

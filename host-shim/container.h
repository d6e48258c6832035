/* The shim's container table: the containers (containerd tasks) its VM
 * runs and their processes. A container is found by id until its Delete;
 * its record lives until the shim exits, so a handler that looked it up
 * never holds a freed pointer (the table is as long as the pod's life). */
#ifndef SHIM_CONTAINER_H
#define SHIM_CONTAINER_H

#include "error.h"
#include "shim.h"

/* The live (not deleted) container `id`, or NULL; lock held. */
struct shim_container *container_find_locked(struct shim *s, const char *id);
/* The same, or ENOENT naming the id. */
struct shim_container *container_get(struct shim *s, const char *id, runm_error_t *err);
/* A new container `id` in the table (bundle: its bundle dir), created =
 * true; EEXIST when a live one has that id. */
struct shim_container *container_add(struct shim *s, const char *id, const char *bundle,
                                     runm_error_t *err);
/* Live containers in the table; lock held. */
unsigned container_count_locked(struct shim *s);

/* The process exec_id ("" or NULL: the init) of c, or NULL; lock held. */
struct shim_process *proc_find_locked(struct shim_container *c, const char *exec_id);
/* A new process record (not yet in c's list). */
struct shim_process *proc_new(struct shim_container *c, const char *exec_id, const char *in,
                              const char *out, const char *errp, bool terminal);
/* Frees p and its stdio relay (p is out of every list). */
void proc_free(struct shim_process *p);

/* Frees every process record of c (relays first: they use the VM). */
void container_free_procs(struct shim_container *c);
/* Removes what Create made on the host for c (a pod member's slot, its
 * exports, rootfs mount, runm-bindfs mounts). After the VM no longer reads
 * c's exports: a member's any time, the first container's with the VM. */
void container_release_host(struct shim_container *c);
/* Frees the table (at exit, after everything else). */
void container_table_free(struct shim *s);

#endif

/* The names the shim derives from containerd's identifiers (names.c). */
#ifndef SHIM_NAMES_H
#define SHIM_NAMES_H

#include <stddef.h>

/* The VM id for a (namespace, id) pair, the same in the serving shim and
 * in `delete`, and never the same for two pairs: `ns-id` when that reads
 * back one way (ns without '-', neither with '_', at most RUNM_VM_ID_MAX),
 * else `<hint>_<digest>`: a readable hint of at most SHIM_VM_ID_HINT
 * characters and SHIM_VM_ID_DIGEST hex digits of SHA-256 over the pair.
 * "" when no digest could be made (out of memory). */
#define SHIM_VM_ID_HINT 31
#define SHIM_VM_ID_DIGEST 32
void shim_vm_id(const char *ns, const char *id, char *out, size_t len);
/* The first hex_chars (at most 64) hex digits of SHA-256 over the parts,
 * each with its terminating NUL: the collision-resistant short names of
 * sockets and pool dirs. out holds hex_chars + 1; "" on failure. */
void shim_digest_hex(const char *const *parts, size_t n, char *out, size_t hex_chars);

#endif

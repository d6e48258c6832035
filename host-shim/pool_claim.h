/* The pool's claim message and the pool dir (pool_claim.c), shared by
 * `start` (pool_claim) and the idle shim (pool.c). */
#ifndef SHIM_POOL_CLAIM_H
#define SHIM_POOL_CLAIM_H

#include <stddef.h>

#include "pool.h"

/* <state>/pool/<hash of containerd's address>, made if missing. */
int pool_dir_of(const struct shim_config *cfg, const char *address, char *out, size_t len, runm_error_t *err);

/* One claim from a connected client: 1 = taken (c, *lfd filled), 0 =
 * refused (answered, every fd it carried closed). */
int pool_claim_take(int cfd, const char *address, struct pool_claim *c, int *lfd,
                    const struct runm_logger *log);
int pool_claim_reply(int fd, const char *msg);

#endif

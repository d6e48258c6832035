/* uid/gid mapping in bindfs's `map=` syntax: `A/B:@G/@H` shows source owner
 * A as B in the mount (and group G as H), and stores B as A when files are
 * created or chowned through the mount. Ids not named pass through. */
#ifndef BINDFS_MAP_H
#define BINDFS_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define BINDFS_MAP_MAX 64

struct bindfs_idmap {
  uint32_t from[BINDFS_MAP_MAX]; /* source-side id */
  uint32_t to[BINDFS_MAP_MAX];   /* what the mount shows */
  size_t n;
};

struct bindfs_map {
  struct bindfs_idmap uid, gid;
};

/* Adds the pairs of one `map=` value (colon-separated USER/USER and
 * @GROUP/@GROUP, by number or name). A pair that would make the mapping
 * ambiguous (an id mapped twice either way) is an error. */
int bindfs_map_parse(struct bindfs_map *m, const char *spec, runm_error_t *err);

/* Source id -> the id the mount shows. */
uint32_t bindfs_map_show(const struct bindfs_idmap *m, uint32_t id);
/* Id given in the mount (caller, chown) -> the id stored in the source. */
uint32_t bindfs_map_store(const struct bindfs_idmap *m, uint32_t id);

#endif

/* runm-bindfs's `-o` options: its own (ro, map=, cache and tuning knobs)
 * and the FUSE/kernel mount options it passes on to libfuse. Everything
 * else is refused by name before anything is mounted. */
#ifndef BINDFS_OPTIONS_H
#define BINDFS_OPTIONS_H

#include <stdbool.h>

#include "error.h"
#include "map.h"

enum bindfs_cache {
  BINDFS_CACHE_AUTO = 0, /* 1 s attr/entry timeouts; keep page cache, dropped when mtime/size change */
  BINDFS_CACHE_NEVER,    /* no attr/entry caching, page cache dropped on every open */
  BINDFS_CACHE_ALWAYS,   /* long timeouts: only for sources nobody changes behind the mount */
};

struct bindfs_options {
  bool ro;
  bool allow_other;
  bool default_permissions;    /* asked for, or implied by allow_other */
  bool no_default_permissions; /* allow_other without kernel permission checks */
  bool debug;
  bool writeback;   /* kernel writeback cache (off: changes when mtime is set) */
  bool direct_io;   /* bypass the page cache (off: breaks shared mmap, exec) */
  bool no_splice;   /* copy instead of splicing file data */
  bool no_readdirplus;
  enum bindfs_cache cache;
  double attr_timeout, entry_timeout, negative_timeout; /* < 0: from cache= */
  unsigned max_threads; /* > 1: multithreaded loop; else one thread */
  struct bindfs_map map;
  char *fuse_opts; /* comma-joined, for libfuse's -o; NULL when none */
};

void bindfs_options_init(struct bindfs_options *o);
/* One -o argument (comma-separated, `\,` escapes a comma); may be called
 * for each -o given. */
int bindfs_options_parse(struct bindfs_options *o, const char *optstr, runm_error_t *err);
/* After the last -o: settles defaults and adds fsname=SRC and
 * subtype=runm-bindfs unless given. */
int bindfs_options_finish(struct bindfs_options *o, const char *src, runm_error_t *err);
void bindfs_options_free(struct bindfs_options *o);

#endif

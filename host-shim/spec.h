/* What the shim needs from a bundle's OCI config.json: the host directories
 * its bind mounts name (to share into the VM) and its resource limits (to
 * size the VM). */
#ifndef SHIM_SPEC_H
#define SHIM_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ports.h"

#define SPEC_MAX_BINDS 16

struct spec_bind {
  char *source; /* absolute host path */
  bool readonly;
  bool is_dir;
};

#define RUNM_HOST_LOOPBACK_ANNOTATION "io.runm.host-loopback"

struct spec_info {
  struct spec_bind binds[SPEC_MAX_BINDS];
  size_t n_binds;
  int64_t memory_limit; /* bytes, 0 = none */
  double cpus;          /* quota/period, 0 = none */
  bool terminal;
  char *root; /* root.path made absolute (relative = under the bundle) */
  /* Annotations io.runm.net (user|none) and io.runm.ports (ports.h syntax),
   * checked strictly: a bad value fails the create before anything starts. */
  enum runm_net_mode net;
  struct runm_port_forward ports[RUNM_PORTS_MAX];
  size_t n_ports;
  bool host_loopback; /* io.runm.host-loopback=true: 10.0.2.2 is the host's 127.0.0.1 */
  /* net == RUNM_NET_TAP: the spec's network namespace path, or NULL for a
   * namespace the shim makes (netmode.h). */
  char *netns_path;
};

/* From a parsed config.json (left untouched); relative paths are under
 * bundle. */
int spec_parse(json_object *root, const char *bundle, struct spec_info *info, runm_error_t *err);
/* The same, parsing <bundle>/config.json itself. */
int spec_read(const char *bundle, struct spec_info *info, runm_error_t *err);
void spec_free(struct spec_info *info);

#endif

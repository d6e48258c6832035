/* Which network a task's VM gets, from its spec (docs/networking.md):
 *
 *   annotation io.runm.net=user|none|tap      as named
 *   no network namespace in linux.namespaces  user (host network: a VM
 *                                             cannot share the host's stack)
 *   a network namespace with a path           tap, in that namespace (CRI,
 *                                             `nerdctl --network ns:PATH`)
 *   a new network namespace and network hooks tap, in a namespace the shim
 *   (prestart, createRuntime or poststop)     makes (nerdctl's CNI hooks)
 *   a new network namespace, no such hooks    user (plain `ctr run`)
 */
#ifndef SHIM_NETMODE_H
#define SHIM_NETMODE_H

#include <json-c/json.h>

#include "error.h"
#include "ports.h"

/* *ns_path: the spec's namespace path (inside spec), NULL for a new one;
 * meaningful for RUNM_NET_TAP only. */
int spec_net_choose(json_object *spec, enum runm_net_mode *mode, const char **ns_path, runm_error_t *err);

#endif

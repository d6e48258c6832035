/* DNS for a container under runm's user-mode network: what its
 * /etc/resolv.conf says (docs/networking.md, "DNS"). */
#ifndef SHIM_RESOLV_H
#define SHIM_RESOLV_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ports.h"

/* slirp's DNS forwarder: it answers from the host's own resolver. */
#define RESOLV_SLIRP_DNS "10.0.2.3"
/* The file runm writes in the task's export dir (exports.h), exported to
 * the guest alone and read-only; never in the bundle. */
#define RESOLV_FILE "runm-resolv.conf"
#define RESOLV_MAX 65536

/* Rewrites resolv.conf text for the guest: nameservers the guest cannot
 * reach (loopback: 127.0.0.0/8, ::1, 0.0.0.0, e.g. systemd-resolved's
 * 127.0.0.53) become one `nameserver 10.0.2.3`; every other line is kept.
 * Returns 1 and a heap string in *out when something changed, 0 when the
 * text needs no change (*out = NULL), -1 on error. */
int resolv_rewrite(const char *in, char **out, runm_error_t *err);

/* Applies runm's DNS rule to the guest copy of a spec (a json-c object), a
 * step of guest_spec_build:
 * - annotation io.runm.net=none: nothing;
 * - a bind mount on /etc/resolv.conf whose file names an unreachable
 *   server: its source becomes <dir>/runm-resolv.conf with the rewrite;
 * - no mount on /etc/resolv.conf: one is added (read-only bind of
 *   <dir>/runm-resolv.conf: `nameserver 10.0.2.3`), as Docker and
 *   nerdctl always give a container one.
 * A bind source that cannot be read is left for runc to report. The file
 * (mode 0644) lives in `dir`, the task's export dir, removed with it. */
int resolv_apply(json_object *spec, const char *dir, runm_error_t *err);

#endif

/* The guest copy of a bundle's config.json: what runc inside the VM runs.
 * The host bundle is never modified; see docs/hooks.md. */
#ifndef SHIM_GUEST_SPEC_H
#define SHIM_GUEST_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Largest host config.json the shim reads (containerd's are ~10-50 KB). */
#define SPEC_JSON_MAX (1024 * 1024)

/* runm-fork-exec-proxy in the guest (the mbin image is mounted at /mbin).
 * It finds init at /run/runm/host.sock (guest/init/hostlink.h). */
#define GUEST_PROXY_PATH "/mbin/bin/runm-fork-exec-proxy"
/* The host enforces a hook's timeout; runc's own timer in the guest gets
 * this much more, so that the host's report (and kill) comes first. */
#define GUEST_HOOK_TIMEOUT_GRACE_S 5
/* Hooks of one kind a spec may list. */
#define SPEC_MAX_HOOKS 64

/* The six hook kinds runc runs, in the order it runs them. Every kind
 * but startContainer names a host binary and runs on the host; a
 * startContainer hook's path resolves in the container (OCI: "MUST resolve
 * in the container namespace", e.g. the image's ldconfig), so the guest's
 * runc runs it there, unchanged. */
extern const char *const spec_hook_kinds[6];
#define SPEC_N_HOOK_KINDS 6
#define SPEC_HOOK_START_CONTAINER 3

/* o[key] when o is an object and has it, else NULL. */
json_object *spec_member(json_object *o, const char *key);
/* Sets o[key] to a new string (the spec copies these helpers share). */
int spec_set_string(json_object *o, const char *key, const char *value, runm_error_t *err);
/* Whether a mount's "options" array holds `want`. */
bool spec_has_option(json_object *opts, const char *want);

/* Parses <bundle>/config.json (at most SPEC_JSON_MAX bytes). */
int spec_json_load(const char *bundle, json_object **out, runm_error_t *err);

struct guest_spec {
  char *json; /* NUL-terminated */
  size_t len;
};

/* Builds the guest copy of host_spec (left untouched): root.path and
 * relative bind sources made absolute under `bundle`; the network
 * namespace removed (the VM is the isolation boundary and containers use
 * its network); every host-side hook's path replaced by the proxy, with
 * RUNM_HOOK=<kind>:<index> and RUNM_HOOK_PATH=<path> appended to its env,
 * args kept (an empty args becomes [path], as runc would run it), timeout
 * + GUEST_HOOK_TIMEOUT_GRACE_S. */
int guest_spec_build(json_object *host_spec, const char *bundle, struct guest_spec *out,
                     runm_error_t *err);
void guest_spec_free(struct guest_spec *gs);

#endif

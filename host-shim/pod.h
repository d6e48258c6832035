/* Pods: several containers in one shim and one VM (docs/containerd.md,
 * docs/security-parts/pods.md). What a spec says about the pod it belongs
 * to, from its annotations, the way runc-v2 and CRI read them. */
#ifndef SHIM_POD_H
#define SHIM_POD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* runm's own group, for users without CRI (runc-v2 has
 * io.containerd.runc.v2.group): containers with one value share a shim and
 * a VM. Looked at first, as runc-v2 looks at its own first. */
#define POD_GROUP_ANNOTATION "io.runm.group"
#define POD_CRI_SANDBOX_ID "io.kubernetes.cri.sandbox-id"
#define POD_CRI_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define POD_CRI_SANDBOX_MEMORY "io.kubernetes.cri.sandbox-memory"
#define POD_CRI_SANDBOX_CPU_QUOTA "io.kubernetes.cri.sandbox-cpu-quota"
#define POD_CRI_SANDBOX_CPU_PERIOD "io.kubernetes.cri.sandbox-cpu-period"

struct pod_info {
  /* The group the container's shim serves: io.runm.group, else CRI's
   * sandbox id, else the container's own id (not in a pod). */
  char group[128];
  bool grouped;  /* one of the annotations named the group */
  bool sandbox;  /* CRI's sandbox (pause) container: it boots the pod's VM */
  bool member;   /* CRI's app container: it needs its sandbox's shim */
  /* The pod's size as CRI passes it (0: not given). */
  uint64_t memory_bytes;
  double cpus;
};

/* From a parsed config.json (NULL: no spec, not in a pod). A group value
 * that is empty or too long is an error naming it. */
int pod_info_read(json_object *spec, const char *id, struct pod_info *out, runm_error_t *err);

/* Namespace paths of a pod member's spec: CRI names the sandbox's
 * namespaces by host path, /proc/<host_pid>/ns/<type>, where host_pid is
 * the pid the shim gave the sandbox (its QEMU's). Each such path becomes
 * /proc/<guest_pid>/ns/<type>, the sandbox process's in the guest; the
 * network namespace is left to guest_spec_build (the VM's network). Any
 * other path names something outside the pod: an error. */
int pod_rewrite_namespaces(json_object *spec, int host_pid, int guest_pid, runm_error_t *err);

/* Whether the spec lists any OCI hook (a pod member's are refused: the
 * hooks' allow-list is the VM's, made from the first container's spec). */
bool pod_spec_has_hooks(json_object *spec);

#endif

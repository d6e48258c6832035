/* Pods (host-shim/pod.c): which shim a container's `start` reaches (its
 * group, as runc-v2 reads it), the pod's size, and the namespace paths of
 * a pod member turned into the sandbox's in the guest, anything else
 * refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pod.h"
#include "tap.h"

static json_object *parse(const char *s)
{
  return json_tokener_parse(s);
}

static const char *ns_path(json_object *spec, size_t i)
{
  json_object *l, *ns, *n, *p;
  if (!json_object_object_get_ex(spec, "linux", &l) || !json_object_object_get_ex(l, "namespaces", &ns)) return NULL;
  n = json_object_array_get_idx(ns, i);
  return json_object_object_get_ex(n, "path", &p) ? json_object_get_string(p) : NULL;
}

int main(void)
{
  struct pod_info pi;
  runm_error_t err = NULL;
  json_object *spec;

  ok(pod_info_read(NULL, "c1", &pi, &err) == 0 && strcmp(pi.group, "c1") == 0 && !pi.grouped && !pi.sandbox,
     "no spec: the container's own shim");

  spec = parse("{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"sb\",\"io.kubernetes.cri.container-type\":\"sandbox\","
               "\"io.kubernetes.cri.sandbox-memory\":\"536870912\",\"io.kubernetes.cri.sandbox-cpu-quota\":\"150000\","
               "\"io.kubernetes.cri.sandbox-cpu-period\":\"100000\"}}");
  ok(pod_info_read(spec, "sb", &pi, &err) == 0, "CRI sandbox read");
  is_str(pi.group, "sb", "CRI sandbox: group is the sandbox id");
  ok(pi.grouped && pi.sandbox && !pi.member, "CRI sandbox: grouped, the sandbox");
  ok(pi.memory_bytes == 536870912ull, "sandbox-memory read");
  ok(pi.cpus > 1.49 && pi.cpus < 1.51, "cpu quota/period read");
  json_object_put(spec);

  spec = parse("{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"sb\",\"io.kubernetes.cri.container-type\":\"container\"}}");
  ok(pod_info_read(spec, "app", &pi, &err) == 0 && strcmp(pi.group, "sb") == 0 && pi.member && !pi.sandbox,
     "CRI app container: the sandbox's group, a member");
  json_object_put(spec);

  spec = parse("{\"annotations\":{\"io.runm.group\":\"g1\",\"io.kubernetes.cri.sandbox-id\":\"sb\"}}");
  ok(pod_info_read(spec, "x", &pi, &err) == 0 && strcmp(pi.group, "g1") == 0, "runm's group first, like runc-v2's");
  json_object_put(spec);

  spec = parse("{\"annotations\":{\"io.runm.group\":\"\"}}");
  ok(pod_info_read(spec, "x", &pi, &err) < 0 && err && err->status == EINVAL && strstr(err->msg, "io.runm.group"),
     "empty group: refused, naming the annotation");
  runm_error_release(&err);
  json_object_put(spec);

  spec = parse("{\"annotations\":{\"io.kubernetes.cri.sandbox-memory\":\"lots\"}}");
  ok(pod_info_read(spec, "x", &pi, &err) < 0 && err && strstr(err->msg, "sandbox-memory"), "bad sandbox-memory: refused");
  runm_error_release(&err);
  json_object_put(spec);

  spec = parse("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\",\"path\":\"/proc/4242/ns/ipc\"},"
               "{\"type\":\"uts\",\"path\":\"/proc/4242/ns/uts\"},{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"},"
               "{\"type\":\"mount\"}]}}");
  ok(pod_rewrite_namespaces(spec, 4242, 17, &err) == 0, "sandbox namespaces rewritten");
  ok(ns_path(spec, 0) == NULL, "a new namespace stays new");
  is_str(ns_path(spec, 1), "/proc/17/ns/ipc", "ipc: the sandbox's in the guest");
  is_str(ns_path(spec, 2), "/proc/17/ns/uts", "uts: the sandbox's in the guest");
  is_str(ns_path(spec, 3), "/var/run/netns/cni-1", "network: left to guest_spec_build");
  json_object_put(spec);

  spec = parse("{\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/proc/1/ns/ipc\"}]}}");
  ok(pod_rewrite_namespaces(spec, 4242, 17, &err) < 0 && err && err->status == EINVAL && strstr(err->msg, "/proc/1/ns/ipc"),
     "another process's namespace: refused, named");
  runm_error_release(&err);
  json_object_put(spec);

  spec = parse("{\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/proc/4242/ns/../../1/ns/ipc\"}]}}");
  ok(pod_rewrite_namespaces(spec, 4242, 17, &err) < 0 && err, "a path climbing out of /proc/<pid>/ns: refused");
  runm_error_release(&err);
  json_object_put(spec);

  spec = parse("{\"hooks\":{\"prestart\":[]}}");
  ok(!pod_spec_has_hooks(spec), "empty hook lists: no hooks");
  json_object_put(spec);
  spec = parse("{\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\"}]}}");
  ok(pod_spec_has_hooks(spec), "a poststop hook: hooks");
  json_object_put(spec);
  return tap_done();
}

/* The state JSON a hook on the host reads on stdin (hooks_priv.h): built
 * by the host from what it knows, the guest's version checked and
 * rebuilt, never passed on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_spec.h"
#include "hooks_priv.h"

/* Rebuilds the state the guest's runc wrote: its status (one of the OCI
 * states) is kept, the id must be the task's, the pid is the task's QEMU
 * (the guest's pid would name an unrelated host process: nerdctl's hooks
 * enter /proc/<pid>/ns/net), the bundle is the host's and the annotations
 * the host spec's. */
int hooks_fix_state(struct hooks *h, const ProtobufCBinaryData *in, char **out, runm_error_t *err)
{
  static const char *const statuses[] = {"creating", "created", "running", "stopped"};
  struct json_tokener *tok = json_tokener_new();
  json_object *st, *v;
  const char *s;
  bool status_ok = false;
  int ret = -1;

  if (tok == NULL) return runm_make_error(err, ENOMEM, "state");
  st = json_tokener_parse_ex(tok, (const char *)in->data, (int)in->len);
  if (st == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      !json_object_is_type(st, json_type_object)) {
    runm_make_error(err, EINVAL, "the hook's state is not a JSON object");
    goto out;
  }
  s = json_object_get_string(spec_member(st, "id"));
  if (!json_object_is_type(spec_member(st, "id"), json_type_string) || strcmp(s, h->id) != 0) {
    char shown[80];
    hooks_printable(s, shown, sizeof(shown));
    runm_make_error(err, EPERM, "the hook's state names container `%s`, not this task's `%s`",
                    shown, h->id);
    goto out;
  }
  s = json_object_get_string(spec_member(st, "status"));
  for (size_t i = 0; s && i < sizeof(statuses) / sizeof(statuses[0]); i++)
    if (json_object_is_type(spec_member(st, "status"), json_type_string) && strcmp(s, statuses[i]) == 0)
      status_ok = true;
  if (!status_ok) {
    runm_make_error(err, EINVAL, "the hook's state has no valid status");
    goto out;
  }
  v = spec_member(st, "ociVersion");
  ret = hooks_state_json(h, json_object_is_type(v, json_type_string) && json_object_get_string_len(v) < 64
                                ? json_object_get_string(v) : NULL,
                         s, out, err);
out:
  if (st) json_object_put(st);
  json_tokener_free(tok);
  return ret;
}

int hooks_state_json(struct hooks *h, const char *oci_version, const char *status, char **out,
                     runm_error_t *err)
{
  json_object *res = json_object_new_object(), *a = NULL;
  const char *text;
  pid_t pid;
  int ret = -1;

  if (res == NULL) goto oom;
  if (oci_version && json_object_object_add(res, "ociVersion", json_object_new_string(oci_version)) < 0) goto oom;
  if (json_object_object_add(res, "id", json_object_new_string(h->id)) < 0 ||
      json_object_object_add(res, "status", json_object_new_string(status)) < 0)
    goto oom;
  pthread_mutex_lock(&h->lock);
  pid = h->pid;
  pthread_mutex_unlock(&h->lock);
  if (pid > 0 && json_object_object_add(res, "pid", json_object_new_int64(pid)) < 0) goto oom;
  if (json_object_object_add(res, "bundle", json_object_new_string(h->bundle)) < 0) goto oom;
  if (h->annotations ? json_object_deep_copy(h->annotations, &a, NULL) < 0 : (a = json_object_new_object()) == NULL)
    goto oom;
  pthread_mutex_lock(&h->lock);
  /* The namespace mode: nerdctl >= 2.0 runs CNI on this path (before
   * /proc/<pid>/ns/net), which stays valid after QEMU is gone. */
  ret = h->netns ? json_object_object_add(a, "nerdctl/network-namespace", json_object_new_string(h->netns)) : 0;
  pthread_mutex_unlock(&h->lock);
  if (ret < 0) goto oom;
  ret = -1;
  if (json_object_object_length(a) == 0) {
    json_object_put(a);
  } else if (json_object_object_add(res, "annotations", a) < 0) {
    json_object_put(a);
    goto oom;
  }
  a = NULL;
  text = json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  *out = text ? strdup(text) : NULL;
  if (*out == NULL) goto oom;
  ret = 0;
  goto out;
oom:
  json_object_put(a);
  runm_make_error(err, ENOMEM, "state");
out:
  if (res) json_object_put(res);
  return ret;
}

void hooks_set_netns(struct hooks *h, const char *path)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  free(h->netns);
  h->netns = path && path[0] ? strdup(path) : NULL;
  pthread_mutex_unlock(&h->lock);
}

void hooks_set_timing_id(struct hooks *h, const char *vm_id)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  snprintf(h->timing_id, sizeof(h->timing_id), "%s", vm_id ? vm_id : "");
  pthread_mutex_unlock(&h->lock);
}

void hooks_set_pid(struct hooks *h, pid_t pid)
{
  if (h == NULL) return;
  pthread_mutex_lock(&h->lock);
  h->pid = pid;
  pthread_mutex_unlock(&h->lock);
}


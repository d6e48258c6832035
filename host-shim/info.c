/* `-info` (info.h). */
#include "info.h"

#include <errno.h>
#include <stdlib.h>

#include "containerd/types/introspection.pb-c.h"
#include "google/protobuf/any.pb-c.h"

int shim_runtime_info(const uint8_t *opts, size_t len, uint8_t **out, size_t *out_len, runm_error_t *err)
{
  Containerd__Types__RuntimeInfo info = CONTAINERD__TYPES__RUNTIME_INFO__INIT;
  Containerd__Types__RuntimeVersion version = CONTAINERD__TYPES__RUNTIME_VERSION__INIT;
  Google__Protobuf__Any *any = NULL;

  *out = NULL;
  *out_len = 0;
  if (len > SHIM_INFO_OPTIONS_MAX)
    return runm_make_error(err, E2BIG, "runtime options of %zu bytes; at most %d", len, SHIM_INFO_OPTIONS_MAX);
  if (len > 0) {
    any = google__protobuf__any__unpack(NULL, len, opts);
    /* Not an Any, or one without a type: not ours to echo. */
    if (any && (any->type_url == NULL || any->type_url[0] == '\0')) {
      google__protobuf__any__free_unpacked(any, NULL);
      any = NULL;
    }
  }
  info.name = (char *)SHIM_RUNTIME_NAME;
  version.version = (char *)SHIM_VERSION;
  version.revision = (char *)"";
  info.version = &version;
  info.options = any;
  *out_len = containerd__types__runtime_info__get_packed_size(&info);
  *out = malloc(*out_len ? *out_len : 1);
  if (*out == NULL) {
    if (any) google__protobuf__any__free_unpacked(any, NULL);
    return runm_make_error(err, ENOMEM, "RuntimeInfo");
  }
  containerd__types__runtime_info__pack(&info, *out);
  if (any) google__protobuf__any__free_unpacked(any, NULL);
  return 0;
}

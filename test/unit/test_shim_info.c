/* `containerd-shim-runm-v1 -info` (host-shim/info.c), which containerd 2.2+
 * calls on every Create: a RuntimeInfo that containerd's own descriptor
 * decodes, with runm's name and version, the options echoed when they are
 * an Any, and an answer whatever else stdin holds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "containerd/types/introspection.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "info.h"
#include "tap.h"

static Containerd__Types__RuntimeInfo *info_of(const uint8_t *in, size_t len)
{
  runm_error_t err = NULL;
  uint8_t *out = NULL;
  size_t n = 0;
  Containerd__Types__RuntimeInfo *ri = NULL;
  if (shim_runtime_info(in, len, &out, &n, &err) == 0) ri = containerd__types__runtime_info__unpack(NULL, n, out);
  runm_error_release(&err);
  free(out);
  return ri;
}

int main(void)
{
  Containerd__Types__RuntimeInfo *ri;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  uint8_t buf[256], junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  size_t n;
  runm_error_t err = NULL;
  uint8_t *out = NULL;

  ri = info_of(NULL, 0);
  ok(ri && strcmp(ri->name, "io.containerd.runm.v1") == 0, "no options: RuntimeInfo with runm's name");
  ok(ri && ri->version && strcmp(ri->version->version, SHIM_VERSION) == 0, "and its version");
  ok(ri && ri->options == NULL, "and no options");
  containerd__types__runtime_info__free_unpacked(ri, NULL);

  any.type_url = "containerd.runc.v1.Options";
  any.value.data = (uint8_t *)"\x0a\x04runc";
  any.value.len = 6;
  n = google__protobuf__any__pack(&any, buf);
  ri = info_of(buf, n);
  ok(ri && ri->options && strcmp(ri->options->type_url, "containerd.runc.v1.Options") == 0 &&
         ri->options->value.len == 6 && memcmp(ri->options->value.data, "\x0a\x04runc", 6) == 0,
     "options on stdin (an Any): echoed");
  containerd__types__runtime_info__free_unpacked(ri, NULL);

  ri = info_of(junk, sizeof(junk));
  ok(ri && strcmp(ri->name, "io.containerd.runm.v1") == 0 && ri->options == NULL,
     "bytes that are no Any: still an answer, without options");
  containerd__types__runtime_info__free_unpacked(ri, NULL);

  {
    uint8_t *big = calloc(1, SHIM_INFO_OPTIONS_MAX + 1);
    ok(big && shim_runtime_info(big, SHIM_INFO_OPTIONS_MAX + 1, &out, &n, &err) < 0 && err && err->status == E2BIG,
       "options over the limit: E2BIG");
    runm_error_release(&err);
    free(big);
    free(out);
  }
  return tap_done();
}

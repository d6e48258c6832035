/* libFuzzer target for the published-ports parser (lib/vm/ports.c): what a
 * spec annotation or a --publish argument controls. Besides not crashing:
 * every accepted entry formats to text the parser accepts again with the
 * same result (a round trip), and every field is in range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct runm_port_forward pf[RUNM_PORTS_MAX], again[RUNM_PORTS_MAX];
  runm_error_t err = NULL;
  size_t n = 0;
  char *spec = malloc(size + 1);

  if (spec == NULL) return 0;
  memcpy(spec, data, size);
  spec[size] = '\0';
  if (runm_ports_parse(spec, pf, RUNM_PORTS_MAX, &n, &err) < 0) {
    if (err == NULL || err->msg == NULL || n != 0) abort(); /* every error has a message */
    runm_error_release(&err);
    free(spec);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char text[64];
    size_t m = 0;
    if (pf[i].host_port == 0 || pf[i].guest_port == 0) abort();
    if (pf[i].proto != RUNM_PORT_TCP && pf[i].proto != RUNM_PORT_UDP) abort();
    snprintf(text, sizeof(text), "%s:%u:%u/%s", pf[i].host_addr, (unsigned)pf[i].host_port,
             (unsigned)pf[i].guest_port, runm_port_proto_name(pf[i].proto));
    if (runm_ports_parse(text, again, RUNM_PORTS_MAX, &m, &err) < 0 || m != 1 ||
        memcmp(&again[0], &pf[i], sizeof(pf[i])) != 0)
      abort();
  }
  free(spec);
  return 0;
}

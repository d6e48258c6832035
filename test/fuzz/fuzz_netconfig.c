/* libFuzzer target: runm.v1.NetworkConfig as runm-linux-init takes it
 * (guest/init/net_tap_check.c): any bytes that unpack and pass the check
 * must describe without overrunning, and describe only what was checked
 * (every address and gateway 4 or 16 bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Runm__V1__NetworkConfig *c = runm__v1__network_config__unpack(NULL, size, data);
  runm_error_t err = NULL;
  char out[256];

  if (c == NULL) return 0;
  if (net_tap_check(c, &err) == 0) {
    if (c->mac.len != 6) abort();
    for (size_t i = 0; i < c->n_addresses; i++)
      if (c->addresses[i]->addr.len != 4 && c->addresses[i]->addr.len != 16) abort();
    for (size_t i = 0; i < c->n_routes; i++)
      if (c->routes[i]->gateway.len && c->routes[i]->gateway.len != c->routes[i]->dst.len) abort();
    net_tap_describe(c, "eth0", out, sizeof(out));
    if (strlen(out) >= sizeof(out)) abort();
  }
  runm_error_release(&err);
  runm__v1__network_config__free_unpacked(c, NULL);
  return 0;
}


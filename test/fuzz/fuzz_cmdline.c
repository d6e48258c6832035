/* libFuzzer target for the kernel command-line parser (lib/cmdline.c),
 * which the guest's mounter and init use on whatever command line they were
 * booted with. The first byte picks the output buffer size, the rest is the
 * command line. Besides not crashing: only 1, 0 or -ENAMETOOLONG come back;
 * a value found fits its buffer and is a substring of the command line (the
 * parser only strips quotes around it); out is untouched otherwise. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const keys[] = {"runm.transport", "runm.id", "a", "root", "init", "\"a"};
  static const size_t lens[] = {1, 2, 8, 64, RUNM_CMDLINE_MAX};
  char *line, out[RUNM_CMDLINE_MAX];
  size_t outlen;

  if (size < 1) return 0;
  outlen = lens[data[0] % (sizeof(lens) / sizeof(lens[0]))];
  size--;
  if (size >= RUNM_CMDLINE_MAX) size = RUNM_CMDLINE_MAX - 1;
  line = malloc(size + 1);
  if (line == NULL) return 0;
  memcpy(line, data + 1, size);
  line[size] = '\0';
  for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
    int r;
    memset(out, 0x5a, sizeof(out));
    r = runm_cmdline_get(line, keys[k], out, outlen);
    if (r == 1) {
      size_t n = strnlen(out, outlen);
      if (n >= outlen) __builtin_trap();
      if (n > 0 && memmem(line, strlen(line), out, n) == NULL) __builtin_trap();
    } else if (r == 0 || r == -ENAMETOOLONG) {
      for (size_t i = 0; i < outlen; i++)
        if (out[i] != 0x5a) __builtin_trap();
    } else {
      __builtin_trap();
    }
  }
  free(line);
  return 0;
}

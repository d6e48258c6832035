/* libFuzzer target for the pool claim message (host-shim/pool.c): what a
 * claiming `start` sends an idle shim on its claim socket. It includes
 * pool.c to reach its static claim_decode/claim_encode unchanged. Besides
 * not crashing: a decoded claim has its required fields (namespace, id, an
 * absolute bundle), every field is NUL-terminated within its buffer, and it
 * encodes to a message that decodes to the same claim. */
#include "../../host-shim/pool.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct pool_claim c, again;
  static char buf[CLAIM_MAX];
  runm_error_t err = NULL;
  size_t n;

  if (size > CLAIM_MAX) return 0; /* the socket reads at most this */
  if (claim_decode((const char *)data, size, &c, &err) < 0) {
    if (err == NULL || err->msg == NULL) __builtin_trap();
    runm_error_release(&err);
    return 0;
  }
  if (c.ns[0] == '\0' || c.id[0] == '\0' || c.bundle[0] != '/') __builtin_trap();
  if (memchr(c.ns, '\0', sizeof(c.ns)) == NULL || memchr(c.id, '\0', sizeof(c.id)) == NULL ||
      memchr(c.address, '\0', sizeof(c.address)) == NULL ||
      memchr(c.publish_binary, '\0', sizeof(c.publish_binary)) == NULL ||
      memchr(c.ttrpc_address, '\0', sizeof(c.ttrpc_address)) == NULL ||
      memchr(c.bundle, '\0', sizeof(c.bundle)) == NULL)
    __builtin_trap();
  n = claim_encode(&c, buf, sizeof(buf));
  if (n == 0 || n > size + 1) __builtin_trap();
  if (claim_decode(buf, n, &again, &err) < 0 || memcmp(&c, &again, sizeof(c)) != 0)
    __builtin_trap();
  return 0;
}

/* Decoding a peer's protobuf message within a budget: what the rpc layer
 * uses for every message it receives, and what the fuzzers drive. No gRPC
 * here, so a fuzzer links only this, error.c and the generated code. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "rpc.h"
#include "rpc_codec.h"

/* protobuf-c allocates through this while decoding: plain malloc (so the
 * message is freed with free_unpacked(m, NULL) as any other), counted. */
struct budget {
  size_t bytes_left, blocks_left;
  bool exceeded;
};

static void *budget_alloc(void *data, size_t size)
{
  struct budget *b = data;
  if (size > b->bytes_left || b->blocks_left == 0) {
    b->exceeded = true;
    return NULL;
  }
  b->bytes_left -= size;
  b->blocks_left--;
  return malloc(size);
}

static void budget_free(void *data, void *p)
{
  (void)data;
  free(p);
}

int runm_rpc_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    ProtobufCMessage **out, runm_error_t *err)
{
  struct budget b = {RUNM_RPC_MAX_DECODED, RUNM_RPC_MAX_DECODED_BLOCKS, false};
  ProtobufCAllocator a = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};

  *out = NULL;
  if (len > RUNM_RPC_MAX_MESSAGE)
    return runm_make_error(err, EMSGSIZE, "%s message of %zu bytes exceeds the %d-byte limit",
                           d->name, len, RUNM_RPC_MAX_MESSAGE);
  *out = protobuf_c_message_unpack(d, &a, len, buf);
  if (*out == NULL && b.exceeded)
    return runm_make_error(err, EMSGSIZE,
                           "%s message of %zu bytes decodes to more than %d bytes in %d blocks",
                           d->name, len, RUNM_RPC_MAX_DECODED, RUNM_RPC_MAX_DECODED_BLOCKS);
  if (*out == NULL) return runm_make_error(err, EINVAL, "malformed %s message", d->name);
  return 0;
}

/* Internal to the rpc layer: protobuf-c messages <-> gRPC byte buffers. */
#ifndef RUNM_RPC_CODEC_H
#define RUNM_RPC_CODEC_H

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

#include "error.h"

grpc_byte_buffer *runm_rpc_pack(const ProtobufCMessage *msg, runm_error_t *err);
/* Unpacks at most `max` bytes; a larger buffer is an error (EMSGSIZE). */
int runm_rpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d, size_t max,
                    ProtobufCMessage **out, runm_error_t *err);
/* Decodes len bytes (at most RUNM_RPC_MAX_MESSAGE) as a message of type d,
 * allocating at most RUNM_RPC_MAX_DECODED bytes in RUNM_RPC_MAX_DECODED_BLOCKS
 * blocks: EMSGSIZE beyond either, EINVAL when malformed. Free *out with
 * protobuf_c_message_free_unpacked(*out, NULL). Pure: the fuzzers call it. */
int runm_rpc_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    ProtobufCMessage **out, runm_error_t *err);

#endif

/* gRPC client: unary calls over a unix target or a caller-connected socket,
 * with a cancel-everything switch for when the peer VM dies. */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "rpc_codec.h"

struct inflight {
  grpc_call *call;
  struct inflight *next;
};

struct runm_rpc_client {
  grpc_channel *ch;
  pthread_mutex_t lock; /* guards calls, cancelled, cancel_why */
  struct inflight *calls;
  bool cancelled;
  char *cancel_why;
};

struct runm_rpc_client *runm_rpc_client_new(const char *target, int fd, runm_error_t *err)
{
  struct runm_rpc_client *c = calloc(1, sizeof(*c));
  grpc_channel_credentials *creds;
  grpc_arg args[1];
  grpc_channel_args ch_args = {.num_args = 1, .args = args};

  if (c == NULL) {
    if (fd >= 0) close(fd);
    runm_make_error(err, ENOMEM, "allocate client");
    return NULL;
  }
  grpc_init();
  pthread_mutex_init(&c->lock, NULL);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = RUNM_RPC_MAX_MESSAGE;
  creds = grpc_insecure_credentials_create();
  if (fd >= 0)
    c->ch = grpc_channel_create_from_fd(target ? target : "fd", fd, creds, &ch_args);
  else
    c->ch = grpc_channel_create(target, creds, &ch_args);
  grpc_channel_credentials_release(creds);
  if (c->ch == NULL) {
    runm_make_error(err, EINVAL, "cannot create a channel to `%s`", target ? target : "fd");
    runm_rpc_client_free(c);
    return NULL;
  }
  return c;
}

void runm_rpc_client_free(struct runm_rpc_client *c)
{
  if (c == NULL) return;
  if (c->ch) grpc_channel_destroy(c->ch);
  pthread_mutex_destroy(&c->lock);
  free(c->cancel_why);
  free(c);
  grpc_shutdown();
}

void runm_rpc_client_cancel_all(struct runm_rpc_client *c, const char *why)
{
  pthread_mutex_lock(&c->lock);
  if (!c->cancelled) {
    c->cancelled = true;
    c->cancel_why = strdup(why ? why : "cancelled");
  }
  for (struct inflight *i = c->calls; i; i = i->next)
    grpc_call_cancel_with_status(i->call, GRPC_STATUS_UNAVAILABLE, c->cancel_why, NULL);
  pthread_mutex_unlock(&c->lock);
}

/* Registers a call so cancel_all can reach it; false when already cancelled. */
static bool track(struct runm_rpc_client *c, struct inflight *node)
{
  bool ok;
  pthread_mutex_lock(&c->lock);
  ok = !c->cancelled;
  if (ok) {
    node->next = c->calls;
    c->calls = node;
  }
  pthread_mutex_unlock(&c->lock);
  return ok;
}

static void untrack(struct runm_rpc_client *c, struct inflight *node)
{
  pthread_mutex_lock(&c->lock);
  for (struct inflight **p = &c->calls; *p; p = &(*p)->next)
    if (*p == node) {
      *p = node->next;
      break;
    }
  pthread_mutex_unlock(&c->lock);
}

int runm_rpc_client_unary(struct runm_rpc_client *c, const char *method,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, int64_t timeout_ms, bool wait_for_ready,
                          runm_error_t *err)
{
  grpc_completion_queue *cq;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_byte_buffer *send_bb, *recv_bb = NULL;
  grpc_metadata_array init_md, trail_md;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  struct inflight node = {0};
  grpc_event ev;
  int ret = 0, tag = 0;

  *resp = NULL;
  send_bb = runm_rpc_pack(req, err);
  if (send_bb == NULL) return -1;
  deadline = timeout_ms > 0
                 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                 : gpr_inf_future(GPR_CLOCK_MONOTONIC);
  cq = grpc_completion_queue_create_for_pluck(NULL);
  call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                  grpc_slice_from_static_string(method), NULL, deadline, NULL);
  grpc_metadata_array_init(&init_md);
  grpc_metadata_array_init(&trail_md);
  node.call = call;

  memset(ops, 0, sizeof(ops));
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].flags = wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send_bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv_bb;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;

  if (!track(c, &node)) {
    pthread_mutex_lock(&c->lock);
    ret = runm_make_error(err, ECONNABORTED, "%s: %s", method, c->cancel_why);
    pthread_mutex_unlock(&c->lock);
  } else if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
    untrack(c, &node);
    ret = runm_make_error(err, EIO, "%s: cannot start the call", method);
  } else {
    ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    untrack(c, &node);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
      ret = runm_make_error(err, EIO, "%s: call failed", method);
    } else if (status != GRPC_STATUS_OK) {
      cleanup_free char *det = grpc_slice_to_c_string(details);
      ret = runm_make_error(err, runm_rpc_errno_from_code(status), "%s: %s: %s", method,
                            runm_rpc_code_name(status), det ? det : "");
    } else if (recv_bb == NULL) {
      ret = runm_make_error(err, EPROTO, "%s: OK status without a response", method);
    } else {
      ret = runm_rpc_unpack(recv_bb, resp_desc, RUNM_RPC_MAX_MESSAGE, resp, err);
      if (ret < 0) runm_error_wrap(err, "%s", method);
    }
  }

  grpc_byte_buffer_destroy(send_bb);
  if (recv_bb) grpc_byte_buffer_destroy(recv_bb);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&init_md);
  grpc_metadata_array_destroy(&trail_md);
  grpc_call_unref(call);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
  return ret;
}

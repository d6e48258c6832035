/* The one guest-call path and the Task methods that are one guest call
 * (forward.h). */
#include "forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "guest_reply.h"
#include "pb.h"
#include "publish.h"
#include "rpc.h"
#include "rpc_service.h"
#include "runm/v1/guest.pb-c.h"
#include "stdio_relay.h"
#include "ttrpc.h"
#include "vm.h"
#include "xalloc.h"

#define VERSION "runm 0.1.0"

int guest_call(struct shim *s, const char *method, const ProtobufCMessage *req, ProtobufCMessage **resp,
               int64_t max_ms, runm_error_t *err)
{
  struct runm_rpc_client *cl;
  int64_t ms = runm_ttrpc_current_timeout_ms();
  int ret;
  *resp = NULL;
  if (ms == 0) return runm_make_error(err, ETIMEDOUT, "/runm.v1.Guest/%s: containerd's deadline has passed", method);
  /* containerd's deadline, within the host's bound on any guest call (a
   * guest that never answers holds a handler thread that long at most),
   * then within the call's own limit. */
  if (ms < 0 || ms > GUEST_TIMEOUT_MS) ms = GUEST_TIMEOUT_MS;
  if (max_ms >= 0 && ms > max_ms) ms = max_ms;
  /* Counted while it uses the client: another container's Delete may stop
   * the VM meanwhile (task_vm_stop), and frees the client only after. */
  pthread_mutex_lock(&s->lock);
  cl = s->vm ? s->vm->client : NULL;
  if (cl) s->guest_calls++;
  pthread_mutex_unlock(&s->lock);
  if (cl == NULL) return runm_make_error(err, ENOENT, "the shim of `%s` has no VM", s->id);
  ret = runm_rpc_call(cl, &runm__v1__guest__descriptor, method, req, resp, ms, err);
  pthread_mutex_lock(&s->lock);
  s->guest_calls--;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  if (ret == 0) return 0;
  return guest_reply_error(&s->log, method, req, err);
}

int t_pids(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                  runm_error_t *err)
{
  const Containerd__Task__V2__PidsRequest *r = (const void *)rq;
  Runm__V1__PidsRequest gr = RUNM__V1__PIDS_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__PidsResponse *out;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  if (guest_call(s, "Pids", &gr.base, &gresp, -1, err) < 0) return -1;
  out = guest_reply_pids((Runm__V1__PidsResponse *)gresp);
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

static int pause_resume(struct shim *s, const char *id, bool pause, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  if (guest_call(s, pause ? "Pause" : "Resume", &gr.base, &gresp, -1, err) < 0)
    return -1;
  runm_pb_free(gresp);
  pthread_mutex_lock(&s->lock);
  if (pause) {
    Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
    ev.container_id = c->id;
    publisher_publish(s->pub, "/tasks/paused", &ev.base);
  } else {
    Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
    ev.container_id = c->id;
    publisher_publish(s->pub, "/tasks/resumed", &ev.base);
  }
  pthread_mutex_unlock(&s->lock);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_pause(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__PauseRequest *)rq)->id, true, resp, err);
}

int t_resume(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  return pause_resume(s, ((const Containerd__Task__V2__ResumeRequest *)rq)->id, false, resp, err);
}

int t_checkpoint(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                        runm_error_t *err)
{
  return runm_make_error(err, ENOSYS,
                         "checkpoint is not supported by runm: the container's state lives in "
                         "its VM, and runc's CRIU checkpointing is not available there");
}

int t_resize(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__ResizePtyRequest *r = (const void *)rq;
  Runm__V1__ResizePtyRequest gr = RUNM__V1__RESIZE_PTY_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  gr.exec_id = r->exec_id;
  gr.rows = r->height;
  gr.cols = r->width;
  if (guest_call(s, "ResizePty", &gr.base, &gresp, -1, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_closeio(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__CloseIORequest *r = (const void *)rq;
  struct shim_process *p;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  pthread_mutex_lock(&s->lock);
  p = proc_find_locked(c, r->exec_id);
  if (p && r->stdin && p->io) io_relay_close_stdin(p->io);
  pthread_mutex_unlock(&s->lock);
  if (p == NULL) return runm_make_error(err, ENOENT, "process `%s` not found", r->exec_id);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_update(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                    runm_error_t *err)
{
  const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)rq;
  Runm__V1__UpdateRequest gr = RUNM__V1__UPDATE_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  if (r->resources == NULL || r->resources->value.len == 0)
    return runm_make_error(err, EINVAL, "update without resources");
  gr.id = c->id;
  gr.resources_json = r->resources->value;
  if (guest_call(s, "Update", &gr.base, &gresp, -1, err) < 0) return -1;
  runm_pb_free(gresp);
  *resp = runm_pb_new(&google__protobuf__empty__descriptor);
  return 0;
}

int t_stats(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                   runm_error_t *err)
{
  const Containerd__Task__V2__StatsRequest *r = (const void *)rq;
  Runm__V1__ContainerRequest gr = RUNM__V1__CONTAINER_REQUEST__INIT;
  ProtobufCMessage *gresp = NULL;
  Containerd__Task__V2__StatsResponse *out;

  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  gr.id = c->id;
  if (guest_call(s, "Stats", &gr.base, &gresp, -1, err) < 0) return -1;
  out = guest_reply_stats((Runm__V1__StatsResponse *)gresp);
  runm_pb_free(gresp);
  *resp = &out->base;
  return 0;
}

int t_connect(struct shim *s, const ProtobufCMessage *rq, ProtobufCMessage **resp,
                     runm_error_t *err)
{
  const Containerd__Task__V2__ConnectRequest *r = (const void *)rq;
  Containerd__Task__V2__ConnectResponse *out;
  struct shim_container *c = container_get(s, r->id, err);
  if (c == NULL) return -1;
  out = (void *)runm_pb_new(&containerd__task__v2__connect_response__descriptor);
  out->shim_pid = (uint32_t)getpid();
  pthread_mutex_lock(&s->lock);
  /* The task's QEMU, like every pid the host is given. */
  out->task_pid = (uint32_t)s->vm_pid;
  pthread_mutex_unlock(&s->lock);
  out->version = runm_xstrdup(VERSION);
  *resp = &out->base;
  return 0;
}


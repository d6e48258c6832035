/* libFuzzer target over what a ttrpc peer controls: a byte stream of
 * frames. Each input is split into frames twice, from the buffer
 * (runm_ttrpc_frame_parse) and from a socket (runm_ttrpc_read_frame), and
 * the two must agree; every request frame is decoded as a ttrpc.Request and
 * its payload as the named Task/Events method's message, then re-encoded;
 * every response frame is decoded as a ttrpc.Response.
 *
 * Built with -DFUZZ_WRITE_SEEDS it is instead a plain program that writes a
 * seed corpus of real containerd frames into the directory it is given (and
 * runs each seed through the target once). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "ttrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCServiceDescriptor *const services[] = {
    &containerd__task__v2__task__descriptor,
    &containerd__services__events__ttrpc__v1__events__descriptor,
};

static const ProtobufCMessageDescriptor *method_input(const char *service, const char *method)
{
  for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
    if (strcmp(services[i]->name, service) != 0) continue;
    for (unsigned j = 0; j < services[i]->n_methods; j++)
      if (strcmp(services[i]->methods[j].name, method) == 0) return services[i]->methods[j].input;
  }
  return NULL;
}

static void fuzz_request(const uint8_t *p, size_t len)
{
  runm_error_t err = NULL;
  Ttrpc__Request *req = NULL;
  ProtobufCMessage *msg = NULL;
  const ProtobufCMessageDescriptor *d;

  if (runm_ttrpc_request_unpack(p, len, &req, &err) < 0) {
    runm_error_release(&err);
    return;
  }
  for (size_t i = 0; i < req->n_metadata; i++)
    if (req->metadata[i]->key == NULL || req->metadata[i]->value == NULL) __builtin_trap();
  d = method_input(req->service, req->method);
  if (d && runm_ttrpc_message_unpack(d, req->payload.data, req->payload.len, &msg, &err) == 0) {
    uint8_t *out = NULL;
    size_t out_len = 0;
    size_t n = protobuf_c_message_get_packed_size(msg);
    /* What was decoded must encode again within the same bounds. */
    if (n > RUNM_TTRPC_MAX_PAYLOAD * 2) __builtin_trap();
    if (runm_ttrpc_response_pack(0, NULL, msg, &out, &out_len, &err) == 0) {
      Ttrpc__Response *r = NULL;
      if (runm_ttrpc_response_unpack(out, out_len, &r, &err) < 0) __builtin_trap();
      if (r->payload.len != n) __builtin_trap();
      ttrpc__response__free_unpacked(r, NULL);
    }
    runm_error_release(&err);
    free(out);
    protobuf_c_message_free_unpacked(msg, NULL);
  }
  runm_error_release(&err);
  ttrpc__request__free_unpacked(req, NULL);
}

static void fuzz_response(const uint8_t *p, size_t len)
{
  runm_error_t err = NULL;
  Ttrpc__Response *r = NULL;

  if (runm_ttrpc_response_unpack(p, len, &r, &err) == 0) ttrpc__response__free_unpacked(r, NULL);
  runm_error_release(&err);
}

/* The same bytes through a socket: read_frame must yield the frames that
 * frame_parse found, then EOF or an error exactly where parsing stopped. */
static void check_socket(const uint8_t *data, size_t size, size_t n_frames, int parse_ret)
{
  int sv[2];
  size_t off = 0, seen = 0;

  if (size > 200000) return; /* must fit the socket buffer: one thread writes and reads */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return;
  while (off < size) {
    ssize_t w = send(sv[0], data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w <= 0) break;
    off += (size_t)w;
  }
  shutdown(sv[0], SHUT_WR);
  if (off == size) {
    for (;;) {
      runm_error_t err = NULL;
      struct runm_ttrpc_header h;
      uint8_t *payload = NULL;
      int ret = runm_ttrpc_read_frame(sv[1], -1, &h, &payload, &err);
      free(payload);
      runm_error_release(&err);
      if (ret != 1) {
        /* parse stopped: -1 bad header -> error; 0 leftover bytes -> EOF
         * mid-frame (error) unless nothing was left. */
        if (parse_ret < 0 && ret >= 0) __builtin_trap();
        break;
      }
      seen++;
    }
    if (seen != n_frames) __builtin_trap();
  }
  close(sv[0]);
  close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t off = 0, n_frames = 0;
  int ret = 0;

  while (off < size) {
    runm_error_t err = NULL;
    struct runm_ttrpc_header h;
    const uint8_t *payload;
    size_t used;

    ret = runm_ttrpc_frame_parse(data + off, size - off, &h, &payload, &used, &err);
    runm_error_release(&err);
    if (ret <= 0) break;
    if (used != RUNM_TTRPC_HEADER_SIZE + h.length || used > size - off) __builtin_trap();
    off += used;
    n_frames++;
    if (h.type == RUNM_TTRPC_REQUEST)
      fuzz_request(payload, h.length);
    else if (h.type == RUNM_TTRPC_RESPONSE)
      fuzz_response(payload, h.length);
  }
  check_socket(data, size, n_frames, ret);
  return 0;
}

#ifdef FUZZ_WRITE_SEEDS

struct seeds {
  const char *dir;
  int n;
  uint8_t stream[1 << 16]; /* every seed, concatenated: one more seed */
  size_t stream_len;
};

static int write_seed(struct seeds *s, const uint8_t *buf, size_t len)
{
  char path[4096];
  FILE *f;

  snprintf(path, sizeof(path), "%s/seed-%03d", s->dir, s->n++);
  f = fopen(path, "we");
  if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "fuzz seeds: write %s: %s\n", path, strerror(errno));
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, len);
  return 0;
}

static int frame_seed(struct seeds *s, uint32_t id, uint8_t type, const uint8_t *p, size_t len)
{
  uint8_t buf[8192];
  struct runm_ttrpc_header h = {.length = (uint32_t)len, .stream_id = id, .type = type};

  if (len > sizeof(buf) - RUNM_TTRPC_HEADER_SIZE) return -1;
  runm_ttrpc_header_pack(&h, buf);
  memcpy(buf + RUNM_TTRPC_HEADER_SIZE, p, len);
  if (s->stream_len + RUNM_TTRPC_HEADER_SIZE + len <= sizeof(s->stream)) {
    memcpy(s->stream + s->stream_len, buf, RUNM_TTRPC_HEADER_SIZE + len);
    s->stream_len += RUNM_TTRPC_HEADER_SIZE + len;
  }
  return write_seed(s, buf, RUNM_TTRPC_HEADER_SIZE + len);
}

static int request_seed(struct seeds *s, const char *service, const char *method,
                        const ProtobufCMessage *msg, int64_t timeout_nano)
{
  static const struct runm_ttrpc_md md[] = {{RUNM_TTRPC_NAMESPACE_KEY, "default"}};
  runm_error_t err = NULL;
  uint8_t *buf = NULL;
  size_t len;
  int ret;

  if (runm_ttrpc_request_pack(service, method, msg, timeout_nano, md, 1, &buf, &len, &err) < 0) {
    runm_error_release(&err);
    return -1;
  }
  ret = frame_seed(s, (uint32_t)(2 * s->n + 1), RUNM_TTRPC_REQUEST, buf, len);
  free(buf);
  return ret;
}

int main(int argc, char **argv)
{
  struct seeds *s = calloc(1, sizeof(*s));
  Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
  Containerd__Types__Mount *mounts[] = {&m};
  char *opts[] = {(char *)"rbind", (char *)"ro"};
  Containerd__Task__V2__CreateTaskRequest create = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
  Containerd__Task__V2__StateRequest state = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  Containerd__Task__V2__KillRequest kill = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
  Containerd__Task__V2__ExecProcessRequest exec = CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
  Containerd__Task__V2__UpdateTaskRequest update = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
  Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry ann =
      CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__ANNOTATIONS_ENTRY__INIT;
  Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry *anns[] = {&ann};
  Containerd__Task__V2__ResizePtyRequest resize = CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
  Containerd__Task__V2__StateResponse st = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
  Containerd__Events__TaskExit ex = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT, ev = GOOGLE__PROTOBUF__ANY__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Containerd__Services__Events__Ttrpc__V1__Envelope env =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
  Containerd__Services__Events__Ttrpc__V1__ForwardRequest fwd =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
  static const char json[] = "{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":true}";
  uint8_t exbuf[128];
  runm_error_t err = NULL;
  uint8_t *buf = NULL;
  size_t len;
  int bad = 0;

  if (argc != 2 || s == NULL) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  s->dir = argv[1];

  m.type = (char *)"bind";
  m.source = (char *)"/var/lib/containerd/snapshots/1/fs";
  m.n_options = 2;
  m.options = opts;
  create.id = (char *)"c1";
  create.bundle = (char *)"/run/containerd/io.containerd.runtime.v2.task/default/c1";
  create.n_rootfs = 1;
  create.rootfs = mounts;
  create.stdout = (char *)"/run/containerd/fifo/1/c1-stdout";
  bad |= request_seed(s, "containerd.task.v2.Task", "Create", &create.base, 0);
  state.id = (char *)"c1";
  bad |= request_seed(s, "containerd.task.v2.Task", "State", &state.base, 10000000000LL);
  bad |= request_seed(s, "containerd.task.v2.Task", "Wait", &state.base, 0);
  bad |= request_seed(s, "containerd.task.v2.Task", "Delete", &state.base, 0);
  kill.id = (char *)"c1";
  kill.signal = 15;
  kill.all = true;
  bad |= request_seed(s, "containerd.task.v2.Task", "Kill", &kill.base, 0);
  spec.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/Process";
  spec.value.data = (uint8_t *)json;
  spec.value.len = sizeof(json) - 1;
  exec.id = (char *)"c1";
  exec.exec_id = (char *)"e1";
  exec.terminal = true;
  exec.spec = &spec;
  bad |= request_seed(s, "containerd.task.v2.Task", "Exec", &exec.base, 0);
  ann.key = (char *)"io.kubernetes.cri.sandbox-id";
  ann.value = (char *)"abc";
  update.id = (char *)"c1";
  update.n_annotations = 1;
  update.annotations = anns;
  bad |= request_seed(s, "containerd.task.v2.Task", "Update", &update.base, 0);
  resize.id = (char *)"c1";
  resize.width = 80;
  resize.height = 24;
  bad |= request_seed(s, "containerd.task.v2.Task", "ResizePty", &resize.base, 0);
  bad |= request_seed(s, "containerd.task.v2.Task", "Frobnicate", NULL, 0);

  ts.seconds = 1700000000;
  ex.container_id = (char *)"c1";
  ex.id = (char *)"c1";
  ex.pid = 42;
  ex.exit_status = 137;
  ex.exited_at = &ts;
  ev.type_url = (char *)"containerd.events.TaskExit";
  ev.value.data = exbuf;
  ev.value.len = containerd__events__task_exit__pack(&ex, exbuf);
  env.timestamp = &ts;
  env.namespace_ = (char *)"default";
  env.topic = (char *)"/tasks/exit";
  env.event = &ev;
  fwd.envelope = &env;
  bad |= request_seed(s, "containerd.services.events.ttrpc.v1.Events", "Forward", &fwd.base, 0);

  st.id = (char *)"c1";
  st.pid = 42;
  st.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
  st.exited_at = &ts;
  if (runm_ttrpc_response_pack(0, NULL, &st.base, &buf, &len, &err) == 0)
    bad |= frame_seed(s, 3, RUNM_TTRPC_RESPONSE, buf, len);
  free(buf);
  buf = NULL;
  if (runm_ttrpc_response_pack(12, "unknown method Frobnicate", NULL, &buf, &len, &err) == 0)
    bad |= frame_seed(s, 5, RUNM_TTRPC_RESPONSE, buf, len);
  free(buf);
  runm_error_release(&err);
  bad |= frame_seed(s, 7, RUNM_TTRPC_DATA, (const uint8_t *)"\x0a\x02id", 4);

  /* The whole conversation as one stream, then broken streams. */
  bad |= write_seed(s, s->stream, s->stream_len);
  bad |= write_seed(s, s->stream, s->stream_len / 2);
  bad |= write_seed(s, (const uint8_t *)"\x00\x40\x00\x01\x00\x00\x00\x01\x01\x00", 10);
  bad |= write_seed(s, (const uint8_t *)"\x00\x00\x00\x05\x00", 5);
  fprintf(stderr, "fuzz seeds: %d written to %s\n", s->n, s->dir);
  free(s);
  return bad ? 1 : 0;
}

#endif

/* The ordered event publisher. */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pb.h"
#include "clock.h"
#include "cleanup.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "ttrpc.h"

extern char **environ;

struct event {
  char *topic;
  char *type_url;
  uint8_t *data;
  size_t len;
  int64_t ts_ns;
  struct event *next;
};

struct publisher {
  char *ns, *ttrpc_address, *publish_binary, *containerd_address;
  const struct runm_logger *log;
  struct runm_ttrpc_client *client; /* lazily connected; owned by the thread */
  pthread_t thread;
  pthread_mutex_t lock; /* guards head, tail, stopping */
  pthread_cond_t cond;
  struct event *head, **tail;
  bool stopping;
};

static void event_free(struct event *e)
{
  if (e == NULL) return;
  free(e->topic);
  free(e->type_url);
  free(e->data);
  free(e);
}

static int forward_ttrpc(struct publisher *p, const struct event *e, runm_error_t *err)
{
  Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
  Containerd__Services__Events__Ttrpc__V1__Envelope env =
      CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  ProtobufCMessage *resp = NULL;
  int r;

  if (p->client == NULL) {
    p->client = runm_ttrpc_client_connect(p->ttrpc_address, err);
    if (p->client == NULL) return -1;
  }
  runm_pb_timestamp_set(&ts, e->ts_ns);
  any.type_url = e->type_url;
  any.value.data = e->data;
  any.value.len = e->len;
  env.timestamp = &ts;
  env.namespace_ = p->ns;
  env.topic = e->topic;
  env.event = &any;
  req.envelope = &env;
  struct runm_ttrpc_md md = {RUNM_TTRPC_NAMESPACE_KEY, p->ns};
  r = runm_ttrpc_client_call(p->client, "containerd.services.events.ttrpc.v1.Events", "Forward",
                             &req.base, &google__protobuf__empty__descriptor, &resp, &md, 1, 10000,
                             err);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  if (r < 0) {
    runm_ttrpc_client_free(p->client);
    p->client = NULL;
  }
  return r;
}

/* containerd's `publish` subcommand reads the Any from stdin. */
static int forward_binary(struct publisher *p, const struct event *e, runm_error_t *err)
{
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  cleanup_free uint8_t *buf = NULL;
  size_t len;
  int fds[2], status;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  char *argv[] = {p->publish_binary, "--address", p->containerd_address, "publish", "--topic",
                  e->topic, "--namespace", p->ns, NULL};

  any.type_url = e->type_url;
  any.value.data = e->data;
  any.value.len = e->len;
  len = protobuf_c_message_get_packed_size(&any.base);
  buf = malloc(len ? len : 1);
  if (buf == NULL) return runm_make_error(err, ENOMEM, "publish");
  protobuf_c_message_pack(&any.base, buf);
  if (pipe2(fds, O_CLOEXEC) < 0) return runm_make_error(err, errno, "pipe");
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  int r = posix_spawn(&pid, p->publish_binary, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[0]);
  if (r != 0) {
    close(fds[1]);
    return runm_make_error(err, r, "spawn `%s`", p->publish_binary);
  }
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fds[1], buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += (size_t)n;
  }
  close(fds[1]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return runm_make_error(err, EIO, "`%s publish --topic %s` failed", p->publish_binary, e->topic);
  return 0;
}

static void *sender(void *arg)
{
  struct publisher *p = arg;
  for (;;) {
    struct event *e;
    cleanup_error runm_error_t err = NULL;
    pthread_mutex_lock(&p->lock);
    while (p->head == NULL && !p->stopping) pthread_cond_wait(&p->cond, &p->lock);
    e = p->head;
    if (e) {
      p->head = e->next;
      if (p->head == NULL) p->tail = &p->head;
    }
    pthread_mutex_unlock(&p->lock);
    if (e == NULL) break; /* stopping and drained */
    int r = -1;
    if (p->ttrpc_address[0]) r = forward_ttrpc(p, e, &err);
    if (r < 0 && p->publish_binary[0]) {
      if (err) runm_log(p->log, RUNM_LOG_DEBUG, "ttrpc forward failed (%s); using publish binary", err->msg);
      runm_error_release(&err);
      r = forward_binary(p, e, &err);
    }
    if (r < 0) runm_log_error(p->log, err, e->topic);
    event_free(e);
  }
  return NULL;
}

static char *xstrdup(const char *s)
{
  return strdup(s ? s : "");
}

struct publisher *publisher_new(const char *ns, const char *ttrpc_address,
                                const char *publish_binary, const char *containerd_address,
                                const struct runm_logger *log, runm_error_t *err)
{
  struct publisher *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    runm_make_error(err, ENOMEM, "publisher");
    return NULL;
  }
  p->ns = xstrdup(ns);
  p->ttrpc_address = xstrdup(ttrpc_address);
  p->publish_binary = xstrdup(publish_binary);
  p->containerd_address = xstrdup(containerd_address);
  p->log = log;
  p->tail = &p->head;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  if (pthread_create(&p->thread, NULL, sender, p) != 0) {
    runm_make_error(err, EAGAIN, "publisher thread");
    free(p->ns);
    free(p->ttrpc_address);
    free(p->publish_binary);
    free(p->containerd_address);
    free(p);
    return NULL;
  }
  return p;
}

void publisher_publish(struct publisher *p, const char *topic, const ProtobufCMessage *event)
{
  struct event *e = calloc(1, sizeof(*e));
  if (e == NULL) return;
  e->ts_ns = runm_clock_ns(CLOCK_REALTIME);
  e->topic = strdup(topic);
  e->type_url = strdup(event->descriptor->name);
  e->len = protobuf_c_message_get_packed_size(event);
  e->data = malloc(e->len ? e->len : 1);
  if (!e->topic || !e->type_url || !e->data) {
    event_free(e);
    return;
  }
  protobuf_c_message_pack(event, e->data);
  runm_log(p->log, RUNM_LOG_DEBUG, "event %s", topic);
  pthread_mutex_lock(&p->lock);
  *p->tail = e;
  p->tail = &e->next;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

void publisher_free(struct publisher *p)
{
  if (p == NULL) return;
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
  pthread_join(p->thread, NULL);
  if (p->client) runm_ttrpc_client_free(p->client);
  free(p->ns);
  free(p->ttrpc_address);
  free(p->publish_binary);
  free(p->containerd_address);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  free(p);
}

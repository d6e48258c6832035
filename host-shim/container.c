/* The container table (container.h). */
#include "container.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "exports.h"
#include "fusebind.h"
#include "rootfs.h"
#include "stdio_relay.h"
#include "xalloc.h"

struct shim_container *container_find_locked(struct shim *s, const char *id)
{
  if (id == NULL) return NULL;
  for (struct shim_container *c = s->containers; c; c = c->next)
    if (!c->deleted && c->created && strcmp(c->id, id) == 0) return c;
  return NULL;
}

struct shim_container *container_get(struct shim *s, const char *id, runm_error_t *err)
{
  struct shim_container *c;
  pthread_mutex_lock(&s->lock);
  c = container_find_locked(s, id);
  pthread_mutex_unlock(&s->lock);
  if (c == NULL) runm_make_error(err, ENOENT, "task `%s` not found", id ? id : "");
  return c;
}

unsigned container_count_locked(struct shim *s)
{
  unsigned n = 0;
  for (struct shim_container *c = s->containers; c; c = c->next)
    if (c->created && !c->deleted) n++;
  return n;
}

struct shim_container *container_add(struct shim *s, const char *id, const char *bundle,
                                     runm_error_t *err)
{
  struct shim_container *c;
  if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(c->id))
    return runm_make_error(err, EINVAL, "task id `%s` is empty or too long", id ? id : ""), NULL;
  if (bundle == NULL || bundle[0] != '/' || strlen(bundle) >= sizeof(c->bundle))
    return runm_make_error(err, EINVAL, "bundle `%s` of task `%s` is not an absolute path", bundle ? bundle : "", id),
           NULL;
  pthread_mutex_lock(&s->lock);
  if (container_find_locked(s, id)) {
    pthread_mutex_unlock(&s->lock);
    runm_make_error(err, EEXIST, "task `%s` already exists", id);
    return NULL;
  }
  c = runm_xcalloc(1, sizeof(*c));
  c->shim = s;
  snprintf(c->id, sizeof(c->id), "%s", id);
  snprintf(c->bundle, sizeof(c->bundle), "%s", bundle);
  c->created = true;
  c->slot = -1;
  c->next = s->containers;
  s->containers = c;
  pthread_mutex_unlock(&s->lock);
  return c;
}

struct shim_process *proc_find_locked(struct shim_container *c, const char *exec_id)
{
  const char *e = exec_id ? exec_id : "";
  for (struct shim_process *p = c->procs; p; p = p->next)
    if (strcmp(p->exec_id, e) == 0) return p;
  return NULL;
}

struct shim_process *proc_new(struct shim_container *c, const char *exec_id, const char *in,
                              const char *out, const char *errp, bool terminal)
{
  struct shim_process *p = runm_xcalloc(1, sizeof(*p));
  p->c = c;
  p->exec_id = runm_xstrdup(exec_id ? exec_id : "");
  p->stdin_path = runm_xstrdup(in ? in : "");
  p->stdout_path = runm_xstrdup(out ? out : "");
  p->stderr_path = runm_xstrdup(errp ? errp : "");
  p->terminal = terminal;
  return p;
}

void proc_free(struct shim_process *p)
{
  if (p == NULL) return;
  io_relay_free(p->io);
  free(p->exec_id);
  free(p->stdin_path);
  free(p->stdout_path);
  free(p->stderr_path);
  free(p);
}

void container_free_procs(struct shim_container *c)
{
  struct shim_process *p, *next;
  pthread_mutex_lock(&c->shim->lock);
  p = c->procs;
  c->procs = NULL;
  pthread_mutex_unlock(&c->shim->lock);
  for (; p; p = next) {
    next = p->next;
    proc_free(p);
  }
}

void container_release_host(struct shim_container *c)
{
  struct shim *s = c->shim;
  cleanup_error runm_error_t err = NULL;
  /* A pod member: off its slot in the first container's share first (the
   * copy there holds its mount points), whichever of the two goes first. */
  if (c->slot >= 0 && s->leader && s->leader != c && s->leader->exports &&
      exports_detach(s->leader->exports, (unsigned)c->slot, &err) < 0)
    runm_log_error(&s->log, err, "pod slot");
  runm_error_release(&err);
  pthread_mutex_lock(&s->lock);
  if (c->slot >= 0) s->slots_used &= ~(1u << c->slot);
  c->slot = -1;
  pthread_mutex_unlock(&s->lock);
  /* The export dir's binds go before what they bind. */
  if (c->exports) {
    if (exports_remove(s->cfg.state_dir, c->export_id, &err) < 0) runm_log_error(&s->log, err, "exports");
    runm_error_release(&err);
    exports_free(c->exports);
    free(c->exports);
    c->exports = NULL;
  }
  if (c->rootfs_mounted && rootfs_unmount(c->bundle, &err) < 0) runm_log_error(&s->log, err, "rootfs");
  c->rootfs_mounted = false;
  runm_error_release(&err);
  /* The runm-bindfs mounts (rootfs, volumes) last. */
  if (c->fuse && fusebind_cleanup(s->cfg.state_dir, c->export_id, &s->log, &err) < 0)
    runm_log_error(&s->log, err, "runm-bindfs");
  free(c->fuse);
  c->fuse = NULL;
}

void container_table_free(struct shim *s)
{
  struct shim_container *c = s->containers, *next;
  s->containers = NULL;
  for (; c; c = next) {
    next = c->next;
    container_free_procs(c);
    container_release_host(c);
    free(c);
  }
}

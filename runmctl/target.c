/* Which guest service a command talks to: a VM by id (its socket in the
 * state dir) or an explicit socket path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.h"
#include "runmctl.h"

int target_resolve(struct runmctl *ctl, const char *id, const char *socket, struct rpc_target *t,
                   runm_error_t *err)
{
  memset(t, 0, sizeof(*t));
  if (socket) {
    snprintf(t->socket, sizeof(t->socket), "%s", socket);
    return 0;
  }
  if (id == NULL || *id == '\0')
    return runm_make_error(err, EINVAL, "no VM given (--vm ID, --socket PATH or $RUNM_VM)");
  if (runmctl_vm_dir(ctl, id, t->dir, sizeof(t->dir), err) < 0) return -1;
  /* The owner's proxy socket when there is one (the channel itself carries
   * a single connection, which the owner holds). */
  snprintf(t->socket, sizeof(t->socket), "%s/api.sock", t->dir);
  if (access(t->socket, F_OK) < 0) snprintf(t->socket, sizeof(t->socket), "%s/rpc.sock", t->dir);
  cleanup_error runm_error_t e2 = NULL;
  t->have_info = runm_vm_info_read(t->dir, &t->info, &e2) == 0;
  return 0;
}

struct runm_rpc_client *target_connect(const struct rpc_target *t, runm_error_t *err)
{
  char target[600];
  if (access(t->socket, F_OK) < 0) {
    runm_make_error(err, ENOENT, "no RPC socket `%s`", t->socket);
    return NULL;
  }
  snprintf(target, sizeof(target), "unix:%s", t->socket);
  return runm_rpc_client_new(target, -1, err);
}

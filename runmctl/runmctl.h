/* runmctl: the direct RPC debugging client for runm's guest service. */
#ifndef RUNMCTL_H
#define RUNMCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "log.h"
#include "vm_info.h"

/* Exit codes scripts can rely on. */
enum {
  RUNMCTL_OK = 0,
  RUNMCTL_FAIL = 1,        /* the operation failed */
  RUNMCTL_USAGE = 2,       /* bad command line */
  RUNMCTL_NOT_FOUND = 3,   /* no such VM */
  RUNMCTL_UNAVAILABLE = 4, /* the VM exists but its guest does not answer */
};

struct runmctl {
  const char *state_root;
  bool json;
  bool debug;
  struct runm_logger log;
};

/* paths.c */
void runmctl_default_state_root(char *buf, size_t len);
int runmctl_vm_dir(const struct runmctl *ctl, const char *id, char *out, size_t len,
                   runm_error_t *err);
/* The state root and <root>/vm, where they exist, pass runm_state_dir_check. */
int runmctl_check_state_root(const struct runmctl *ctl, runm_error_t *err);
int runmctl_find_artifact(const char *env, const char *name, char *out, size_t len,
                          runm_error_t *err);
int runmctl_exit_code(const runm_error_t err);

/* target.c: which guest service a command talks to */
struct rpc_target {
  char socket[512];
  char dir[512];
  bool have_info;
  struct runm_vm_info info;
};
struct runm_rpc_client;
int target_resolve(struct runmctl *ctl, const char *id, const char *socket, struct rpc_target *t,
                   runm_error_t *err);
struct runm_rpc_client *target_connect(const struct rpc_target *t, runm_error_t *err);

/* commands */
int cmd_vm(struct runmctl *ctl, int argc, char **argv);
int cmd_ping(struct runmctl *ctl, int argc, char **argv);
int cmd_info(struct runmctl *ctl, int argc, char **argv);
int cmd_container(struct runmctl *ctl, int argc, char **argv);
bool is_container_command(const char *name);

#endif

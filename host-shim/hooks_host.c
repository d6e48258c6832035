/* Hooks the host runs by itself (hooks.h): the poststop hooks of a task
 * whose guest can no longer run them (its QEMU was killed, or the shim
 * died and `shim delete` cleans up), or need not (the task's last
 * container is deleted and its VM stops: host-shim/task.c). In the
 * namespace mode they are what undoes CNI's work on the host (IP release,
 * portmap's iptables rules), so they run on the host as runc would have
 * run them: the spec's command,
 * env and timeout, status "stopped", the state's pid only while the task's
 * QEMU still exists (0: omitted) and the namespace's path as
 * nerdctl/network-namespace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cleanup.h"
#include "hook_run.h"
#include "hooks_priv.h"

#define POSTSTOP 5 /* index of "poststop" in spec_hook_kinds */

int hooks_run_poststop(struct hooks *h, bool force)
{
  int ran = 0;
  bool network = force;

  if (h == NULL || strcmp(spec_hook_kinds[POSTSTOP], "poststop") != 0) return 0;
  pthread_mutex_lock(&h->lock);
  if (!h->loaded) {
    pthread_mutex_unlock(&h->lock);
    return 0;
  }
  /* prestart and createRuntime are kinds 0 and 1. */
  for (size_t k = 0; k < 2 && !network; k++)
    for (size_t i = 0; i < h->n[k]; i++)
      if (h->list[k][i].ran) network = true;
  pthread_mutex_unlock(&h->lock);
  if (!network) return 0;
  for (size_t i = 0; i < h->n[POSTSTOP]; i++) {
    struct hook *hk = &h->list[POSTSTOP][i];
    cleanup_error runm_error_t err = NULL;
    cleanup_free char *state = NULL;
    struct hook_result res;
    struct hook_cmd cmd;
    bool mine;

    pthread_mutex_lock(&h->lock);
    mine = !hk->ran;
    hk->ran = true;
    pthread_mutex_unlock(&h->lock);
    if (!mine) continue;
    /* The ociVersion runc 1.1 puts in its states (runtime-spec 1.0.2-dev):
     * a hook sees the same state whoever runs it. */
    if (hooks_state_json(h, "1.0.2-dev", "stopped", &state, &err) < 0) {
      runm_log_error(h->log, err, "poststop hook state");
      continue;
    }
    cmd = (struct hook_cmd){.path = hk->path, .argv = hk->args, .envp = hk->env, .dir = h->bundle,
                            .timeout_s = hk->timeout_s, .started = hooks_started, .ended = hooks_ended,
                            .arg = h};
    if (hook_run(&cmd, state, NULL, &res, &err) < 0) {
      runm_log_error(h->log, err, "poststop hook, run by the host");
    } else {
      runm_log(h->log, WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0 ? RUNM_LOG_INFO : RUNM_LOG_WARN,
               "ran poststop hook #%zu (`%s`) on the host (its VM is gone): %s %d in %.3f s%s", i, hk->path,
               WIFSIGNALED(res.status) ? "killed by signal" : "exit",
               WIFSIGNALED(res.status) ? WTERMSIG(res.status) : WEXITSTATUS(res.status), res.seconds,
               res.timed_out ? " (timed out)" : "");
      ran++;
    }
    hook_result_free(&res);
  }
  return ran;
}

bool hooks_network_kinds(struct hooks *h)
{
  return h && (h->n[0] > 0 || h->n[1] > 0); /* prestart, createRuntime */
}

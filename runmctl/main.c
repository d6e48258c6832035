/* runmctl: every guest-service RPC reachable from a shell. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runmctl.h"
#include "vm_backend.h"

static const char usage[] =
    "usage: runmctl [--state-dir DIR] [--debug] COMMAND [ARGS]\n"
    "The direct RPC client for runm's guest service.\n"
    "\n"
    "commands:\n"
    "  vm start|stop|ls   manage standalone VMs\n"
    "  ping               Guest.Ping round trips\n"
    "  info               Guest.Info: kernel, runc, boot timeline\n"
    "  run, create, start, exec, kill, ps, state, pause, resume, update,\n"
    "  stats, wait, delete, events\n"
    "                     container RPCs (--vm ID or --socket PATH)\n"
    "\n"
    "Every command takes --help and --json.\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 no such VM, 4 guest unavailable.\n"
    "State dir: --state-dir, else $RUNM_STATE_DIR, else /run/runm (root).\n";

int main(int argc, char **argv)
{
  char state_root[PATH_MAX];
  struct runmctl ctl = {0};
  int i = 1;

  if (argc > 1 && strcmp(argv[1], RUNM_LIBVIRT_HELPER_ARG) == 0)
    return runm_libvirt_helper_main(argc - 1, argv + 1);
  runmctl_default_state_root(state_root, sizeof(state_root));
  ctl.state_root = state_root;
  ctl.log.component = "runmctl";
  ctl.log.max_level = RUNM_LOG_WARN;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
      ctl.state_root = argv[++i];
    } else if (strcmp(argv[i], "--debug") == 0) {
      ctl.debug = true;
      ctl.log.max_level = RUNM_LOG_DEBUG;
    } else if (strcmp(argv[i], "--json") == 0) {
      ctl.json = true;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return RUNMCTL_OK;
    } else {
      fprintf(stderr, "runmctl: unknown option `%s`\n%s", argv[i], usage);
      return RUNMCTL_USAGE;
    }
  }
  if (i >= argc) {
    fputs(usage, stderr);
    return RUNMCTL_USAGE;
  }
  if (strcmp(argv[i], "vm") == 0) return cmd_vm(&ctl, argc - i, argv + i);
  if (strcmp(argv[i], "ping") == 0) return cmd_ping(&ctl, argc - i, argv + i);
  if (strcmp(argv[i], "info") == 0) return cmd_info(&ctl, argc - i, argv + i);
  if (is_container_command(argv[i])) return cmd_container(&ctl, argc - i, argv + i);
  fprintf(stderr, "runmctl: unknown command `%s`\n%s", argv[i], usage);
  return RUNMCTL_USAGE;
}

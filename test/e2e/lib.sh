# Shared by the e2e scripts: TAP and leak checks (test/integration/lib.sh), a
# private containerd (tools/containerd-env.sh) in its own directory and
# namespace, the ctr wrappers and the busybox image every suite imports.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_init PREFIX NAMESPACE DEFAULT_LIMIT
#   (the script's own cleanup trap: bash "$ENV" stop; cleanup)
#   e2e_start            # containerd up, busybox imported, or the suite ends
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ENV=$ROOT/tools/containerd-env.sh
IMAGE=docker.io/library/busybox:runm
export RUNM_BIN

# e2e_init PREFIX NAMESPACE DEFAULT_LIMIT: the suite's containerd is always
# private (a fresh /tmp/PREFIX.* dir), so `stop` never reaches a containerd
# the suite did not start. LIMIT bounds any one ctr command (RUNM_E2E_TIMEOUT
# overrides); CASES picks cases (RUNM_E2E_CASES, a regex).
e2e_init() {
  RUNM_CTRD_DIR=$(mktemp -d "/tmp/$1.XXXXXX")
  export RUNM_CTRD_DIR
  export RUNM_CTRD_NS=$2
  NS=$RUNM_CTRD_NS
  SOCK=$RUNM_CTRD_DIR/containerd.sock
  LIMIT=${RUNM_E2E_TIMEOUT:-$3}
  CASES=${RUNM_E2E_CASES:-.}
}

CTR() { ctr --address "$SOCK" --namespace "$NS" "$@"; }
# ctr with a time limit: a hang is a failure, not a stuck suite.
TCTR() { timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" "$@"; }
task_status() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }

# ---- process probes -------------------------------------------------------
argv_of() { tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline"; }
pids_mentioning() { grep -lsaF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'; }
# shim_pid ID: the long-lived shim (any runtime) this suite's containerd
# runs for container ID, not a `start` or `delete` run of the binary.
# Always succeeds: an empty output says there is none.
shim_pid() {
  local p
  for p in $(pids_mentioning "$SOCK"); do
    argv_of "$p" | awk -v s="$SOCK" -v id="$1" '
      NR == 1 && $0 !~ /(^|\/)containerd-shim-[^\/]*$/ { exit 1 }
      prev == "-address" && $0 == s { a = 1 }
      prev == "-id" && $0 == id { b = 1 }
      $0 == "start" || $0 == "delete" { x = 1 }
      { prev = $0 }
      END { exit !(a && b && !x) }' && echo "$p"
  done
  return 0
}
# shim_of ID: the same, runm's shim only.
shim_of() {
  local p
  for p in $(shim_pid "$1"); do
    argv_of "$p" | head -1 | grep -q 'containerd-shim-runm-v1$' && echo "$p"
  done
}

# e2e_start: the private containerd and the busybox image (built from the
# host's busybox, test/fixtures/mkimage-busybox.sh); a suite cannot go on
# without either.
e2e_start() {
  if ! bash "$ENV" start; then not_ok "private containerd starts"; finish; fi
  ok "private containerd starts"
  if bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" >/dev/null 2>&1 &&
    CTR images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null; then
    ok "busybox image built and imported"
  else
    not_ok "busybox image built and imported"
    finish
  fi
}

# e2e_stop_check: the last check of a suite: containerd-env.sh stop leaves
# nothing of the private containerd behind.
e2e_stop_check() {
  if bash "$ENV" stop; then ok "containerd-env.sh stop leaves no process, mount or dir"; else
    not_ok "containerd-env.sh stop leaves no process, mount or dir"; fi
}

# e2e_end_checks: a suite's last checks: no task or container left,
# containerd stopped (containerd-env.sh stop leaves nothing), no QEMU of
# the suite, and no runm state but its empty top-level vm and s dirs.
e2e_end_checks() {
  local left q
  left=$(CTR task ls -q 2>/dev/null; CTR containers ls -q 2>/dev/null)
  if [ -z "$left" ]; then ok "no task or container left"; else not_ok "no task or container left" "$left"; fi
  if bash "$ENV" stop; then ok "containerd, shims and VMs stopped, nothing left"; else not_ok "containerd, shims and VMs stopped, nothing left"; fi
  q=$(pgrep -af qemu-system 2>/dev/null | grep -F -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" | awk '{print $1}')
  if [ -z "$q" ]; then ok "no QEMU process left"; else not_ok "no QEMU process left" "pids: $q"; fi
  left=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
  if [ -z "$left" ]; then ok "no runm state left"; else not_ok "no runm state left" "$left"; fi
}

# Shared helpers for runm's integration tests: TAP output, a private state
# dir, and the leak checks every test ends with.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNM_BIN=${RUNM_BIN:-$ROOT/build/bin}
case "$RUNM_BIN" in /*) ;; *) RUNM_BIN=$ROOT/$RUNM_BIN ;; esac
RUNMCTL=$RUNM_BIN/runmctl
SHARE=$ROOT/build/share/runm
export RUNM_KERNEL=${RUNM_KERNEL:-$SHARE/vmlinux}
export RUNM_INITRD=${RUNM_INITRD:-$SHARE/initrd.cpio}
export RUNM_MBIN=${RUNM_MBIN:-$SHARE/mbin.squashfs}
# Short path: unix socket paths are limited to 107 bytes.
export RUNM_STATE_DIR=$(mktemp -d /tmp/rt.XXXXXX)
TMP=$(mktemp -d /tmp/runm-it.XXXXXX)
T_N=0
T_FAILED=0

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
# (its loop variable is local: a caller's $l, e.g. test_ctr.sh's run_case, survives)
not_ok() { local l; T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # check NAME CMD...: passes when CMD succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name" "command failed: $*"; fi
}

# QEMU processes started for this test's state dir (by their -name runm-ID).
our_qemus() {
  local ids
  pgrep -af qemu-system 2>/dev/null | grep -F -- "$RUNM_STATE_DIR/" | awk '{print $1}'
}

cleanup() {
  local ids
  if [ -d "$RUNM_STATE_DIR/vm" ]; then
    for d in "$RUNM_STATE_DIR"/vm/*/; do
      [ -d "$d" ] && "$RUNMCTL" vm stop "$(basename "$d")" >/dev/null 2>&1
    done
  fi
  for p in $(our_qemus); do kill -9 "$p" 2>/dev/null; done
  rm -rf "$RUNM_STATE_DIR" "$TMP"
}
trap cleanup EXIT

# The checks every test ends with: no QEMU, no socket, no state left.
leak_checks() {
  local q
  q=$(our_qemus)
  if [ -z "$q" ]; then ok "no QEMU process left"; else not_ok "no QEMU process left" "pids: $q"; fi
  local left
  left=$(find "$RUNM_STATE_DIR" -mindepth 1 -not -path "$RUNM_STATE_DIR/vm" 2>/dev/null)
  if [ -z "$left" ]; then ok "no socket or state dir left"; else not_ok "no socket or state dir left" "$left"; fi
}

finish() {
  echo "1..$T_N"
  [ "$T_FAILED" -eq 0 ]
  exit $?
}

# wait_until SECONDS CMD...: re-checks CMD until it holds or time runs out.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

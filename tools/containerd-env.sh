#!/bin/bash
# A private containerd for demos and tests: its own root, state, socket and
# config under $RUNM_CTRD_DIR (default /tmp/runm-ctrd), with runm's build dir
# ($RUNM_BIN, default <repo>/build/bin) first on its PATH, so that
# `ctr run --runtime io.containerd.runm.v1` finds containerd-shim-runm-v1.
#   containerd-env.sh start        start it (no-op when it already answers)
#   containerd-env.sh stop         stop it and everything it started; verify
#   containerd-env.sh ctr ARGS...  ctr --address SOCK --namespace runm-test ARGS
# RUNM_CTRD_CRI=1: with containerd's CRI plugin (test/e2e/test_cri.sh):
# runtime handlers `runc` (runc-v2) and `runm`, host-network pods only (no
# CNI), sandbox image $RUNM_CTRD_PAUSE, restrict_oom_score_adj (the
# kernel here refuses the sandbox's -998).
# `stop` is idempotent and safe from a trap: it ends containerd, every shim
# whose -address is this socket, their runc containers and runm VMs (by pid,
# nothing matched by name alone), unmounts what is left under the dir,
# removes it, and exits non-zero if a process or mount survived.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${RUNM_CTRD_DIR:-/tmp/runm-ctrd}
RUNM_BIN=${RUNM_BIN:-$here/build/bin}
case "$RUNM_BIN" in /*) ;; *) RUNM_BIN=$here/$RUNM_BIN ;; esac
SOCK=$DIR/containerd.sock
NS=${RUNM_CTRD_NS:-runm-test}
# containerd 1.6's runc-v2 keeps its state here, whatever the config says.
RUNC_ROOT=/run/containerd/runc

ctr_() { ctr --address "$SOCK" --namespace "$NS" "$@"; }
say() { echo "containerd-env: $*" >&2; }

# argv of pid $1, one element a line.
argv_of() { tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline"; }

# Pids whose command line contains the fixed string $1 (a cheap prefilter).
pids_mentioning() {
  grep -lsaF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'
}

# Our containerd: the pid in containerd.pid when it still runs our config.
ctrd_pid() {
  local p
  [ -f "$DIR/containerd.pid" ] || return 1
  p=$(cat "$DIR/containerd.pid")
  argv_of "$p" | grep -qxF -- "$DIR/config.toml" && echo "$p"
}

# Shims started by our containerd: argv[0] is a containerd-shim-*, and
# `-address SOCK` is in argv.
our_shims() {
  local p
  for p in $(pids_mentioning "$SOCK"); do
    argv_of "$p" | awk -v s="$SOCK" '
      NR == 1 && $0 !~ /(^|\/)containerd-shim-[^\/]*$/ { exit 1 }
      prev == "-address" && $0 == s { found = 1 }
      { prev = $0 }
      END { exit !found }' && echo "$p"
  done
}

# The runm state dir we gave containerd, unless it is the shared default
# (which says nothing about ownership).
runm_sd() {
  local sd
  sd=$(cat "$DIR/runm-state-dir" 2>/dev/null)
  [ "$sd" = /run/runm ] || echo "$sd"
}

# QEMUs of runm VMs under our dir or the runm state dir we gave containerd.
our_qemus() {
  local p sd
  sd=$(runm_sd)
  for p in $(pids_mentioning qemu-system); do
    argv_of "$p" | awk -v d="$DIR/" -v sd="${sd:+$sd/}" '
      NR == 1 && $0 !~ /(^|\/)qemu-system-[^\/]*$/ { exit 1 }
      index($0, d) || (sd != "" && index($0, sd)) { found = 1 }
      END { exit !found }' && echo "$p"
  done
}

our_mounts() {
  local sd
  sd=$(runm_sd)
  awk -v d="$DIR/" -v sd="${sd:+$sd/}" 'index($2, d) == 1 || (sd != "" && index($2, sd) == 1) { print $2 }' /proc/mounts
}

start() {
  local p
  mkdir -p "$DIR"
  if ctrd_pid >/dev/null && ctr --address "$SOCK" version >/dev/null 2>&1; then return 0; fi
  # A previous run that died without `stop`: clear what it left first.
  [ -e "$DIR/containerd.pid" ] && { stop_ || return 1; mkdir -p "$DIR"; }
  local sd=${RUNM_STATE_DIR:-$DIR/runm}
  echo "$sd" >"$DIR/runm-state-dir"
  local cri='  "io.containerd.grpc.v1.cri",'
  [ "${RUNM_CTRD_CRI:-0}" = 1 ] && cri=
  cat >"$DIR/config.toml" <<TOML
# Private containerd for runm's tests: no CRI (unless RUNM_CTRD_CRI=1), no
# snapshotter but overlayfs and native, no tracing; runtimes are resolved
# from PATH by name (io.containerd.runm.v1 -> containerd-shim-runm-v1 in
# $RUNM_BIN).
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = [
$cri
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "info"

[plugins."io.containerd.service.v1.diff-service"]
  default = ["walking"]
[plugins."io.containerd.snapshotter.v1.overlayfs"]
  root_path = "$DIR/root/io.containerd.snapshotter.v1.overlayfs"
[plugins."io.containerd.snapshotter.v1.native"]
  root_path = "$DIR/root/io.containerd.snapshotter.v1.native"
[plugins."io.containerd.runtime.v2.task"]
  platforms = ["linux/amd64"]
TOML
  if [ "${RUNM_CTRD_CRI:-0}" = 1 ]; then
    mkdir -p "$DIR/cni/bin" "$DIR/cni/conf"
    cat >>"$DIR/config.toml" <<TOML
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${RUNM_CTRD_PAUSE:-docker.io/library/runm-pause:runm}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runm]
      runtime_type = "io.containerd.runm.v1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$DIR/cni/bin"
    conf_dir = "$DIR/cni/conf"
TOML
  fi
  PATH=$RUNM_BIN:$PATH RUNM_STATE_DIR=$sd \
    setsid containerd --config "$DIR/config.toml" >"$DIR/containerd.log" 2>&1 </dev/null &
  p=$!
  echo "$p" >"$DIR/containerd.pid"
  # Bounded poll of the socket: up to 10 s.
  for _ in $(seq 1 200); do
    ctr --address "$SOCK" --timeout 1s version >/dev/null 2>&1 && return 0
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  say "containerd did not start; log:"
  tail -20 "$DIR/containerd.log" >&2
  return 1
}

# Kills pids with SIGKILL and waits (bounded) until they are gone.
kill_wait() {
  local p
  [ $# -gt 0 ] || return 0
  kill -KILL "$@" 2>/dev/null
  for _ in $(seq 1 100); do
    for p in "$@"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "${p:-}" ] && return 0
    sleep 0.05
  done
}

stop_() {
  local ns t c p pids left=0
  [ -d "$DIR" ] || return 0
  p=$(ctrd_pid)
  if [ -n "$p" ] && ctr --address "$SOCK" --timeout 2s version >/dev/null 2>&1; then
    # The orderly way first: containerd tells each shim to kill and delete.
    for ns in $(ctr --address "$SOCK" namespaces ls -q 2>/dev/null); do
      for t in $(ctr --address "$SOCK" -n "$ns" task ls -q 2>/dev/null); do
        timeout 15 ctr --address "$SOCK" -n "$ns" task kill -s KILL "$t" >/dev/null 2>&1
        timeout 15 ctr --address "$SOCK" -n "$ns" task delete -f "$t" >/dev/null 2>&1
      done
      for c in $(ctr --address "$SOCK" -n "$ns" containers ls -q 2>/dev/null); do
        timeout 15 ctr --address "$SOCK" -n "$ns" containers rm "$c" >/dev/null 2>&1
      done
    done
  fi
  if [ -n "$p" ]; then
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill_wait "$p"
  fi
  # What the orderly way missed: shims, then the runc containers they
  # leave running (their bundle is under our state dir), then VMs.
  pids=$(our_shims)
  # shellcheck disable=SC2086
  kill_wait $pids
  if [ -d "$RUNC_ROOT" ]; then
    for ns in "$RUNC_ROOT"/*/; do
      [ -d "$ns" ] || continue
      for c in $(runc --root "$ns" list -q 2>/dev/null); do
        runc --root "$ns" state "$c" 2>/dev/null | grep -qF "\"bundle\": \"$DIR/" || continue
        runc --root "$ns" kill "$c" KILL >/dev/null 2>&1
        runc --root "$ns" delete -f "$c" >/dev/null 2>&1
      done
    done
  fi
  # runc-v2's sockets (/run/containerd/s/sha256(ADDRESS/NS/ID)) of bundles
  # still here: a SIGKILLed runc-v2 shim leaves its own behind.
  for c in "$DIR"/state/io.containerd.runtime.v2.task/*/*/; do
    [ -d "$c" ] || continue
    c=${c%/}
    ns=${c%/*}
    ns=${ns##*/}
    rm -f "/run/containerd/s/$(printf '%s' "$SOCK/$ns/${c##*/}" | sha256sum | cut -d' ' -f1)"
  done
  pids=$(our_qemus)
  # shellcheck disable=SC2086
  kill_wait $pids
  # Snapshotter and rootfs mounts, deepest first.
  for _ in 1 2 3; do
    our_mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -z "$(our_mounts)" ] && break
  done
  # Verify.
  p=$(ctrd_pid; our_shims; our_qemus)
  if [ -n "$p" ]; then say "processes left: $(echo $p)"; left=1; fi
  if [ -n "$(our_mounts)" ]; then say "mounts left: $(our_mounts | tr '\n' ' ')"; left=1; fi
  if [ "$left" -eq 0 ]; then
    rm -rf "$DIR" 2>/dev/null || { say "cannot remove $DIR"; left=1; }
  fi
  return $left
}

case "${1:-}" in
start) start ;;
stop) stop_ ;;
ctr) shift; ctr_ "$@" ;;
*) echo "usage: containerd-env.sh start|stop|ctr ARGS..." >&2; exit 2 ;;
esac

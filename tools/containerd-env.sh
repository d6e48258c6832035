#!/bin/bash
# A private containerd for demos and tests: its own root, state, socket and
# config under $RUNM_CTRD_DIR, with runm's build dir first on its PATH.
#   containerd-env.sh start | stop | ctr ARGS...
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${RUNM_CTRD_DIR:-/tmp/runm-ctrd}
RUNM_BIN=${RUNM_BIN:-$here/build/bin}
SOCK=$DIR/containerd.sock
NS=${RUNM_CTRD_NS:-runm-test}

ctr_() { ctr --address "$SOCK" --namespace "$NS" "$@"; }

start() {
  mkdir -p "$DIR"
  if [ -S "$SOCK" ] && ctr --address "$SOCK" version >/dev/null 2>&1; then return 0; fi
  cat >"$DIR/config.toml" <<TOML
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
TOML
  PATH=$RUNM_BIN:$PATH RUNM_STATE_DIR=${RUNM_STATE_DIR:-$DIR/runm} \
    setsid containerd --config "$DIR/config.toml" >"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! >"$DIR/containerd.pid"
  for _ in $(seq 1 100); do
    ctr --address "$SOCK" version >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$DIR/containerd.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "containerd-env: containerd did not start; log:" >&2
  tail -20 "$DIR/containerd.log" >&2
  return 1
}

stop() {
  [ -d "$DIR" ] || return 0
  if [ -S "$SOCK" ]; then
    for ns in $(ctr --address "$SOCK" namespaces ls -q 2>/dev/null); do
      for t in $(ctr --address "$SOCK" -n "$ns" task ls -q 2>/dev/null); do
        ctr --address "$SOCK" -n "$ns" task kill -s KILL "$t" >/dev/null 2>&1
        ctr --address "$SOCK" -n "$ns" task delete -f "$t" >/dev/null 2>&1
      done
      for c in $(ctr --address "$SOCK" -n "$ns" containers ls -q 2>/dev/null); do
        ctr --address "$SOCK" -n "$ns" containers rm "$c" >/dev/null 2>&1
      done
    done
  fi
  [ -f "$DIR/containerd.pid" ] && kill "$(cat "$DIR/containerd.pid")" 2>/dev/null
  for _ in $(seq 1 50); do
    [ -f "$DIR/containerd.pid" ] && kill -0 "$(cat "$DIR/containerd.pid")" 2>/dev/null || break
    sleep 0.1
  done
  # Shims (and the VMs they own) started from this containerd.
  pkill -KILL -f "containerd-shim-run[cm]-v[12] .*-address $SOCK" 2>/dev/null
  pkill -KILL -f "qemu-system.*$DIR/" 2>/dev/null
  # Snapshotter mounts, deepest first.
  grep -F " $DIR/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
ctr) shift; ctr_ "$@" ;;
*) echo "usage: containerd-env.sh start|stop|ctr ARGS..." >&2; exit 2 ;;
esac

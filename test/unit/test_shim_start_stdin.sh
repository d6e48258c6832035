#!/bin/bash
# containerd 2.3 writes its BootstrapParams (protobuf) to `start`'s stdin;
# 2.x's older releases write the runtime options there. `start` must ignore
# whatever is on stdin and print the plain unix:// address 1.6 to 2.3 all
# accept (docs/containerd.md). The spawned shim is stopped and its state
# removed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHIM=${RUNM_BIN:-$ROOT/build/bin}/containerd-shim-runm-v1
T=$(mktemp -d /tmp/runm-start-stdin.XXXXXX)
ID=start-stdin-$$
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
failed=0
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
cleanup() {
  pkill -KILL -f -- "-id $ID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/state" "$T/bundle"
# A BootstrapParams-shaped message: field 1 (version) = 2, field 2
# (address) = "unix:///x", field 3 (protocol) = "ttrpc"; 64 KiB more after it.
{ printf '\010\002\022\011unix:///x\032\005ttrpc'; head -c 65536 /dev/zero; } >"$T/stdin.bin"
out=$(cd "$T/bundle" && RUNM_STATE_DIR=$T/state timeout 20 "$SHIM" -namespace t -id "$ID" \
  -address "$T/containerd.sock" -publish-binary /bin/true start <"$T/stdin.bin" 2>"$T/err")
rc=$?
if [ $rc -eq 0 ]; then ok "start with a protobuf on stdin succeeds"; else not_ok "start with a protobuf on stdin succeeds" "rc $rc: $(head -c 300 "$T/err")"; fi
case $out in
  unix://"$T"/state/s/*.sock) ok "start prints a plain unix:// address ($out)" ;;
  *) not_ok "start prints a plain unix:// address" "got: $out" ;;
esac
sock=${out#unix://}
if [ -S "$sock" ]; then ok "the shim listens on it"; else not_ok "the shim listens on it" "$sock"; fi
pkill -KILL -f -- "-id $ID" 2>/dev/null
sleep 0.2
if pgrep -f -- "-id $ID" >/dev/null; then not_ok "the spawned shim is gone"; else ok "the spawned shim is gone"; fi
echo "1..$n"
[ "$failed" -eq 0 ]

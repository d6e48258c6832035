#!/bin/bash
# `make demo`: boot a runm VM, ping it, print its boot timeline, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNMCTL=build/bin/runmctl
export RUNM_STATE_DIR=${RUNM_STATE_DIR:-$(mktemp -d /tmp/runm-demo.XXXXXX)}
id=demo-$$
trap '"$RUNMCTL" vm stop "$id" >/dev/null 2>&1 || true; rm -rf "$RUNM_STATE_DIR"' EXIT

echo "== host: $(uname -sr)"
echo "== booting VM $id"
"$RUNMCTL" vm start --id "$id"
echo "== ping x20"
"$RUNMCTL" ping --count 20 "$id"
echo "== guest info and boot timeline"
"$RUNMCTL" info "$id"
echo "== stopping"
"$RUNMCTL" vm stop "$id"
echo "== VMs left: $("$RUNMCTL" vm ls --json)"

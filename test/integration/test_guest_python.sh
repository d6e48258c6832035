#!/bin/bash
# The guest service through a second, independent client: Python's grpcio
# with stubs generated from proto/runm/v1/guest.proto at test time
# (test/python/). Boots a VM sharing $TMP (bundles live there), runs every
# RPC against real runc in the guest, and checks the guest is left serving
# with no zombie, fd or thread leaked.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # python3 on PATH is another build, without grpc
if ! $PY -c 'import grpc, grpc_tools' 2>"$TMP/py.err"; then
  not_ok "python3-grpcio and python3-grpc-tools are installed" "$(cat "$TMP/py.err")"
  finish
fi

out=$("$RUNMCTL" vm start --id gpy --share "$TMP" --json 2>"$TMP/start.err")
rc=$?
if [ $rc -eq 0 ]; then ok "vm start with a share"; else not_ok "vm start with a share" "exit $rc" "$(cat "$TMP/start.err")"; finish; fi
sock=$(echo "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["socket"])')
mkdir -p "$TMP/w/stubs"

# The Python checks join this test's TAP stream.
while IFS= read -r line; do
  case "$line" in
  "ok - "*) ok "${line#ok - }" ;;
  "not ok - "*) not_ok "${line#not ok - }" ;;
  *) echo "$line" ;;
  esac
done < <(timeout 1200 $PY "$ROOT/test/python/test_guest.py" "$sock" "$TMP/w" 2>&1; echo $? >"$TMP/py.rc")
# A crash of the script is a failure even when it printed no `not ok`.
rc=$(cat "$TMP/py.rc" 2>/dev/null || echo missing)
if [ "$rc" = 0 ]; then ok "the Python suite ran to its end"; else not_ok "the Python suite ran to its end" "exit $rc"; fi

check "the VM is still up after the suite" "$RUNMCTL" ping gpy
if grep -E "runm-linux-init\[(error|warn)" "$RUNM_STATE_DIR/vm/gpy/console.log" >"$TMP/console.err"; then
  not_ok "init logged no error or warning on the console" "$(head -5 "$TMP/console.err")"
else
  ok "init logged no error or warning on the console"
fi
check "vm stop succeeds" "$RUNMCTL" vm stop gpy
leak_checks
finish

#!/bin/bash
# Kubernetes pods through containerd 1.6's CRI plugin: one VM per pod
# (docs/containerd.md, issue 13). A Python client generated at test time
# (python3-grpc-tools) from CRI v1's api.proto (test/cri/) drives the CRI
# socket of a private containerd with runtime handlers `runm` and `runc`
# (runc-v2, the reference), busybox and a pause-like busybox image imported
# into k8s.io (no registry), host-network pods (no CNI). Per runtime:
#   main  RunPodSandbox + two containers: one QEMU (runm) and one shim for
#         the pod; B reaches A on localhost and reads A's write to a shared
#         host dir; ExecSync output, stderr and exit code; both logs at the
#         CRI path in CRI's format; ContainerStatus and ContainerStats;
#         StopContainer of A leaves B (and the VM) running; Stop and
#         RemovePodSandbox leave no QEMU, shim, mount or runm state
#   fit   (runm) an app container bigger than the pod's VM is refused
#         saying so; kill -9 of the pod's QEMU ends its container and makes
#         the sandbox NOTREADY; removal still cleans up
#   bash test/e2e/test_cri.sh
#   RUNM_E2E_RUNTIMES=runm RUNM_E2E_CASES=main bash test/e2e/test_cri.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ENV=$ROOT/tools/containerd-env.sh
export RUNM_BIN
RUNM_CTRD_DIR=$(mktemp -d /tmp/rc.XXXXXX)
export RUNM_CTRD_DIR RUNM_CTRD_CRI=1
export RUNM_CTRD_NS=k8s.io
SOCK=$RUNM_CTRD_DIR/containerd.sock
CASES=${RUNM_E2E_CASES:-main fit}
PY=/usr/bin/python3
read -r -a RUNTIMES <<<"${RUNM_E2E_RUNTIMES:-runc runm}"

cri_cleanup() {
  # RUNM_E2E_KEEP_LOG=FILE keeps containerd's log (the shims log there).
  [ -n "${RUNM_E2E_KEEP_LOG:-}" ] && cp "$RUNM_CTRD_DIR/containerd.log" "$RUNM_E2E_KEEP_LOG" 2>/dev/null
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap cri_cleanup EXIT
trap 'exit 130' INT TERM HUP

setup() {
  if ! $PY -c 'import grpc, grpc_tools' 2>"$TMP/py.err"; then
    not_ok "python3-grpcio and python3-grpc-tools are installed" "$(cat "$TMP/py.err")"
    finish
  fi
  mkdir -p "$TMP/gen"
  if ! (cd "$ROOT/test/cri" && $PY -m grpc_tools.protoc -I. --python_out="$TMP/gen" --grpc_python_out="$TMP/gen" api.proto) \
    2>"$TMP/protoc.err"; then
    not_ok "CRI v1 client generated from test/cri/api.proto" "$(cat "$TMP/protoc.err")"
    finish
  fi
  if ! bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" 2>"$TMP/img.err" ||
    ! IMAGE_CMD="sleep 2147483647" bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/pause.tar" 2>>"$TMP/img.err"; then
    not_ok "busybox and pause images built" "$(cat "$TMP/img.err")"
    finish
  fi
  if ! bash "$ENV" start 2>"$TMP/ctrd.err"; then
    not_ok "containerd with CRI started" "$(cat "$TMP/ctrd.err")"
    finish
  fi
  if ! bash "$ENV" ctr images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null 2>"$TMP/imp.err" ||
    ! bash "$ENV" ctr images import --base-name docker.io/library/runm-pause "$TMP/pause.tar" >/dev/null 2>>"$TMP/imp.err"; then
    not_ok "images imported into k8s.io" "$(cat "$TMP/imp.err")"
    finish
  fi
  ok "containerd with CRI, images in k8s.io, CRI client generated"
}

run_runtime() { # HANDLER
  local h=$1 t0=$SECONDS line
  mkdir -p "$TMP/w-$h"
  while IFS= read -r line; do
    case "$line" in
      "ok "*) ok "$h: ${line#ok }" ;;
      "not ok "*) line=${line#not ok }; not_ok "$h: ${line%% :: *}" "${line#* :: }" ;;
      *) echo "$line" ;;
    esac
  done < <(timeout -k 5 600 $PY "$ROOT/test/e2e/cri_pod.py" "$TMP/gen" "$SOCK" "$h" "$TMP/w-$h" "$RUNM_STATE_DIR" \
    "$RUNM_CTRD_DIR" "$CASES" 2>"$TMP/py-$h.err")
  [ -s "$TMP/py-$h.err" ] && sed 's/^/# py: /' "$TMP/py-$h.err" | tail -5
  echo "# $h: $((SECONDS - t0)) s"
}

setup
for r in "${RUNTIMES[@]}"; do run_runtime "$r"; done
[ -n "${RUNM_E2E_KEEP_LOG:-}" ] && cp "$RUNM_CTRD_DIR/containerd.log" "$RUNM_E2E_KEEP_LOG" 2>/dev/null
if bash "$ENV" stop 2>"$TMP/stop.err"; then ok "containerd-env.sh stop leaves no process, mount or dir"
else not_ok "containerd-env.sh stop leaves no process, mount or dir" "$(cat "$TMP/stop.err")"; fi
x=$(our_qemus)
if [ -z "$x" ]; then ok "no QEMU process left"; else not_ok "no QEMU process left" "pids: $x"; fi
# The shared dirs runm makes once (vm, s) may stay, empty.
x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d -empty \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
if [ -z "$x" ]; then ok "runm state dir: nothing left"; else not_ok "runm state dir: nothing left" $x; fi
finish

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
#   group (runm, ctr without CRI) two `ctr run --config` specs annotated
#         io.runm.group=G share one shim and one VM; each runs and execs on
#         its own; deleting the first leaves the second; nothing left after
#   bash test/e2e/test_cri.sh
#   RUNM_E2E_RUNTIMES=runm RUNM_E2E_CASES=main bash test/e2e/test_cri.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ENV=$ROOT/tools/containerd-env.sh
export RUNM_BIN
RUNM_CTRD_DIR=$(mktemp -d /tmp/rc.XXXXXX)
export RUNM_CTRD_DIR RUNM_CTRD_CRI=1
export RUNM_CTRD_NS=k8s.io
SOCK=$RUNM_CTRD_DIR/containerd.sock
CASES=${RUNM_E2E_CASES:-main fit group}
PY=/usr/bin/python3
read -r -a RUNTIMES <<<"${RUNM_E2E_RUNTIMES:-runc runm}"

# RUNM_E2E_VM_BACKEND=libvirt: runm's pod VMs are libvirt domains on a
# private embed root (a pod's later containers are bound into a running
# domain's share: docs/libvirt.md, "The pool and pods").
. "$ROOT/test/e2e/lib_libvirt.sh"
lv_embed_from_env cri
cri_cleanup() {
  # RUNM_E2E_KEEP_LOG=FILE keeps containerd's log (the shims log there).
  [ -n "${RUNM_E2E_KEEP_LOG:-}" ] && cp "$RUNM_CTRD_DIR/containerd.log" "$RUNM_E2E_KEEP_LOG" 2>/dev/null
  bash "$ENV" stop >/dev/null 2>&1
  [ -z "$LV_ROOT" ] || rm -rf "$LV_ROOT"
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

CTR() { timeout -k 5 120 ctr --address "$SOCK" --namespace runm-group "$@"; }
n_qemus() { our_qemus | wc -l; }
case_group() {
  local g=grp-$$ x
  if ! bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/gb" sleep 100000 >/dev/null 2>"$TMP/gb.err"; then
    not_ok "group: busybox bundle" "$(cat "$TMP/gb.err")"
    return
  fi
  for i in 1 2; do
    $PY - "$TMP/gb/config.json" "$TMP/g$i.json" "$g" "$TMP/gb/rootfs" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": sys.argv[4], "readonly": True}
c.setdefault("annotations", {})["io.runm.group"] = sys.argv[3]
c["hostname"] = "grp"
json.dump(c, open(sys.argv[2], "w"))
PY
  done
  CTR run -d --runtime io.containerd.runm.v1 --config "$TMP/g1.json" g1 </dev/null >/dev/null 2>"$TMP/g1.err" &&
    CTR run -d --runtime io.containerd.runm.v1 --config "$TMP/g2.json" g2 </dev/null >/dev/null 2>"$TMP/g2.err"
  x=$(CTR task ls 2>&1 | awk '$1 ~ /^g[12]$/ && $3 == "RUNNING"' | wc -l)
  if [ "$x" = 2 ]; then ok "group: two containers of io.runm.group run"; else
    not_ok "group: two containers of io.runm.group run" "$(cat "$TMP/g1.err" "$TMP/g2.err")" "$(CTR task ls 2>&1)"; fi
  x=$(n_qemus)
  if [ "$x" = 1 ]; then ok "group: one QEMU for both"; else not_ok "group: one QEMU for both" "$x QEMUs"; fi
  x=$(CTR task exec --exec-id e2 g2 sh -c 'echo in-g2; hostname' 2>&1)
  if [ "$x" = "in-g2"$'\n'"grp" ]; then ok "group: exec in the second"; else not_ok "group: exec in the second" "$x"; fi
  CTR task kill -s KILL g1 >/dev/null 2>&1
  wait_until 30 eval '[ "$(CTR task ls 2>/dev/null | awk '"'"'$1 == "g1" { print $3 }'"'"')" = STOPPED ]'
  CTR task delete g1 >/dev/null 2>&1
  x=$(CTR task exec --exec-id e3 g2 echo still-here 2>&1)
  if [ "$x" = still-here ] && [ "$(n_qemus)" = 1 ]; then ok "group: the first deleted, the second runs on in the VM"
  else not_ok "group: the first deleted, the second runs on in the VM" "$x" "$(n_qemus) QEMUs"; fi
  CTR task kill -s KILL g2 >/dev/null 2>&1
  wait_until 30 eval '[ "$(CTR task ls 2>/dev/null | awk '"'"'$1 == "g2" { print $3 }'"'"')" = STOPPED ]'
  CTR task delete g2 >/dev/null 2>&1
  CTR containers rm g1 g2 >/dev/null 2>&1
  wait_until 20 eval '[ -z "$(our_qemus)" ]'
  x="$(our_qemus)$(find "$RUNM_STATE_DIR"/vm "$RUNM_STATE_DIR"/exports "$RUNM_STATE_DIR"/s -mindepth 1 2>/dev/null)"
  if [ -z "$x" ]; then ok "group: nothing left (QEMU, VM dir, exports, socket)"; else not_ok "group: nothing left (QEMU, VM dir, exports, socket)" $x; fi
}

setup
for r in "${RUNTIMES[@]}"; do run_runtime "$r"; done
case " $CASES " in *" group "*) [[ " ${RUNTIMES[*]} " == *" runm "* ]] && case_group ;; esac
[ -n "${RUNM_E2E_KEEP_LOG:-}" ] && cp "$RUNM_CTRD_DIR/containerd.log" "$RUNM_E2E_KEEP_LOG" 2>/dev/null
if bash "$ENV" stop 2>"$TMP/stop.err"; then ok "containerd-env.sh stop leaves no process, mount or dir"
else not_ok "containerd-env.sh stop leaves no process, mount or dir" "$(cat "$TMP/stop.err")"; fi
x=$(our_qemus)
if [ -z "$x" ]; then ok "no QEMU process left"; else not_ok "no QEMU process left" "pids: $x"; fi
# The shared dirs runm makes once (vm, s) may stay, empty.
x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d -empty \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
if [ -z "$x" ]; then ok "runm state dir: nothing left"; else not_ok "runm state dir: nothing left" $x; fi
if [ -n "$LV_ROOT" ]; then
  # libvirt keeps a log per domain it started on the root.
  x=$(ls "$LV_ROOT/log/qemu/" 2>/dev/null | grep -c '^runm-.*\.log$')
  if [ "$x" -ge 1 ]; then ok "libvirt: the pods' VMs were domains on the embed root ($x)"; else
    not_ok "libvirt: the pods' VMs were domains on the embed root" "$(ls -R "$LV_ROOT/log" 2>&1 | head -5)"; fi
fi
lv_embed_end_check
finish

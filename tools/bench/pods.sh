# shellcheck shell=bash
# Pod start through containerd's CRI plugin (issue 13): RunPodSandbox and
# two app containers until both run, and the pod's host memory (PSS), per
# runtime handler; tools/bench/pods.py measures. Sourced by tools/bench.sh.
#   RAW/pods-RT.json   {"start_s": [...], "pss_mib": [...], "errors": [...]}

# The CRI v1 client (test/cri/api.proto) and the images CRI needs in k8s.io.
pods_setup() {
  mkdir -p "$WORK/cri-gen"
  (cd "$ROOT/test/cri" && $PY -m grpc_tools.protoc -I. --python_out="$WORK/cri-gen" \
    --grpc_python_out="$WORK/cri-gen" api.proto) || { fail "pods: CRI client (python3-grpc-tools)"; return 1; }
  [ -f "$WORK/pause.tar" ] || IMAGE_CMD="sleep 2147483647" bash test/fixtures/mkimage-busybox.sh "$WORK/pause.tar" ||
    { fail "pods: pause image"; return 1; }
  RUNM_CTRD_NS=k8s.io bash "$ENV_SH" ctr images import --base-name docker.io/library/busybox "$WORK/busybox.tar" \
    >/dev/null && RUNM_CTRD_NS=k8s.io bash "$ENV_SH" ctr images import --base-name docker.io/library/runm-pause \
    "$WORK/pause.tar" >/dev/null || { fail "pods: image import into k8s.io"; return 1; }
}

bench_pods() {
  local rt=$1 runs=$2
  say "pods: $runs pods of 2 containers ($rt)"
  timeout -k 5 $((LIMIT * runs)) $PY tools/bench/pods.py "$WORK/cri-gen" "$SOCK" "$rt" "$runs" "$RAW/pods-$rt.json" \
    2>"$WORK/pods-$rt.err" || fail "pods: $rt: $(tail -3 "$WORK/pods-$rt.err" | tr '\n' ' ') $(grep -o '"errors".*' "$RAW/pods-$rt.json" 2>/dev/null | head -c 300)"
}

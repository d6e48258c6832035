# shellcheck shell=bash
# COUNT detached `sleep` containers started at once: the time until every
# one runs, and the host memory (PSS of every shim of our containerd and
# everything below them: QEMUs for runm, the sleeps for runc-v2) sampled
# every 0.25 s while they start. Sourced by tools/bench.sh.
#   RAW/many-RT.txt       "T0_US T1_US SECONDS STARTED COUNT"
#   RAW/many-RT-pss.txt   procs.py sample: "UNIX_S TOTAL_PSS_KIB N_SHIMS CPU_TICKS"

bench_many() {
  local rt=$1 count=$2 i t0 t1 sampler ok=0 ids=() pids=()
  say "$count containers at once ($rt)"
  $PY "$PROCS" sample --sock "$SOCK" --interval 0.25 >"$RAW/many-$rt-pss.txt" &
  sampler=$!
  sleep 0.5
  t0=$(now_us)
  for i in $(seq 1 "$count"); do
    ids+=("many-$rt-$i")
    CTR run -d --runtime "$(runtime_of "$rt")" "$IMAGE" "many-$rt-$i" sleep 3600 \
      </dev/null >/dev/null 2>"$WORK/many-$rt-$i.err" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      ok=$((ok + 1))
    else
      fail "many: $rt: ${ids[$i]}: $(tail -2 "$WORK/${ids[$i]}.err" | tr '\n' ' ')"
    fi
  done
  if [ $ok -eq "$count" ] && ! wait_running "${ids[@]}"; then
    fail "many: $rt: not all $count containers reached RUNNING"
    ok=0
  fi
  t1=$(now_us)
  # A little past the end: memory settles after the last start.
  sleep 1
  bg_stop "$sampler"
  echo "$t0 $t1 $(secs "$t0" "$t1") $ok $count" >"$RAW/many-$rt.txt"
  remove_containers "${ids[@]}"
}

# shellcheck shell=bash
# Standalone VMs (runmctl vm start, no containerd): boot to first Ping, the
# guest's own boot timeline (Guest.Info) for each boot, and Ping round trips
# on the first VM. Sourced by tools/bench.sh.
#   RAW/boot.jsonl   one line per boot: runmctl vm start --json + info --json
#   RAW/ping.json    runmctl ping -c BENCH_PINGS --json
bench_boot() {
  local n=$1 pings=$2 i id start info sd=$WORK/runmctl
  mkdir -p "$sd"
  : >"$RAW/boot.jsonl"
  say "boot: $n standalone VM boots, $pings pings"
  for i in $(seq 1 "$n"); do
    id=bench-boot-$i
    if ! start=$(RUNM_STATE_DIR=$sd timeout -k 5 "$LIMIT" "$RUNMCTL" vm start --id "$id" --json 2>"$WORK/$id.err" 7>&- 8>&- 9>&-); then
      fail "boot: runmctl vm start $id: $(tail -3 "$WORK/$id.err" | tr '\n' ' ')"
      continue
    fi
    if info=$(RUNM_STATE_DIR=$sd timeout 60 "$RUNMCTL" info --json "$id" 2>>"$WORK/$id.err"); then
      echo "{\"start\": $start, \"info\": $info}" >>"$RAW/boot.jsonl"
    else
      fail "boot: runmctl info $id"
    fi
    if [ "$i" -eq 1 ]; then
      RUNM_STATE_DIR=$sd timeout 300 "$RUNMCTL" ping --count "$pings" --json "$id" >"$RAW/ping.json" 2>>"$WORK/$id.err" ||
        fail "boot: runmctl ping $id"
    fi
    RUNM_STATE_DIR=$sd timeout 60 "$RUNMCTL" vm stop "$id" >/dev/null 2>>"$WORK/$id.err" ||
      fail "boot: runmctl vm stop $id"
  done
}

# Stops whatever standalone VM an interrupted bench_boot left.
boot_cleanup() {
  local d sd=$WORK/runmctl
  for d in "$sd"/vm/*/; do
    [ -d "$d" ] && RUNM_STATE_DIR=$sd timeout 30 "$RUNMCTL" vm stop "$(basename "$d")" >/dev/null 2>&1
  done
  return 0
}

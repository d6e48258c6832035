# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts
# Shared by tools/bench.sh and tools/bench/*.sh (sourced, never run):
# settings, logging, timing, the private containerd's ctr, process probes.
# Expects ROOT, OUT, RAW, WORK, CTRD_DIR, NS set by tools/bench.sh.

ENV_SH=$ROOT/tools/containerd-env.sh
RUNMCTL=$ROOT/build/bin/runmctl
PROCS=$ROOT/tools/bench/procs.py
PY=/usr/bin/python3
IMAGE=docker.io/library/busybox:runm
SOCK=$CTRD_DIR/containerd.sock
LIMIT=${BENCH_TIMEOUT:-180} # seconds for any one ctr command

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
  printf 'bench: error: %s\n' "$*" >&2
  exit 1
}
fail() { # a measurement failed: say so, record it (RAW/failed.txt), carry on
  say "FAILED: $*"
  echo "$*" >>"$RAW/failed.txt"
}

# Microseconds since the epoch (CLOCK_REALTIME, like the shim's timing
# records), without a fork.
now_us() { echo "${EPOCHREALTIME/./}"; }
# Seconds between two now_us values, as a decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", (b - a) / 1e6 }'; }

runtime_of() {
  case "$1" in
  runc) echo io.containerd.runc.v2 ;;
  runm) echo io.containerd.runm.v1 ;;
  runmlv) echo io.containerd.runmlv.v1 ;; # runm on the libvirt backend, embed (libvirt.sh)
  runmlvd) echo io.containerd.runmlvd.v1 ;; # runm on the libvirt backend, daemon (libvirt.sh)
  runmvfs) echo io.containerd.runmvfs.v1 ;; # runm with share_fs = virtiofs (sharefs.sh)
  *) die "unknown runtime $1" ;;
  esac
}

# ctr against the private containerd, bounded in time.
CTR() { timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" "$@"; }

task_status() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }

# wait_running ID...: until every task is RUNNING (bounded by LIMIT).
wait_running() {
  local deadline=$((SECONDS + LIMIT)) id ok
  while [ $SECONDS -lt $deadline ]; do
    ok=1
    local ls
    ls=$(CTR task ls 2>/dev/null)
    for id in "$@"; do
      echo "$ls" | awk -v id="$id" '$1 == id && $3 == "RUNNING" { f = 1 } END { exit !f }' || { ok=0; break; }
    done
    [ $ok -eq 1 ] && return 0
    sleep 0.1
  done
  return 1
}

# A detached `sleep` container: start_sleeper RUNTIME ID.
start_sleeper() {
  CTR run -d --runtime "$(runtime_of "$1")" "$IMAGE" "$2" sleep 3600 </dev/null >/dev/null 2>"$WORK/$2.err" &&
    wait_running "$2"
}

# Kill, delete and remove containers (best effort, in parallel).
remove_containers() {
  local id pids=()
  for id in "$@"; do
    (
      CTR task kill -s KILL "$id" >/dev/null 2>&1
      for _ in $(seq 1 100); do
        s=$(task_status "$id")
        [ -z "$s" ] || [ "$s" = STOPPED ] && break
        sleep 0.1
      done
      CTR task delete -f "$id" >/dev/null 2>&1
      CTR containers rm "$id" >/dev/null 2>&1
    ) &
    pids+=($!)
  done
  [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}" 2>/dev/null
  return 0
}

# bg_stop PID: TERM a background helper, wait for it.
bg_stop() {
  kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

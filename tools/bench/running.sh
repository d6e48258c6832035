# shellcheck shell=bash
# One detached `sleep` container per runtime: its host memory once idle,
# exec latency into it, and stdio throughput through it. Sourced by
# tools/bench.sh.
#   RAW/idle-RT.json        procs.py tree: PSS of the shim and its tree
#   RAW/idle-RT-wait.json   procs.py wait-idle: how idle it got
#   RAW/exec-RT.txt         seconds per `ctr task exec ... /bin/true`
#   RAW/stdout-RT.txt       "BYTES_WANTED BYTES_SEEN SECONDS"
#   RAW/stdin-RT.txt        same, for bytes piped into `wc -c`

bench_running() {
  local rt=$1 runs=$2 bytes=$3 id="run-$1" i t0 t1 got
  say "running container ($rt): idle memory, $runs execs, $((bytes >> 20)) MiB stdout and stdin"
  if ! start_sleeper "$rt" "$id"; then
    fail "running: $rt: could not start $id: $(tail -2 "$WORK/$id.err" | tr '\n' ' ')"
    remove_containers "$id"
    return 0
  fi

  # Memory: wait (up to 30 s) until the tree's CPU use settles, then PSS.
  $PY "$PROCS" wait-idle --sock "$SOCK" --id "$id" --max 30 >"$RAW/idle-$rt-wait.json" ||
    fail "idle: $rt: wait-idle"
  $PY "$PROCS" tree --sock "$SOCK" --id "$id" >"$RAW/idle-$rt.json" || fail "idle: $rt: PSS"

  : >"$RAW/exec-$rt.txt"
  for i in $(seq 1 "$runs"); do
    t0=$(now_us)
    if CTR task exec --exec-id "e$i" "$id" /bin/true </dev/null >/dev/null 2>"$WORK/exec.err"; then
      t1=$(now_us)
      secs "$t0" "$t1" >>"$RAW/exec-$rt.txt"
    else
      fail "exec: $rt: exec e$i: $(tail -2 "$WORK/exec.err" | tr '\n' ' ')"
    fi
  done

  # stdout: the container writes `bytes` zeros; ctr's stdout is counted.
  t0=$(now_us)
  got=$(CTR task exec --exec-id out "$id" head -c "$bytes" /dev/zero </dev/null 2>"$WORK/stdout.err" | wc -c)
  t1=$(now_us)
  echo "$bytes $got $(secs "$t0" "$t1")" >"$RAW/stdout-$rt.txt"
  [ "$got" = "$bytes" ] || fail "stdout: $rt: $got of $bytes bytes arrived: $(tail -2 "$WORK/stdout.err" | tr '\n' ' ')"

  # stdin: `bytes` zeros piped into ctr; the container counts them.
  t0=$(now_us)
  got=$(head -c "$bytes" /dev/zero | CTR task exec --exec-id in "$id" wc -c 2>"$WORK/stdin.err" | tr -dc 0-9)
  t1=$(now_us)
  echo "$bytes ${got:-0} $(secs "$t0" "$t1")" >"$RAW/stdin-$rt.txt"
  [ "$got" = "$bytes" ] || fail "stdin: $rt: the container counted ${got:-nothing} of $bytes bytes: $(tail -2 "$WORK/stdin.err" | tr '\n' ' ')"

  remove_containers "$id"
}

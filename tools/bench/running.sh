# shellcheck shell=bash
# One detached `sleep` container per runtime, both running at once: their
# host memory once idle, exec latency into them and stdio throughput
# through them, runc-v2 and runm interleaved (run i of one, run i of the
# other, ...) so that background load hits both alike. Sourced by
# tools/bench.sh.
#   RAW/idle-RT.json        procs.py tree: PSS of the shim and its tree
#   RAW/idle-RT-wait.json   procs.py wait-idle: how idle it got
#   RAW/exec-RT.txt         seconds per `ctr task exec ... /bin/true`
#   RAW/stdout-RT.txt       "BYTES_WANTED BYTES_SEEN SECONDS", one line a run
#   RAW/stdin-RT.txt        same, for bytes piped into `wc -c`
#   RAW/producer-RT.txt     "BYTES SECONDS": the stdout figure's producer
#                           alone (`head -c BYTES /dev/zero > /dev/null`
#                           inside the container, timed there): the most
#                           any transport could carry from that program
#   RAW/consumer-RT.txt     "BYTES SECONDS": the stdin figure's consumer
#                           alone (`wc -c` fed through a pipe by `dd bs=1M`
#                           inside the container, timed there): the most
#                           any transport could deliver to that program
STDIO_REPS=${BENCH_STDIO_REPS:-3} # stdout and stdin runs per runtime

# stdio_once RT ID N BYTES: one stdout and one stdin run, appended.
stdio_once() {
  local rt=$1 id=$2 n=$3 bytes=$4 t0 t1 got
  # stdout: the container writes `bytes` zeros; ctr's stdout is counted.
  t0=$(now_us)
  got=$(CTR task exec --exec-id "out$n" "$id" head -c "$bytes" /dev/zero </dev/null 2>"$WORK/stdout.err" | wc -c)
  t1=$(now_us)
  echo "$bytes $got $(secs "$t0" "$t1")" >>"$RAW/stdout-$rt.txt"
  [ "$got" = "$bytes" ] || fail "stdout: $rt: $got of $bytes bytes arrived: $(tail -2 "$WORK/stdout.err" | tr '\n' ' ')"

  # stdin: `bytes` zeros piped into ctr; the container counts them.
  t0=$(now_us)
  got=$(head -c "$bytes" /dev/zero | CTR task exec --exec-id "in$n" "$id" wc -c 2>"$WORK/stdin.err" | tr -dc 0-9)
  t1=$(now_us)
  echo "$bytes ${got:-0} $(secs "$t0" "$t1")" >>"$RAW/stdin-$rt.txt"
  [ "$got" = "$bytes" ] || fail "stdin: $rt: the container counted ${got:-nothing} of $bytes bytes: $(tail -2 "$WORK/stdin.err" | tr '\n' ' ')"
}

# timed_in_container WHAT RT ID EXEC_ID BYTES CMD: runs CMD (a shell
# command line) in the container, timed there by busybox `time` ("real\tXm
# Y.YYs" on stderr), and appends "BYTES SECONDS" to RAW/WHAT-RT.txt.
timed_in_container() {
  local what=$1 rt=$2 id=$3 eid=$4 bytes=$5 cmd=$6 out
  out=$(CTR task exec --exec-id "$eid" "$id" sh -c "time sh -c '$cmd'" </dev/null 2>&1)
  awk -v b="$bytes" '/^real/ { v = $2 $3; sub(/s$/, "", v); split(v, a, "m"); print b, a[1] * 60 + a[2]; f = 1 }
    END { exit !f }' <<<"$out" >>"$RAW/$what-$rt.txt" ||
    fail "$what: $rt: no time from the container: $(tail -2 <<<"$out" | tr '\n' ' ')"
}

# producer_once RT ID N BYTES: the stdout producer alone.
producer_once() {
  timed_in_container producer "$1" "$2" "prod$3" "$4" "head -c $4 /dev/zero >/dev/null"
}

# consumer_once RT ID N BYTES: the stdin consumer alone, fed by a cheap
# writer (1 MiB writes) through a pipe, as the guest's relay feeds it.
consumer_once() {
  timed_in_container consumer "$1" "$2" "cons$3" "$(($4 >> 20 << 20))" \
    "dd if=/dev/zero bs=1048576 count=$(($4 >> 20)) 2>/dev/null | wc -c >/dev/null"
}

# bench_running RUNS BYTES
bench_running() {
  local runs=$1 bytes=$2 rt i t0 t1 up=()
  say "running containers (runc-v2 and runm interleaved): idle memory, $runs execs, $STDIO_REPS x $((bytes >> 20)) MiB stdout and stdin"
  for rt in runc runm; do
    : >"$RAW/exec-$rt.txt"
    : >"$RAW/stdout-$rt.txt"
    : >"$RAW/stdin-$rt.txt"
    : >"$RAW/producer-$rt.txt"
    : >"$RAW/consumer-$rt.txt"
    if start_sleeper "$rt" "run-$rt"; then
      up+=("$rt")
    else
      fail "running: $rt: could not start run-$rt: $(tail -2 "$WORK/run-$rt.err" | tr '\n' ' ')"
    fi
  done

  # Memory: wait (up to 30 s) until each tree's CPU use settles, then PSS.
  for rt in "${up[@]}"; do
    $PY "$PROCS" wait-idle --sock "$SOCK" --id "run-$rt" --max 30 >"$RAW/idle-$rt-wait.json" ||
      fail "idle: $rt: wait-idle"
    $PY "$PROCS" tree --sock "$SOCK" --id "run-$rt" >"$RAW/idle-$rt.json" || fail "idle: $rt: PSS"
  done

  for i in $(seq 1 "$runs"); do
    for rt in "${up[@]}"; do
      t0=$(now_us)
      if CTR task exec --exec-id "e$i" "run-$rt" /bin/true </dev/null >/dev/null 2>"$WORK/exec.err"; then
        t1=$(now_us)
        secs "$t0" "$t1" >>"$RAW/exec-$rt.txt"
      else
        fail "exec: $rt: exec e$i: $(tail -2 "$WORK/exec.err" | tr '\n' ' ')"
      fi
    done
  done

  for i in $(seq 1 "$STDIO_REPS"); do
    for rt in "${up[@]}"; do
      stdio_once "$rt" "run-$rt" "$i" "$bytes"
      producer_once "$rt" "run-$rt" "$i" "$bytes"
      consumer_once "$rt" "run-$rt" "$i" "$bytes"
    done
  done

  remove_containers run-runc run-runm
}

#!/bin/bash
# No output lost at exit, under runm (io.containerd.runm.v1), through the real
# containerd 1.6 and ctr: every byte a process writes to stdout and stderr,
# interleaved right up to its exit, arrives on ctr's stdout and stderr,
# exactly (sha256 and size, or the exact bytes).
#
#  1. small, many times: RUNM_STDIO_EXECS (default 100) `ctr task exec` into
#     one long-running container, the second half with two `yes` beside them
#     (CPU load); 1 byte on each stream in both orders, and interleaved lines.
#  2. small and large through `ctr run --rm`: 1 byte, 64 KiB and 1 MiB on
#     each stream, interleaved, read by slow consumers (4 KiB per 8 ms);
#     1 MiB three times.
#     ctr 1.6 closes its FIFO readers as soon as Wait returns for the init
#     (containerd#8643), so what the shim wrote but ctr had not read yet
#     was lost: the shim must report the exit only once ctr read it all.
#  3. small through `ctr run --rm` with the CPUs busy, RUNM_STDIO_RUNS times.
#
#   bash test/e2e/test_stdio_exit.sh
#   RUNM_STDIO_EXECS=300 bash test/e2e/test_stdio_exit.sh
# Output is TAP; on a failure the outputs are kept in /tmp/runm-stdio-fail.*.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rc runm-test 120
RT=io.containerd.runm.v1
EXECS=${RUNM_STDIO_EXECS:-100}
RUNS=${RUNM_STDIO_RUNS:-4}
LONG=stdio-long
LOAD=()

stop_load() {
  local p
  for p in "${LOAD[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  LOAD=()
}
start_load() {
  yes >/dev/null &
  LOAD+=($!)
  yes >/dev/null &
  LOAD+=($!)
}

e2e_cleanup() {
  stop_load
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM HUP

keep() { # keep NAME FILES...: a failure's evidence
  local d
  d=$(mktemp -d /tmp/runm-stdio-fail.XXXXXX)
  cp "$@" "$d/" 2>/dev/null
  echo "#   kept in $d"
}

# The writer, in the container: N lines of 4 KiB on each stream,
# alternating, stdout's "o%04094d\n" then stderr's "e%04094d\n", the last
# written to stderr just before the exit; N=0 writes one byte each. Big
# writes, so that the slow readers, not the writer, set the pace.
GEN='n=$1; if [ "$n" -eq 0 ]; then printf o; printf e >&2; exit 0; fi
i=0; while [ $i -lt $n ]; do printf "o%04094d\n" $i; printf "e%04094d\n" $i >&2; i=$((i+1)); done'
# The same bytes on the host (python, not the container's printf).
expect() { # N STREAM(o|e) -> the bytes on stdout
  /usr/bin/python3 -c '
import sys
n, c = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer
if n == 0: out.write(c.encode())
else:
    for i in range(n): out.write(("%s%04094d\n" % (c, i)).encode())' "$1" "$2"
}
# A slow consumer: 4 KiB per 8 ms; prints "SIZE SHA256".
SLOW='
import sys, time, hashlib
h = hashlib.sha256(); n = 0
f = sys.stdin.buffer.raw
while True:
    b = f.read(4096)
    if not b: break
    h.update(b); n += len(b)
    time.sleep(0.008)
print(n, h.hexdigest())'
sum_of() { printf '%s %s\n' "$(stat -c %s "$1")" "$(sha256sum <"$1" | cut -d' ' -f1)"; }

setup() {
  if [ ! -x "$RUNM_BIN/containerd-shim-runm-v1" ]; then
    not_ok "containerd-shim-runm-v1 is built" "missing: $RUNM_BIN/containerd-shim-runm-v1"
    finish
  fi
  e2e_start
  for n in 0 16 256; do
    expect "$n" o >"$TMP/want-$n.out"
    expect "$n" e >"$TMP/want-$n.err"
  done
}

# 1. small outputs, many execs into one container.
small_execs() {
  local k script want_o want_e bad=0 bad_load=0 first_bad=""
  TCTR run -d --runtime "$RT" "$IMAGE" "$LONG" sleep 100000 </dev/null >"$TMP/long.out" 2>&1
  if ! wait_until 60 status_is "$LONG" RUNNING; then
    not_ok "a long-running runm container starts" "$(cat "$TMP/long.out")"
    return
  fi
  ok "a long-running runm container starts"
  for k in $(seq 1 "$EXECS"); do
    [ "$k" -eq $((EXECS / 2 + 1)) ] && start_load
    case $((k % 3)) in
    0) script='printf o; printf e >&2'; want_o=o; want_e=e ;;
    1) script='printf e >&2; printf o'; want_o=o; want_e=e ;;
    *) script='for i in 1 2 3; do echo o$i; echo e$i >&2; done'
      want_o=$(printf 'o1\no2\no3'); want_e=$(printf 'e1\ne2\ne3') ;;
    esac
    TCTR task exec --exec-id "x$k" "$LONG" sh -c "$script" </dev/null >"$TMP/x.out" 2>"$TMP/x.err"
    echo $? >"$TMP/x.rc"
    if [ "$(cat "$TMP/x.rc")" != 0 ] || [ "$(cat "$TMP/x.out")" != "$want_o" ] ||
      [ "$(cat "$TMP/x.err")" != "$want_e" ]; then
      bad=$((bad + 1))
      [ ${#LOAD[@]} -gt 0 ] && bad_load=$((bad_load + 1))
      if [ -z "$first_bad" ]; then
        first_bad="exec $k: rc=$(cat "$TMP/x.rc") out=$(od -c "$TMP/x.out" | head -2 | tr '\n' ' ') err=$(od -c "$TMP/x.err" | head -2 | tr '\n' ' ')"
      fi
    fi
  done
  stop_load
  if [ "$bad" -eq 0 ]; then
    ok "$EXECS execs, 1 byte / 3 lines on each stream up to exit, half under CPU load: no loss"
  else
    not_ok "$EXECS execs, 1 byte / 3 lines on each stream up to exit, half under CPU load: no loss" \
      "$bad runs lost or changed output ($bad_load under load)" "$first_bad"
  fi
  # A large one through exec as well (exec's io is waited for by ctr).
  TCTR task exec --exec-id xl "$LONG" sh -c "$GEN" gen 256 </dev/null >"$TMP/xl.out" 2>"$TMP/xl.err"
  if cmp -s "$TMP/xl.out" "$TMP/want-256.out" && cmp -s "$TMP/xl.err" "$TMP/want-256.err"; then
    ok "exec: 1 MiB on each stream, interleaved, arrives exactly"
  else
    not_ok "exec: 1 MiB on each stream, interleaved, arrives exactly" \
      "stdout $(sum_of "$TMP/xl.out") stderr $(sum_of "$TMP/xl.err")"
    keep xl "$TMP/xl.out" "$TMP/xl.err"
  fi
  TCTR task kill -s KILL "$LONG" >/dev/null 2>&1
  wait_until 60 status_is "$LONG" STOPPED
  TCTR task delete "$LONG" >/dev/null 2>&1
  TCTR containers rm "$LONG" >/dev/null 2>&1
}

# 2. `ctr run --rm`, each stream to a slow consumer.
slow_runs() {
  local n r=0 id rc got_o got_e want_o want_e
  for n in 0 16 256 256 256; do
    r=$((r + 1))
    id=stdio-slow-$n-$r
    rm -f "$TMP/po" "$TMP/pe"
    mkfifo "$TMP/po" "$TMP/pe"
    /usr/bin/python3 -c "$SLOW" <"$TMP/po" >"$TMP/slow.o" &
    local ro=$!
    /usr/bin/python3 -c "$SLOW" <"$TMP/pe" >"$TMP/slow.e" &
    local re=$!
    TCTR run --rm --runtime "$RT" "$IMAGE" "$id" sh -c "$GEN" gen "$n" </dev/null >"$TMP/po" 2>"$TMP/pe"
    rc=$?
    wait "$ro" "$re"
    got_o=$(cat "$TMP/slow.o")
    got_e=$(cat "$TMP/slow.e")
    want_o=$(sum_of "$TMP/want-$n.out")
    want_e=$(sum_of "$TMP/want-$n.err")
    local what="ctr run --rm #$r: $((n == 0 ? 1 : n * 4096)) bytes on each stream, slow readers"
    if [ "$rc" = 0 ] && [ "$got_o" = "$want_o" ] && [ "$got_e" = "$want_e" ]; then
      ok "$what: exact"
    else
      not_ok "$what: exact" "rc=$rc" "stdout got $got_o want $want_o" "stderr got $got_e want $want_e"
    fi
  done
}

# 3. `ctr run --rm`, small, CPUs busy, read by files.
loaded_runs() {
  local r id bad=0 first_bad=""
  start_load
  for r in $(seq 1 "$RUNS"); do
    id=stdio-busy-$r
    TCTR run --rm --runtime "$RT" "$IMAGE" "$id" sh -c "$GEN" gen 0 </dev/null >"$TMP/b.out" 2>"$TMP/b.err"
    echo $? >"$TMP/b.rc"
    if [ "$(cat "$TMP/b.rc")" != 0 ] || [ "$(cat "$TMP/b.out")" != o ] || [ "$(cat "$TMP/b.err")" != e ]; then
      bad=$((bad + 1))
      [ -n "$first_bad" ] || first_bad="run $r: rc=$(cat "$TMP/b.rc") out=$(head -c 200 "$TMP/b.out") err=$(head -c 200 "$TMP/b.err")"
    fi
  done
  stop_load
  if [ "$bad" -eq 0 ]; then
    ok "$RUNS x ctr run --rm under CPU load: 1 byte on each stream, none lost"
  else
    not_ok "$RUNS x ctr run --rm under CPU load: 1 byte on each stream, none lost" "$bad lost" "$first_bad"
  fi
}

setup
small_execs
slow_runs
loaded_runs
e2e_end_checks
finish

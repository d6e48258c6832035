#!/bin/bash
# The guest runc service through runmctl: stdio, exit codes, signals, exec,
# tty, pause/resume, stats, events, and bad input, against a real VM.
. "$(dirname "$0")/lib.sh"

MK=$ROOT/test/fixtures/mkbundle.sh
B=$TMP/b
mkdir -p "$B"
vm=ct1
if ! "$RUNMCTL" vm start --id $vm --share "$TMP" >/dev/null 2>"$TMP/start.err"; then
  not_ok "vm start with a share" "$(cat "$TMP/start.err")"
  finish
fi
ok "vm start with a share"
R() { "$RUNMCTL" "$1" --vm $vm "${@:2}"; }

# run_case NAME WANT_STDOUT WANT_STDERR WANT_EXIT ARGS...
run_case() {
  local name=$1 want_out=$2 want_err=$3 want_rc=$4; shift 4
  local b="$B/$name"
  bash "$MK" "$b" "$@" >/dev/null
  R run --bundle "$b" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  if [ "$rc" = "$want_rc" ] && [ "$(cat "$TMP/out")" = "$want_out" ] && [ "$(cat "$TMP/err")" = "$want_err" ]; then
    ok "run $name"
  else
    not_ok "run $name" "exit $rc (want $want_rc)" "stdout: $(head -c 300 "$TMP/out")" "stderr: $(head -c 300 "$TMP/err")"
  fi
}

run_case echo "hello world" "" 0 echo hello world
run_case stderr-split "out" "err" 0 sh -c 'echo out; echo err >&2'
run_case exit1 "" "" 1 sh -c 'exit 1'
run_case exit42 "" "" 42 sh -c 'exit 42'
run_case exit127 "" "sh: nosuchcmd: not found" 127 sh -c nosuchcmd
run_case quoting "a b|c  d|'e'" "" 0 sh -c 'printf "%s|" "a b" "c  d"; printf "%s" "'"'e'"'"' 
run_case env "xterm" "" 0 sh -c 'echo "$TERM"'
CWD=/tmp run_case cwd "/tmp" "" 0 pwd
# The mounter's time namespace (guest/mounter/timens.c) reaches containers.
run_case monotonic-offset "10" "" 0 sh -c 'set -- $(grep monotonic /proc/self/timens_offsets); echo "$2"'

# Binary output, byte for byte, and 32 MiB written just before exit.
bash "$MK" "$B/bin" cat /data >/dev/null
head -c 1048576 /dev/urandom >"$B/bin/rootfs/data"
R run --bundle "$B/bin" >"$TMP/bin.out" 2>"$TMP/bin.err"
check "binary stdout is byte-identical" cmp -s "$B/bin/rootfs/data" "$TMP/bin.out"
bash "$MK" "$B/big" sh -c 'head -c 33554432 /data; echo tail >&2; exit 3' >/dev/null
head -c 33554432 /dev/urandom >"$B/big/rootfs/data"
R run --bundle "$B/big" >"$TMP/big.out" 2>"$TMP/big.err"
rc=$?
if [ $rc -eq 3 ] && cmp -s "$B/big/rootfs/data" "$TMP/big.out" && [ "$(cat "$TMP/big.err")" = tail ]; then
  ok "32 MiB written just before exit all arrive, then the exit code"
else
  not_ok "32 MiB written just before exit" "exit $rc, $(stat -c %s "$TMP/big.out") bytes"
fi

# A detached container: signals, exec, pause/resume, stats, ps, update.
bash "$MK" "$B/long" sh -c 'trap "exit 143" TERM; while :; do sleep 0.1; done' >/dev/null
READONLY=0 bash "$MK" "$B/long" sh -c 'trap "exit 143" TERM; while :; do sleep 0.1; done' >/dev/null
check "run -d starts a container" R run -d --id long --bundle "$B/long"
check "state says running" bash -c "'$RUNMCTL' state --vm $vm --json long | grep -q '\"status\":\"running\"'"
R exec long -- sh -c 'echo from-exec; exit 7' >"$TMP/ex.out" 2>&1
rc=$?
if [ $rc -eq 7 ] && grep -q from-exec "$TMP/ex.out"; then ok "exec has its own exit code and output"; else not_ok "exec has its own exit code" "exit $rc: $(cat "$TMP/ex.out")"; fi

pids=()
for i in $(seq 1 10); do
  R exec long -- sh -c "echo exec-$i; exit $i" >"$TMP/cx.$i" 2>&1 &
  pids+=($!)
done
good=0
for i in $(seq 1 10); do
  wait "${pids[$((i - 1))]}"
  rc=$?
  [ $rc -eq $i ] && grep -q "exec-$i" "$TMP/cx.$i" && good=$((good + 1))
done
if [ $good -eq 10 ]; then ok "10 concurrent execs, each with its own exit code"; else not_ok "10 concurrent execs" "$good of 10 right"; fi

R exec -d --exec-id sleeper long -- sleep 1000 >/dev/null
check "ps lists the exec" bash -c "'$RUNMCTL' ps --vm $vm --json long | grep -q '\"exec_id\":\"sleeper\"'"
check "kill one exec process" R kill --exec-id sleeper long TERM
w=$(R wait --exec-id sleeper long)
if [ "$w" = 143 ]; then ok "exec killed by SIGTERM exits 143"; else not_ok "exec killed by SIGTERM exits 143" "got $w"; fi
R delete --exec-id sleeper long >/dev/null

check "pause" R pause long
check "state says paused" bash -c "'$RUNMCTL' state --vm $vm --json long | grep -q '\"status\":\"paused\"'"
check "resume" R resume long
check "state says running again" bash -c "'$RUNMCTL' state --vm $vm --json long | grep -q '\"status\":\"running\"'"

before=$(R stats --json long | sed -n 's/.*"memory_current":\([0-9]*\).*/\1/p')
R exec -d --exec-id hog long -- sh -c 'head -c 40000000 /dev/zero | tr "\0" "x" > /dev/shm/hog; sleep 1000' >/dev/null
# The 40 MB arrive as fast as the guest writes them: under load that takes
# longer than any fixed sleep, so wait (up to 60 s) for the figure to move.
for _ in $(seq 1 60); do
  after=$(R stats --json long | sed -n 's/.*"memory_current":\([0-9]*\).*/\1/p')
  [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt $((before + 20000000)) ] && break
  sleep 1
done
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt $((before + 20000000)) ]; then ok "stats memory moves when the container allocates ($before -> $after)"; else not_ok "stats memory moves" "$before -> $after"; fi
check "update pids limit" R update long --pids-limit 42
check "stats shows the new pids limit" bash -c "'$RUNMCTL' stats --vm $vm --json long | grep -q '\"pids_max\":42'"

check "signal to all processes" R kill --all long KILL
w=$(R wait long)
if [ "$w" = 137 ]; then ok "container killed by SIGKILL exits 137"; else not_ok "container killed by SIGKILL exits 137" "got $w"; fi
check "delete" R delete long

# Events: the exits just seen, in order.
R events --json --since 0 --count 3 >"$TMP/ev" 2>&1 &
evp=$!
sleep 2
kill $evp 2>/dev/null
wait $evp 2>/dev/null
check "events stream delivers exit events" grep -q '"type":"exit"' "$TMP/ev"
check "events come in sequence order" /usr/bin/python3 -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1]) if l.startswith("{")]
sys.exit(0 if seqs and seqs == sorted(seqs) and len(set(seqs)) == len(seqs) else 1)' "$TMP/ev"

# tty: output through a pty, and its size.
TERMINAL=1 bash "$MK" "$B/tty" sh -c 'stty size; tty' >/dev/null
script -qec "stty rows 33 cols 101; '$RUNMCTL' run --vm $vm -t --bundle '$B/tty'" /dev/null >"$TMP/tty.out" 2>&1
if grep -q "33 101" "$TMP/tty.out" && grep -q "/dev/pts/" "$TMP/tty.out"; then ok "tty output and size"; else not_ok "tty output and size" "$(cat -v "$TMP/tty.out" | head -5)"; fi

# Bad input: clear errors, the guest keeps serving.
R state nope >/dev/null 2>"$TMP/e1"; rc=$?
if [ $rc -eq 3 ] && grep -q NOT_FOUND "$TMP/e1"; then ok "unknown container is NOT_FOUND (exit 3)"; else not_ok "unknown container is NOT_FOUND" "exit $rc: $(cat "$TMP/e1")"; fi
bash "$MK" "$B/dup" sleep 100 >/dev/null
R create --id dup --bundle "$B/dup" >/dev/null
R create --id dup --bundle "$B/dup" >/dev/null 2>"$TMP/e2"
check "duplicate id is ALREADY_EXISTS" grep -q ALREADY_EXISTS "$TMP/e2"
R delete --force dup >/dev/null
bash "$MK" "$B/bad" echo hi >/dev/null
echo '{"ociVersion": "1.0.2", "process": {"args": 5}}' >"$B/bad/config.json"
R run --bundle "$B/bad" >/dev/null 2>"$TMP/e3"
check "malformed spec is INVALID_ARGUMENT with runc's message" grep -q INVALID_ARGUMENT "$TMP/e3"
bash "$MK" "$B/norootfs" echo hi >/dev/null
rm -rf "$B/norootfs/rootfs"
R run --bundle "$B/norootfs" >/dev/null 2>"$TMP/e4"
rc=$?
if [ $rc -ne 0 ] && grep -qi "rootfs" "$TMP/e4"; then ok "missing rootfs is a clear error"; else not_ok "missing rootfs is a clear error" "exit $rc: $(cat "$TMP/e4")"; fi

R info --json >/dev/null 2>&1
"$RUNMCTL" info --json $vm >"$TMP/info.json"
check "no zombies left in the guest" grep -q '"zombies":0' "$TMP/info.json" 
check "the guest still answers" "$RUNMCTL" ping $vm

"$RUNMCTL" vm stop $vm >/dev/null
leak_checks
finish

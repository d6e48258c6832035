#!/bin/bash
# A hostile or broken guest against the shim's liveness and identity
# (issue 11, findings 5, 7, 9, 10; docs/security.md), through
# the real containerd 1.6 and ctr. Every container is `ctr run --config`
# (busybox rootfs from mkbundle.sh, no image). Cases (RUNM_E2E_CASES picks
# them by regex):
#   pid      the pid containerd shows (task ls, every task event, execs too)
#            and the pid in a host hook's state are the task's own QEMU
#            (its argv names the task's VM), never a pid the guest chose
#   names    two namespaces whose tasks once got one VM id (`a-b`/`c` and
#            `a`/`b-c`) run at once; deleting one, or SIGKILLing its shim
#            (containerd then runs `shim delete`), leaves the other running
#   frozen   the guest stops answering (QEMU SIGSTOPped): `ctr task kill -s
#            KILL`, `ctr task delete -f` and an attached `ctr run` each end
#            within 10 s, the task exits 137 (TaskExit too), nothing left
#   fifo     a detached task floods a stdout FIFO nobody reads: kill and
#            delete still end within 10 s with 137, nothing left
#   sigterm  SIGTERM to a shim while an attached `ctr run` waits on its task:
#            the shim exits within 10 s and leaves no QEMU, mount or state
#   spec     a spec whose root.path is empty (what containerd makes of a
#            null one) fails the create with an error naming root.path,
#            before any VM starts; nothing is left
# Every check above fails on 0554f63; the hygiene checks at the end (no
# task, QEMU or state left, containerd stops clean) guard the suite itself.
#   RUNM_E2E_CASES='frozen|sigterm' bash test/e2e/test_hostile_live.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rl live 120
SHIM=$RUNM_BIN/containerd-shim-runm-v1
PY=/usr/bin/python3
RT=io.containerd.runm.v1
BOUND=10 # seconds: the most any of these may take (issue 11)
EVENTS_PID=""

live_cleanup() {
  [ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null
  # A QEMU this test stopped must be able to die.
  for p in $(our_qemus); do kill -CONT "$p" 2>/dev/null; done
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap live_cleanup EXIT
trap 'exit 130' INT TERM HUP

CTR() { ctr --address "$SOCK" --namespace "${CNS:-$NS}" "$@"; }
TCTR() { timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "${CNS:-$NS}" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
task_pid() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
vm_id_of() { "$SHIM" -namespace "${CNS:-$NS}" -id "$1" vm-id 2>/dev/null; }

# QEMUs of this test; with $1, only those whose argv names that container
# id (found without asking the shim: it is what is under test).
our_qemus() {
  local p
  for p in $(pids_mentioning qemu-system); do
    argv_of "$p" | head -1 | grep -q 'qemu-system' || continue
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null || continue
    [ -z "${1:-}" ] || grep -qaF -- "$1" "/proc/$p/cmdline" || continue
    echo "$p"
  done
}
our_mounts() {
  awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts
}
# What is left of container $1: QEMU, shim, VM dir, mounts of its bundle.
leftovers_of() {
  local id=$1 x=""
  [ -n "$(our_qemus "$id")" ] && x+=" qemu:$(our_qemus "$id" | tr '\n' ',')"
  [ -n "$(shim_pid "$id")" ] && x+=" shim"
  compgen -G "$RUNM_STATE_DIR/vm/*$id*" >/dev/null && x+=" vm-dir"
  our_mounts | grep -qF "/$id/" && x+=" mount"
  echo "$x"
}
nothing_left() { [ -z "$(leftovers_of "$1")" ]; }

# spec ID ARGS...: $TMP/ID.json running ARGS on the shared read-only
# busybox rootfs; HOOK=1 adds a createRuntime hook recording its state and
# what the state's pid is on the host.
spec() {
  local id=$1; shift
  $PY - "$TMP/bb/config.json" "$TMP/$id.json" "$TMP" "$id" "$@" <<'PY'
import json, os, sys
base, out, tmp, cid, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
c = json.load(open(base))
c["root"] = {"path": os.path.join(os.path.dirname(base), "rootfs"), "readonly": True}
c["process"]["args"] = args
c["process"]["terminal"] = False
if os.environ.get("ROOTPATH") is not None:
    c["root"]["path"] = os.environ["ROOTPATH"]
if os.environ.get("HOOK") == "1":
    c["hooks"] = {"createRuntime": [{"path": tmp + "/statehook.sh",
                                     "args": ["statehook.sh", tmp + "/" + cid + ".hook"]}]}
json.dump(c, open(out, "w"))
PY
}

setup() {
  if ! bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" >/dev/null 2>"$TMP/mkbundle.err"; then
    not_ok "busybox rootfs and base spec" "$(cat "$TMP/mkbundle.err")"
    finish
  fi
  # The hook: its state, and the argv of the host process its pid names,
  # read while the hook runs.
  cat >"$TMP/statehook.sh" <<'SH'
#!/bin/sh
cat >"$1.state"
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$1.state")
tr '\0' '\n' <"/proc/$pid/cmdline" >"$1.argv" 2>/dev/null
SH
  chmod 0755 "$TMP/statehook.sh"
  if bash "$ENV" start; then ok "private containerd starts"; else
    not_ok "private containerd starts"
    finish
  fi
  # Every event containerd publishes, in all namespaces, for the pid checks.
  ctr --address "$SOCK" events >"$TMP/events" 2>&1 &
  EVENTS_PID=$!
}

# start_d ID ARGS...: a detached task, RUNNING; 1 if it did not get there.
start_d() {
  local id=$1; shift
  spec "$id" "$@"
  TCTR run -d --runtime "$RT" --config "$TMP/$id.json" "$id" </dev/null >"$TMP/$id.run" 2>&1 &&
    wait_until 60 status_is "$id" RUNNING
}

# remove ID: whatever state the task is in, gone (bounded).
remove() {
  for p in $(our_qemus "$1"); do kill -CONT "$p" 2>/dev/null; done
  timeout 30 ctr --address "$SOCK" -n "${CNS:-$NS}" task kill -s KILL "$1" >/dev/null 2>&1
  timeout 30 ctr --address "$SOCK" -n "${CNS:-$NS}" task delete -f "$1" >/dev/null 2>&1
  timeout 30 ctr --address "$SOCK" -n "${CNS:-$NS}" containers rm "$1" >/dev/null 2>&1
}

# events_pids ID TOPIC: the pid of each TOPIC event of container ID.
events_pids() {
  $PY - "$TMP/events" "$1" "$2" <<'PY'
import json, sys
path, cid, topic = sys.argv[1:]
# `ctr events`: TIMESTAMP (several words) NAMESPACE TOPIC JSON
for line in open(path, errors="replace"):
    words = line.split()
    at = [i for i, w in enumerate(words) if w.startswith("/")]
    if not at or words[at[0]] != topic: continue
    try: ev = json.loads(" ".join(words[at[0] + 1:]))
    except ValueError: continue
    if ev.get("container_id") == cid: print(ev.get("pid", 0))
PY
}
# events_exit ID: exit statuses of ID's init TaskExit events.
events_exit() {
  $PY - "$TMP/events" "$1" <<'PY'
import json, sys
path, cid = sys.argv[1:]
for line in open(path, errors="replace"):
    words = line.split()
    at = [i for i, w in enumerate(words) if w.startswith("/")]
    if not at or words[at[0]] != "/tasks/exit": continue
    try: ev = json.loads(" ".join(words[at[0] + 1:]))
    except ValueError: continue
    if ev.get("container_id") == cid and ev.get("id") == cid: print(ev.get("exit_status", 0))
PY
}

# is_vm_of PID ID: PID is a QEMU whose -name is the VM of task ID.
is_vm_of() {
  local vmid
  vmid=$(vm_id_of "$2")
  [ -n "$1" ] && [ -n "$vmid" ] && argv_of "$1" | head -1 | grep -q qemu-system &&
    argv_of "$1" | grep -qxF -- "runm-$vmid"
}

# ---- case: pid ---------------------------------------------------------------

case_pid() {
  local id=live-pid p q x bad=""
  if ! HOOK=1 start_d "$id" sleep 1000; then
    not_ok "pid: task with a createRuntime hook runs" "$(cat "$TMP/$id.run")"
    remove "$id"
    return
  fi
  p=$(task_pid "$id")
  q=$(our_qemus "$id")
  if [ -n "$p" ] && [ "$p" = "$q" ] && is_vm_of "$p" "$id"; then
    ok "pid: ctr task ls shows the task's QEMU ($p, -name runm-$(vm_id_of "$id"))"
  else
    not_ok "pid: ctr task ls shows the task's QEMU" "task pid $p, QEMU $q" "argv[0] of $p: $(argv_of "$p" | head -1)"
  fi
  TCTR task exec --exec-id e1 "$id" true >/dev/null 2>&1
  TCTR task kill -s KILL "$id" >/dev/null 2>&1
  wait_until 30 status_is "$id" STOPPED
  TCTR task delete "$id" >/dev/null 2>&1
  TCTR containers rm "$id" >/dev/null 2>&1
  sleep 1 # events reach ctr events asynchronously
  for topic in /tasks/create /tasks/start /tasks/exec-started /tasks/exit /tasks/delete; do
    x=$(events_pids "$id" "$topic" | sort -u | tr '\n' ' ')
    [ "$x" = "$q " ] || bad+=" $topic:[$x]"
  done
  if [ -n "$q" ] && [ -z "$bad" ]; then ok "pid: every task event (create, start, exec-started, exit, delete) carries QEMU's pid $q"; else
    not_ok "pid: every task event carries the QEMU's pid ($q)" "got:$bad"; fi
  x=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pid", ""))' "$TMP/$id.hook.state" 2>/dev/null)
  if [ -n "$q" ] && [ "$x" = "$q" ] && grep -q qemu-system "$TMP/$id.hook.argv" 2>/dev/null; then
    ok "pid: the createRuntime hook's state names the task's QEMU ($x, a qemu-system when the hook ran)"
  else
    not_ok "pid: the createRuntime hook's state names the task's QEMU" "state pid '$x', QEMU $q" \
      "argv of the state's pid when the hook ran: $(head -1 "$TMP/$id.hook.argv" 2>/dev/null)"
  fi
}

# ---- case: names -------------------------------------------------------------

case_names() {
  # Once both `live-a`-`b` and `live`-`a-b` were VM `live-a-b`.
  local a=b b=a-b qa qb sp
  if CNS=live-a start_d "$a" sleep 1000; then ok "names: task b in namespace live-a runs"; else
    not_ok "names: task b in namespace live-a runs" "$(cat "$TMP/$a.run")"; fi
  if start_d "$b" sleep 1000; then ok "names: task a-b in namespace live runs at the same time"; else
    not_ok "names: task a-b in namespace live runs at the same time" "$(cat "$TMP/$b.run")"; fi
  qa=$(CNS=live-a vm_id_of "$a")
  qb=$(vm_id_of "$b")
  if [ -n "$qa" ] && [ "$qa" != "$qb" ] && [ -d "$RUNM_STATE_DIR/vm/$qa" ] && [ -d "$RUNM_STATE_DIR/vm/$qb" ]; then
    ok "names: two VM ids, two VM dirs ($qa, $qb)"
  else
    not_ok "names: two VM ids, two VM dirs" "$qa / $qb: $(ls "$RUNM_STATE_DIR/vm" 2>&1 | tr '\n' ' ')"
  fi
  # Deleting live/a-b must leave live-a/b alone.
  remove "$b"
  if CNS=live-a status_is "$a" RUNNING && [ "$(CNS=live-a TCTR task exec --exec-id x "$a" echo alive 2>&1)" = alive ]; then
    ok "names: deleting live/a-b leaves live-a/b running (exec answers)"
  else
    not_ok "names: deleting live/a-b leaves live-a/b running" "status $(CNS=live-a task_status "$a")"
  fi
  # And the other way round, through `shim delete` after a shim's death.
  if start_d "$b" sleep 1000; then
    sp=$(shim_pid "$b")
    if [ -z "$sp" ]; then not_ok "names: the shim of live/a-b is found"; fi
    kill -KILL $sp 2>/dev/null
    wait_until 20 eval '[ -z "$(task_status "$b")" ] || status_is "$b" STOPPED'
    sleep 2
    if CNS=live-a status_is "$a" RUNNING && [ "$(CNS=live-a TCTR task exec --exec-id y "$a" echo alive 2>&1)" = alive ]; then
      ok "names: shim delete of live/a-b (its shim SIGKILLed) leaves live-a/b running"
    else
      not_ok "names: shim delete of live/a-b leaves live-a/b running" "status $(CNS=live-a task_status "$a")"
    fi
  else
    not_ok "names: task a-b in namespace live runs again" "$(cat "$TMP/$b.run")"
  fi
  remove "$b"
  CNS=live-a remove "$a"
}

# ---- case: frozen ------------------------------------------------------------

# timed LABEL CMD...: runs CMD; passes when it succeeds within $BOUND s.
timed() {
  local l=$1 t0 ms rc; shift
  t0=$(now_ms)
  timeout -k 1 $((BOUND + 20)) "$@" >"$TMP/timed.out" 2>&1
  rc=$?
  ms=$(($(now_ms) - t0))
  if [ "$ms" -le $((BOUND * 1000)) ] && [ "$rc" -eq 0 ]; then ok "$l ($ms ms)"; else
    not_ok "$l" "took $ms ms, exit $rc" "$(head -c 300 "$TMP/timed.out")"; fi
}
# gone_now LABEL ID: nothing of ID is left, without thawing or removing
# anything first (what the shim did on its own).
gone_now() {
  if wait_until $BOUND nothing_left "$2"; then ok "$1: nothing left"; else not_ok "$1: nothing left" "left:$(leftovers_of "$2")"; fi
}

check_137() { # LABEL ID: TaskExit said 137
  local x
  sleep 1
  x=$(events_exit "$2" | tail -1)
  if [ "$x" = 137 ]; then ok "$1: the init exits 137 (TaskExit)"; else not_ok "$1: the init exits 137 (TaskExit)" "exit statuses: $(events_exit "$2" | tr '\n' ' ')"; fi
}

case_frozen() {
  local id q p rc t0 ms
  # 1. ctr task kill -s KILL, then ctr task delete.
  id=live-frozen1
  if start_d "$id" sleep 1000 && q=$(our_qemus "$id") && [ -n "$q" ]; then
    kill -STOP $q
    timed "frozen: ctr task kill -s KILL ends within ${BOUND} s" ctr --address "$SOCK" -n "$NS" task kill -s KILL "$id"
    if wait_until $BOUND status_is "$id" STOPPED; then ok "frozen: the task is STOPPED within ${BOUND} s"; else
      not_ok "frozen: the task is STOPPED within ${BOUND} s" "status $(task_status "$id")"; fi
    timed "frozen: ctr task delete ends within ${BOUND} s" ctr --address "$SOCK" -n "$NS" task delete "$id"
    if grep -q 'exit code 137' "$TMP/timed.out"; then ok "frozen: delete reports exit code 137"; else
      not_ok "frozen: delete reports exit code 137" "$(head -c 300 "$TMP/timed.out")"; fi
    check_137 frozen "$id"
    timeout 30 ctr --address "$SOCK" -n "$NS" containers rm "$id" >/dev/null 2>&1
    gone_now frozen "$id"
  else
    not_ok "frozen: task runs" "$(cat "$TMP/$id.run")"
  fi
  remove "$id"

  # 2. ctr task delete -f (kill and delete in one).
  id=live-frozen2
  if start_d "$id" sleep 1000 && q=$(our_qemus "$id") && [ -n "$q" ]; then
    kill -STOP $q
    timed "frozen: ctr task delete -f ends within ${BOUND} s" ctr --address "$SOCK" -n "$NS" task delete -f "$id"
    if [ -z "$(task_status "$id")" ]; then ok "frozen: the task is gone after delete -f"; else
      not_ok "frozen: the task is gone after delete -f" "status $(task_status "$id")"; fi
    timed "frozen: ctr containers rm then succeeds within ${BOUND} s" ctr --address "$SOCK" -n "$NS" containers rm "$id"
    gone_now "frozen (delete -f)" "$id"
  else
    not_ok "frozen: second task runs" "$(cat "$TMP/$id.run")"
  fi
  remove "$id"

  # 3. An attached ctr run (Wait in flight) ends with 137 within the bound.
  id=live-frozen3
  spec "$id" sleep 1000
  TCTR run --rm --runtime "$RT" --config "$TMP/$id.json" "$id" </dev/null >"$TMP/$id.out" 2>&1 &
  p=$!
  if wait_until 60 status_is "$id" RUNNING && q=$(our_qemus "$id") && [ -n "$q" ]; then
    kill -STOP $q
    t0=$(now_ms)
    timeout -k 1 $((BOUND + 20)) ctr --address "$SOCK" -n "$NS" task kill -s KILL "$id" >/dev/null 2>&1
    wait_until $BOUND eval "! kill -0 $p 2>/dev/null"
    ms=$(($(now_ms) - t0))
    if kill -0 "$p" 2>/dev/null; then
      not_ok "frozen: attached ctr run ends within ${BOUND} s of SIGKILL" "still running after $ms ms"
    else
      wait "$p"
      rc=$?
      if [ "$rc" = 137 ]; then ok "frozen: attached ctr run ends with 137 within ${BOUND} s ($ms ms)"; else
        not_ok "frozen: attached ctr run ends with 137 within ${BOUND} s" "exit $rc after $ms ms" "$(head -c 300 "$TMP/$id.out")"; fi
    fi
    # ctr run --rm deleted the task and the container itself.
    gone_now "frozen (attached)" "$id"
  else
    not_ok "frozen: attached task runs" "$(head -c 300 "$TMP/$id.out")"
  fi
  kill "$p" 2>/dev/null
  remove "$id"
}

# ---- case: fifo --------------------------------------------------------------

case_fifo() {
  # ctr run -d leaves the task's stdout FIFO with no reader once ctr exits.
  local id=live-fifo
  if start_d "$id" sh -c 'head -c 4000000 /dev/zero | tr "\0" x; sleep 1000'; then
    sleep 3 # the output is out and stuck in the FIFO
    timeout -k 1 $((BOUND + 20)) ctr --address "$SOCK" -n "$NS" task kill -s KILL "$id" >/dev/null 2>&1
    wait_until $BOUND status_is "$id" STOPPED
    timed "fifo: after kill -s KILL, ctr task delete succeeds within ${BOUND} s" \
      ctr --address "$SOCK" -n "$NS" task delete "$id"
    check_137 fifo "$id"
    timeout 30 ctr --address "$SOCK" -n "$NS" containers rm "$id" >/dev/null 2>&1
    gone_now fifo "$id"
  else
    not_ok "fifo: task runs" "$(cat "$TMP/$id.run")"
  fi
  remove "$id"
}

# ---- case: sigterm -----------------------------------------------------------

case_sigterm() {
  local id=live-term p sp t0 ms
  spec "$id" sleep 1000
  TCTR run --rm --runtime "$RT" --config "$TMP/$id.json" "$id" </dev/null >"$TMP/$id.out" 2>&1 &
  p=$!
  if wait_until 60 status_is "$id" RUNNING && sp=$(shim_pid "$id") && [ -n "$sp" ]; then
    t0=$(now_ms)
    kill -TERM "$sp"
    wait_until $BOUND eval "! kill -0 $sp 2>/dev/null"
    ms=$(($(now_ms) - t0))
    if kill -0 "$sp" 2>/dev/null; then not_ok "sigterm: the shim exits within ${BOUND} s" "still running after $ms ms"; else
      ok "sigterm: the shim exits within ${BOUND} s ($ms ms)"; fi
    if wait_until $BOUND eval "[ -z \"\$(our_qemus $id)\" ] && [ -z \"\$(our_mounts | grep -F /$id/)\" ] && ! compgen -G \"$RUNM_STATE_DIR/vm/*$id*\" >/dev/null"; then
      ok "sigterm: no QEMU, mount or VM state left"
    else
      not_ok "sigterm: no QEMU, mount or VM state left" "left:$(leftovers_of "$id")"
    fi
    if wait_until $BOUND eval "! kill -0 $p 2>/dev/null"; then ok "sigterm: the attached ctr run ends"; else
      not_ok "sigterm: the attached ctr run ends" "still running"; fi
  else
    not_ok "sigterm: attached task runs" "status '$(task_status "$id")', shim '$(shim_pid "$id")'" "$(head -c 300 "$TMP/$id.out")"
  fi
  # The shim may be wedged (old code): make sure it goes.
  [ -n "${sp:-}" ] && kill -KILL "$sp" 2>/dev/null
  kill "$p" 2>/dev/null
  remove "$id"
}

# ---- case: spec ----------------------------------------------------------------

case_spec() {
  local id=live-spec rc
  ROOTPATH="" spec "$id" true
  TCTR run --rm --runtime "$RT" --config "$TMP/$id.json" "$id" </dev/null >"$TMP/$id.out" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'root.path must be a non-empty string' "$TMP/$id.out"; then
    ok "spec: an empty root.path fails the create, naming root.path"
  else
    not_ok "spec: an empty root.path fails the create, naming root.path" "exit $rc: $(head -c 300 "$TMP/$id.out")"
  fi
  if grep 'VM .* ready' "$RUNM_CTRD_DIR/containerd.log" 2>/dev/null | grep -qF "$id"; then
    not_ok "spec: no VM was started for it" "$(grep 'VM .* ready' "$RUNM_CTRD_DIR/containerd.log" | grep -F "$id")"
  else
    ok "spec: no VM was started for it"
  fi
  gone_now spec "$id"
  remove "$id"
}

# ---- main --------------------------------------------------------------------

setup
[[ pid =~ $CASES ]] && case_pid
[[ names =~ $CASES ]] && case_names
[[ frozen =~ $CASES ]] && case_frozen
[[ fifo =~ $CASES ]] && case_fifo
[[ sigterm =~ $CASES ]] && case_sigterm
[[ spec =~ $CASES ]] && case_spec
x=$(for n in live live-a; do ctr --address "$SOCK" -n $n task ls -q; ctr --address "$SOCK" -n $n containers ls -q; done 2>/dev/null)
if [ -z "$x" ]; then ok "no task or container left"; else not_ok "no task or container left" $x; fi
x=$(our_qemus)
if [ -z "$x" ]; then ok "no QEMU left"; else not_ok "no QEMU left" "pids: $x"; fi
x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
if [ -z "$x" ]; then ok "runm state dir empty"; else not_ok "runm state dir empty" $x; fi
kill "$EVENTS_PID" 2>/dev/null
EVENTS_PID=""
e2e_stop_check
finish

#!/bin/bash
# Boot a real VM under runmctl, ping it 100 times, read Info, stop it, and
# leave nothing behind.
. "$(dirname "$0")/lib.sh"

out=$("$RUNMCTL" vm start --id boot1 --json 2>"$TMP/start.err")
rc=$?
if [ $rc -eq 0 ]; then ok "vm start succeeds"; else not_ok "vm start succeeds" "exit $rc" "$(cat "$TMP/start.err")"; finish; fi
sock=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["socket"])')
boot=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["boot_seconds"])')
echo "# boot to first Ping: $boot s"
check "start reports the VM's API socket" test "$sock" = "$RUNM_STATE_DIR/vm/boot1/api.sock"
check "socket is mode 0600" test "$(stat -c %a "$sock")" = 600
check "state dir is mode 0700" test "$(stat -c %a "$RUNM_STATE_DIR/vm/boot1")" = 700
check "nothing listens on TCP for QEMU" bash -c "! ss -ltnp 2>/dev/null | grep -q qemu"

ping_out=$("$RUNMCTL" ping --count 100 boot1 2>&1)
rc=$?
echo "# $ping_out"
if [ $rc -eq 0 ] && echo "$ping_out" | grep -q '^100/100 pings answered'; then ok "100 pings answered"; else not_ok "100 pings answered" "exit $rc: $ping_out"; fi

"$RUNMCTL" info --json boot1 >"$TMP/info.json" 2>"$TMP/info.err"
rc=$?
check "info succeeds" test $rc -eq 0
cat >"$TMP/check_info.py" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
t = i["timeline_seconds"]
def check(name, cond, detail=""):
    print(("ok" if cond else "not ok") + " - info: " + name + ("" if cond else "\n#   " + detail))
check("guest kernel is runm's (6.1)", i["kernel_release"].startswith("6.1"), i["kernel_release"])
check("runc version reported", i["runc_version"].startswith("runc version"), i["runc_version"])
check("vm id is ours", i["vm_id"] == "boot1", i["vm_id"])
check("transport is serial here", i["transport"] == "serial", i["transport"])
check("accel falls back to tcg here", i.get("accel") == "tcg", str(i.get("accel")))
check("timeline is ordered", 0 < t["mounter_start"] <= t["init_start"] <= t["serving"] <= t["first_rpc"] <= i["uptime_seconds"], json.dumps(t))
check("runc is sealed after serving, or not yet", t["runc_sealed"] == 0 or t["serving"] <= t["runc_sealed"] <= i["uptime_seconds"], json.dumps(t))
check("host boot time recorded", i["host_spawn_to_first_ping_seconds"] > 0, "")
print("# timeline: " + json.dumps(t) + " host: %.3f s" % i["host_spawn_to_first_ping_seconds"])
PY
# The python checks join this test's TAP stream.
while IFS= read -r line; do
  case "$line" in
  "ok - "*) ok "${line#ok - }" ;;
  "not ok - "*) not_ok "${line#not ok - }" ;;
  *) echo "$line" ;;
  esac
done < <(/usr/bin/python3 "$TMP/check_info.py" "$TMP/info.json" 2>&1 || echo "not ok - info JSON parses")

# Many clients at once share the VM's one channel through the API socket.
"$RUNMCTL" ping --count 200 boot1 >"$TMP/bg1" 2>&1 &
b1=$!
"$RUNMCTL" ping --count 200 boot1 >"$TMP/bg2" 2>&1 &
b2=$!
"$RUNMCTL" info boot1 >"$TMP/fg" 2>&1
fg=$?
wait $b1; r1=$?
wait $b2; r2=$?
if [ $fg -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ]; then ok "three concurrent clients all served"; else not_ok "three concurrent clients all served" "$fg/$r1/$r2: $(cat "$TMP/bg1" "$TMP/fg")"; fi

"$RUNMCTL" vm ls --json >"$TMP/ls.json"
check "vm ls shows it running" grep -q '"id":"boot1","state":"running"' "$TMP/ls.json"

"$RUNMCTL" vm start --id boot1 >"$TMP/dup.out" 2>"$TMP/dup.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "already exists" "$TMP/dup.err"; then ok "a second VM with the same id is refused"; else not_ok "a second VM with the same id is refused" "exit $rc: $(cat "$TMP/dup.err")"; fi
check "the first VM still answers after the refusal" "$RUNMCTL" ping boot1

check "vm stop succeeds" "$RUNMCTL" vm stop boot1
"$RUNMCTL" ping boot1 >/dev/null 2>"$TMP/gone.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "no VM" "$TMP/gone.err"; then ok "ping of a stopped VM exits 3 (no such VM)"; else not_ok "ping of a stopped VM exits 3" "exit $rc: $(cat "$TMP/gone.err")"; fi
leak_checks
finish

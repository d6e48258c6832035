#!/bin/bash
# The shim's runm.v1.Host server (host.sock) under a hostile guest (issue 11,
# finding 3), through the real containerd and ctr. A "guest" here is
# Python's grpcio (asyncio) on the task's host socket, as in test_hooks.sh.
#   flood    3000 calls that send their headers and never their request:
#            the shim's threads stay bounded (the figure is printed), the
#            calls beyond the limit are refused with RESOURCE_EXHAUSTED at
#            once, the ones let in end at the server's request deadline
#            (DEADLINE_EXCEEDED, its own text), the shim answers containerd
#            within 10 s meanwhile, and the task's real hooks (poststart
#            before, poststop after) still run.
#   escape   (root in the guest) a privileged container swaps the guest's
#            /bin/runc for a fake whose first exec fails with a newline, ESC
#            and a forged log record; init runs runc from the sealed memfd it
#            made at boot (guest/init/runc_exe.c), so the next exec still
#            succeeds and no forged line appears. (The shim's escaping of a
#            guest's error text: test_rpc_limits, fuzz-replies; unmodified
#            runc gives the guest no way to put raw newlines into one.)
# Then: nothing left (tasks, containers, shims, QEMU, runm state, mounts).
# On 0554f63 the flood made ~6000 shim threads, nothing was refused and the
# held calls never ended; the newline went raw into containerd's log.
#   bash test/e2e/test_hostile_rpc.sh
#   RUNM_E2E_CASES=flood bash test/e2e/test_hostile_rpc.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rr ${RUNM_CTRD_NS:-runm-hostile-rpc} 180
PY=/usr/bin/python3
FLOOD=${RUNM_E2E_FLOOD:-3000}
# What rpc.h documents for the host server: 16 calls, 5 s for a request.
MAX_CALLS=16
ID=hostile-rpc

rr_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap rr_cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
our_qemus() {
  local p
  for p in $(pgrep -f qemu-system); do
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
}
our_shims() {
  local p
  for p in $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
    { tr '\0' '\n' <"/proc/$p/cmdline" | head -1 | grep -q 'containerd-shim-runm' && echo "$p"; } 2>/dev/null
  done
}
host_sock() { find "$RUNM_STATE_DIR" -name host.sock -type s 2>/dev/null | head -1; }

setup() {
  if ! $PY -c 'import grpc, grpc.aio, grpc_tools' 2>"$TMP/py.err"; then
    not_ok "python3-grpcio and python3-grpc-tools are installed" "$(cat "$TMP/py.err")"
    finish
  fi
  mkdir -p "$TMP/stubs" "$TMP/out"
  if ! $PY -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$TMP/stubs" \
    --grpc_python_out="$TMP/stubs" "$ROOT/proto/runm/v1/host.proto" 2>"$TMP/protoc.err"; then
    not_ok "python stubs for host.proto" "$(cat "$TMP/protoc.err")"
    finish
  fi
  if ! READONLY=0 bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" sleep 1000 >/dev/null 2>"$TMP/mkbundle.err"; then
    not_ok "busybox rootfs and base spec" "$(cat "$TMP/mkbundle.err")"
    finish
  fi
  cat >"$TMP/hook.sh" <<'SH'
#!/bin/sh
cat >"$HOOK_OUT/$1.json"
SH
  chmod 0755 "$TMP/hook.sh"
  # Privileged (every capability, no seccomp, all devices): root in the guest.
  $PY - "$TMP/bb/config.json" "$TMP/spec.json" "$TMP/hook.sh" "$TMP/out" <<'PY'
import json, os, sys
base, out, hook, outdir = sys.argv[1:5]
c = json.load(open(base))
c["root"] = {"path": os.path.join(os.path.dirname(base), "rootfs"), "readonly": False}
caps = ["CAP_" + n for n in ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID "
        "SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
        "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT "
        "SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL "
        "SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ").split()]
c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
c["linux"].pop("seccomp", None)
c["linux"]["maskedPaths"] = []
c["linux"]["readonlyPaths"] = []
# The guest's pid namespace: /proc/1 is the guest's init.
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
env = ["HOOK_OUT=" + outdir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
c["hooks"] = {k: [{"path": hook, "args": ["hook.sh", k], "env": env}]
              for k in ("poststart", "poststop")}
json.dump(c, open(out, "w"), indent=1)
PY
  local t0
  t0=$(now_ms)
  if bash "$ENV" start; then ok "private containerd starts ($(($(now_ms) - t0)) ms)"; else
    not_ok "private containerd starts"
    finish
  fi
}

# ---- the flood ------------------------------------------------------------

cat >"$TMP/flood.py" <<'PY'
# flood.py STUBS SOCK SHIMPID N CTR...: N header-only RunHook calls on
# SOCK; prints `key value` lines for the shell to check.
import asyncio, collections, os, subprocess, sys, time
import grpc, grpc.aio
stubs, sock, shimpid, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctr = sys.argv[5:]
sys.path.insert(0, stubs)
from runm.v1 import host_pb2 as pb

def threads():
    return len(os.listdir("/proc/%s/task" % shimpid))

async def main():
    base = threads()
    ch = grpc.aio.insecure_channel("unix:" + sock)
    rh = ch.stream_unary("/runm.v1.Host/RunHook",
                         request_serializer=pb.RunHookRequest.SerializeToString,
                         response_deserializer=pb.RunHookResponse.FromString)
    never = asyncio.Event()
    async def no_request():  # headers go out; the request never does
        await never.wait()
        yield pb.RunHookRequest()
    ends = {}
    t0 = time.monotonic()
    async def one(i):
        try:
            await rh(no_request(), timeout=40)
            ends[i] = ("OK", "", time.monotonic() - t0)
        except grpc.aio.AioRpcError as e:
            ends[i] = (e.code().name, e.details() or "", time.monotonic() - t0)
    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    peak = base
    ctr_ms = None
    for k in range(40):  # 4 s: the held calls are still held
        await asyncio.sleep(0.1)
        peak = max(peak, threads())
        if k == 10:
            # containerd's view of the task while the host socket is flooded
            t = time.monotonic()
            r = await asyncio.create_subprocess_exec(*ctr, stdout=asyncio.subprocess.DEVNULL,
                                                     stderr=asyncio.subprocess.DEVNULL)
            rc = await r.wait()
            ctr_ms = (int((time.monotonic() - t) * 1000), rc)
    await asyncio.gather(*tasks)
    never.set()
    await ch.close()
    codes = collections.Counter(v[0] for v in ends.values())
    held = [v for v in ends.values() if v[0] != "RESOURCE_EXHAUSTED"]
    print("threads_base", base)
    print("threads_peak", peak)
    print("ctr_ms", ctr_ms[0], "rc", ctr_ms[1])
    for c, k in sorted(codes.items()):
        print("code", c, k)
    print("held", len(held))
    print("held_stalled", sum(1 for v in held if v[0] == "DEADLINE_EXCEEDED" and "stalled" in v[1]))
    print("held_last_end_s", "%.1f" % max([v[2] for v in held] or [0]))
    ex = [v for v in ends.values() if v[0] == "RESOURCE_EXHAUSTED"]
    print("refused_last_end_s", "%.1f" % max([v[2] for v in ex] or [0]))
    if ex:
        print("refused_text", ex[0][1])

asyncio.run(main())
PY

val() { awk -v k="$1" '$1 == k { print $2; exit }' "$TMP/flood.out"; }

case_flood() {
  local shim sock t0 base peak refused held stalled ms rc last
  TCTR run -d --runtime io.containerd.runm.v1 --config "$TMP/spec.json" "$ID" >"$TMP/run.out" 2>&1
  if ! wait_until 120 status_is "$ID" RUNNING; then
    not_ok "flood: the task runs" "$(head -c 400 "$TMP/run.out")"
    return 1
  fi
  ok "flood: the task runs"
  check "flood: its poststart hook ran" wait_until 30 test -s "$TMP/out/poststart.json"
  shim=$(our_shims | head -1)
  sock=$(host_sock)
  if [ -z "$shim" ] || [ -z "$sock" ]; then
    not_ok "flood: shim and host.sock found" "shim=$shim sock=$sock"
    return 1
  fi
  timeout 120 $PY "$TMP/flood.py" "$TMP/stubs" "$sock" "$shim" "$FLOOD" \
    timeout 30 ctr --address "$SOCK" --namespace "$NS" task ps "$ID" >"$TMP/flood.out" 2>"$TMP/flood.err"
  sed 's/^/# /' "$TMP/flood.out"
  base=$(val threads_base) peak=$(val threads_peak)
  if [ -z "$base" ]; then
    not_ok "flood: the flood ran" "$(tail -5 "$TMP/flood.err")"
    return 1
  fi
  if [ $((peak - base)) -le $((2 * MAX_CALLS + 8)) ]; then
    ok "flood: $FLOOD header-only calls: shim threads $base -> at most $peak (bound: 2 x $MAX_CALLS calls)"
  else
    not_ok "flood: shim threads stay bounded" "$FLOOD calls: $base -> $peak threads"
  fi
  refused=$(awk '$1 == "code" && $2 == "RESOURCE_EXHAUSTED" { print $3 }' "$TMP/flood.out")
  check "flood: $((FLOOD - MAX_CALLS)) calls beyond the limit refused with RESOURCE_EXHAUSTED (got ${refused:-0})" \
    test "${refused:-0}" -eq $((FLOOD - MAX_CALLS))
  last=$(val refused_last_end_s)
  held=$(val held) stalled=$(val held_stalled)
  check "flood: the $MAX_CALLS calls let in end at the server's request deadline (${stalled:-0} of ${held:-0}, last after $(val held_last_end_s) s)" \
    test "${held:-0}" -eq "$MAX_CALLS" -a "${stalled:-0}" -eq "$MAX_CALLS"
  check "flood: every call has ended within 10 s" awk -v a="$last" -v b="$(val held_last_end_s)" 'BEGIN { exit !(a < 10 && b < 10) }'
  read -r ms rc < <(awk '$1 == "ctr_ms" { print $2, $4 }' "$TMP/flood.out")
  check "flood: containerd's task ps answered meanwhile in ${ms:-?} ms (rc ${rc:-?}, under 10 s)" \
    test "${rc:-1}" = 0 -a "${ms:-99999}" -lt 10000
  # The flood is over: the guest's own hook calls go through again.
  t0=$(now_ms)
  TCTR task kill -s KILL "$ID" >/dev/null 2>&1
  wait_until 60 status_is "$ID" STOPPED
  TCTR task delete "$ID" >"$TMP/delete.out" 2>&1
  check "flood: the task is deleted after it ($(($(now_ms) - t0)) ms)" test -z "$(task_status "$ID")"
  check "flood: its poststop hook ran afterwards" test -s "$TMP/out/poststop.json"
  TCTR containers rm "$ID" >/dev/null 2>&1
}

# ---- guest error text in the shim's log -----------------------------------

# Inside the privileged container: the guest's own /bin/runc (in init's
# mount namespace; the guest image has busybox as /bin/sh) replaced by a
# script that logs an error with a newline.
cat >"$TMP/fake-runc.sh" <<'SH'
set -e
cp /proc/1/root/bin/runc /proc/1/root/tmp/.runc.real
touch /proc/1/root/tmp/.runc.once
cat >/proc/1/root/tmp/.runc <<'EOF'
#!/bin/sh
# Fails its first exec; otherwise the real runc (kill and delete must work).
case " $* " in *" exec "*) ;; *) exec /tmp/.runc.real "$@" ;; esac
if [ ! -e /tmp/.runc.once ]; then exec /tmp/.runc.real "$@"; fi
rm -f /tmp/.runc.once
log=
while [ $# -gt 0 ]; do [ "$1" = --log ] && log=$2; shift; done
msg='{"level":"error","msg":"exec failed\nFORGED-LINE level=error msg=\"pwned\"\u001b[2J end"}'
[ -n "$log" ] && echo "$msg" >>"$log"
echo "$msg" >&2
exit 1
EOF
chmod 0755 /proc/1/root/tmp/.runc
nsenter -t 1 -m /bin/busybox mount --bind /tmp/.runc /bin/runc
echo planted
SH

case_escape() {
  local log=$RUNM_CTRD_DIR/containerd.log exec_rc
  TCTR run -d --runtime io.containerd.runm.v1 --config "$TMP/spec.json" "$ID-esc" >"$TMP/run2.out" 2>&1
  if ! wait_until 120 status_is "$ID-esc" RUNNING; then
    not_ok "escape: the task runs" "$(head -c 400 "$TMP/run2.out")"
    return 1
  fi
  cp "$TMP/fake-runc.sh" "$TMP/bb/rootfs/tmp/fake-runc.sh"
  TCTR task exec --exec-id plant "$ID-esc" sh /tmp/fake-runc.sh >"$TMP/plant.out" 2>&1
  if ! grep -q planted "$TMP/plant.out"; then
    not_ok "escape: root in the guest replaces the guest's runc" "$(head -c 400 "$TMP/plant.out")"
  else
    ok "escape: root in the guest replaces the guest's runc"
    TCTR task exec --exec-id x2 "$ID-esc" true >"$TMP/exec.out" 2>&1
    exec_rc=$?
    sed 's/^/# ctr: /' "$TMP/exec.out" | head -3
    if grep -q '^FORGED-LINE' "$log" "$TMP/exec.out"; then
      not_ok "escape: the guest's newline starts no line of its own (shim log, ctr error)" \
        "$(grep -h '^FORGED-LINE' "$log" "$TMP/exec.out" | head -2)"
    else
      ok "escape: the guest's newline starts no line of its own (shim log, ctr error)"
    fi
    check "escape: the swapped runc never ran: the exec succeeded (init's runc is a sealed memfd)" \
      test ! -s "$TMP/exec.out" -a "$exec_rc" = 0
    grep -F 'FORGED-LINE' "$log" | tail -1 | cut -c1-300 | sed 's/^/# /'
  fi
  TCTR task kill -s KILL "$ID-esc" >/dev/null 2>&1
  wait_until 60 status_is "$ID-esc" STOPPED
  TCTR task delete "$ID-esc" >/dev/null 2>&1
  TCTR containers rm "$ID-esc" >/dev/null 2>&1
}

hygiene() {
  local x
  x=$(CTR task ls -q; CTR containers ls -q)
  if [ -z "$x" ]; then ok "no task or container left"; else not_ok "no task or container left" $x; fi
  x=$(our_qemus; our_shims)
  if [ -z "$x" ]; then ok "no QEMU or shim process left"; else not_ok "no QEMU or shim process left" "pids: $x"; fi
  x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
  if [ -z "$x" ]; then ok "runm state dir empty"; else not_ok "runm state dir empty" $x; fi
  x=$(awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" -v c="$TMP/" \
    'index($2, a) == 1 || index($2, b) == 1 || index($2, c) == 1 { print $2 }' /proc/mounts)
  if [ -z "$x" ]; then ok "no mount left"; else not_ok "no mount left" $x; fi
}

setup
[[ flood =~ $CASES ]] && case_flood
[[ escape =~ $CASES ]] && case_escape
hygiene
finish

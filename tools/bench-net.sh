#!/bin/bash
# Network figures for `make bench` (issue 12): TCP throughput over runm's
# TAP mode (a CNI bridge, nerdctl's hook contract) against QEMU's user-mode
# NAT, with runc-v2 on the same bridge as the reference, and what the
# namespace mode adds to a container's start. Writes OUTDIR/net.json and
# OUTDIR/net.md.
#
#   bash tools/bench-net.sh OUTDIR
#
# Runs in a network namespace standing for the host (tools/hostns.sh), with
# its own private containerd, CNI bridge (10.4.9.0/24) and iptables rules,
# as test/e2e/test_cni.sh does; nothing of the machine's network is used.
# Environment: BENCH_NET_MIB (MiB per transfer, default 64),
# BENCH_NET_H2C_MIB (MiB per h2c transfer, default 256; 64 with BENCH_QUICK),
# BENCH_NET_RUNS (transfers per figure, best and median kept, default 3),
# BENCH_NET_STARTS (starts per mode, default 5), BENCH_QUICK=1 (16 MiB,
# 2 transfers, 3 starts unless set), BENCH_NET_RUNTIMES (default
# "runc runm"), BENCH_NET_PARTS (default "throughput start"), RUNM_BIN
# (default build/bin).
#
# Figures (MiB/s; h2c and c2h timed on the test host, c2c inside the
# sending container by /proc/uptime):
#   h2c   the test host sends to a container: 1 MiB writes into the socket
#         (python, h2c_send below), dd in the container reads it in 1 MiB
#         reads (port 5002, `nc -ll -e dd`); timed from connect to the
#         receiver's close (all data read): the transport, not the programs'
#         buffer sizes
#   h2c-nc the same through busybox nc at both ends (port 5001: its reads
#         and writes are at most a few KiB; the figure before issue 12's
#         follow-up, kept to compare)
#   c2h   a container sends to the test host (curl fetches a file from
#         busybox httpd in the container, which sends it with sendfile)
#   c2c   one container sends to another (wget in one fetches the file
#         from httpd in the other)
# per mode: runc (CNI bridge), runm-tap (CNI bridge, TAP + tc redirect),
# runm-user (user-mode NAT: h2c through a port published with
# io.runm.ports, c2c through 10.0.2.2 with io.runm.host-loopback).
# For runm, h2c, h2c-nc and c2h also record QEMU's CPU time (all its
# threads, and the busiest one: the vCPU under TCG) and the time its
# threads waited for a host CPU, from /proc/PID/task/*/schedstat: per MiB,
# that cost does not depend on the machine's load the way the wall-clock
# figure does.
# Start: `ctr run --rm` of `true`, wall time, median of STARTS, for runm
# with nerdctl's hooks (TAP mode) and without (user mode), and for runc
# with and without them (what CNI itself costs).
if [ "${RUNM_NETBENCH_INSIDE:-}" != 1 ]; then
  export RUNM_NETBENCH_INSIDE=1
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  exec bash "$here/hostns.sh" /bin/bash "$here/$(basename "${BASH_SOURCE[0]}")" "$@"
fi
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-}
[ -n "$OUT" ] || { echo "usage: bench-net.sh OUTDIR" >&2; exit 2; }
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
export RUNM_BIN=${RUNM_BIN:-$ROOT/build/bin}
case "$RUNM_BIN" in /*) ;; *) RUNM_BIN=$ROOT/$RUNM_BIN ;; esac
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_mib=16 d_h2c=64 d_runs=2 d_starts=3; else d_mib=64 d_h2c=256 d_runs=3 d_starts=5; fi
MIB=${BENCH_NET_MIB:-$d_mib}
# h2c's transfer: each connection also pays a fixed cost in the guest (nc
# forks and execs dd, then dd exits and the socket closes: ~20 ms under
# TCG, the h2c-conn figure), which at 64 MiB was ~11 % of the TAP
# transfer's time and ~3 % of NAT's; at 256 MiB it weighs ~4x less on both.
H2C_MIB=${BENCH_NET_H2C_MIB:-$d_h2c}
RUNS=${BENCH_NET_RUNS:-$d_runs}
STARTS=${BENCH_NET_STARTS:-$d_starts}
read -r -a RUNTIMES <<<"${BENCH_NET_RUNTIMES:-runc runm}"
PARTS=${BENCH_NET_PARTS:-throughput start}
RUNTIMES_T=("${RUNTIMES[@]}") RUNTIMES_S=("${RUNTIMES[@]}")
PY=/usr/bin/python3
export MIB
HOOK=$ROOT/test/fixtures/nerdctl-oci-hook.py
ENV_SH=$ROOT/tools/containerd-env.sh
WORK=$(mktemp -d /tmp/runm-benchnet.XXXXXX)
export RUNM_CTRD_DIR=$WORK/ctrd RUNM_CTRD_NS=benchnet
export RUNM_STATE_DIR=$WORK/runm
# The shims' per-step records (host-shim/timing.c): the namespace mode's
# own steps are marked net.begin/ready (namespace, TAP) and
# net.connect/connected/configured (netlink, tc, the guest's
# ConfigureNetwork).
export RUNM_TIMING_DIR=$WORK/timing
NS=$RUNM_CTRD_NS
SOCK=$RUNM_CTRD_DIR/containerd.sock
NET=runm-bench
GW=10.4.9.1
LIMIT=300
RAW=$OUT/net-raw
mkdir -p "$RAW" "$WORK/timing" "$WORK/netconf" "$WORK/nerdctl" "$WORK/ipam" "$WORK/c"
: >"$RAW/failed.txt"

say() { echo "bench-net: $*" >&2; }
fail() { say "FAILED: $*"; echo "$*" >>"$RAW/failed.txt"; }
bn_cleanup() {
  bash "$ENV_SH" stop >/dev/null 2>&1 || say "containerd-env.sh stop left something"
  rm -rf "$WORK"
}
trap bn_cleanup EXIT
trap 'exit 130' INT TERM HUP
CTR() { ctr --address "$SOCK" --namespace "$NS" "$@"; }
TCTR() { timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" "$@"; }
now_ns() { date +%s%N; }
status_is() { [ "$(CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }')" = "$2" ]; }
wait_running() { local i; for i in $(seq 1 600); do status_is "$1" RUNNING && return 0; sleep 0.1; done; return 1; }

for p in bridge host-local portmap firewall tuning; do
  [ -x "/usr/lib/cni/$p" ] || { say "/usr/lib/cni/$p missing: make deps"; exit 1; }
done
bash "$ROOT/test/fixtures/mkbundle.sh" "$WORK/bb" >/dev/null || { say "mkbundle failed"; exit 1; }
cat >"$WORK/netconf/$NET.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "$NET", "plugins": [
  {"type": "bridge", "bridge": "runmbench0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$WORK/ipam",
            "ranges": [[{"subnet": "10.4.9.0/24", "gateway": "$GW"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall", "backend": "iptables", "ingressPolicy": "same-bridge"},
  {"type": "tuning"}]}
JSON
bash "$ENV_SH" start || { say "containerd did not start"; exit 1; }

# spec MODE ID OUT [ANNOTATIONS-JSON]: MODE cni (nerdctl's hooks) or plain.
spec() {
  $PY - "$WORK/bb/config.json" "$3" "$1" "$2" "${4:-{\}}" "$HOOK" "$WORK" "$SOCK" "$NS" "$NET" <<'PY'
import json, os, sys
base, out, mode, cid, ann, hook, work, sock, ns, net = sys.argv[1:11]
c = json.load(open(base))
c["root"] = {"path": os.path.join(os.path.dirname(base), "rootfs"), "readonly": True}
c["hostname"] = cid
# busybox nc ends a connection when its stdin ends: the listener's stdin
# is a FIFO that never does (the sender's end decides). On 5002 dd reads
# the socket itself (1 MiB reads) and ends at the sender's EOF; -ll keeps
# the listener up between connections (one child per connection).
# httpd sends a file with sendfile: what the container sends is not slowed
# by busybox nc's small writes (c2h, c2c).
c["process"]["args"] = ["sh", "-c", "mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=1M count=%s 2>/dev/null && "
                        "httpd -p 8080 -h /tmp/www && mkfifo /tmp/f && exec 3<>/tmp/f && "
                        "(while true; do nc -l -p 5001 <&3 >/dev/null; done) & "
                        "nc -ll -p 5002 -e dd of=/dev/null bs=1M 2>/dev/null & exec sleep 100000" % os.environ["MIB"]]
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]})
c["annotations"] = json.loads(ann)
if mode == "cni":
    args = [hook, "--data-root=" + work + "/nerdctl", "--address=" + sock, "--namespace=" + ns,
            "--cni-path=/usr/lib/cni", "--cni-netconfpath=" + work + "/netconf", "internal", "oci-hook"]
    env = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
    c["hooks"] = {"createRuntime": [{"path": hook, "args": args + ["createRuntime"], "env": env}],
                  "poststop": [{"path": hook, "args": args + ["postStop"], "env": env}]}
    c["annotations"].update({"nerdctl/namespace": ns, "nerdctl/name": cid, "nerdctl/hostname": cid,
        "nerdctl/state-dir": work + "/nerdctl/containers/" + ns + "/" + cid,
        "nerdctl/networks": json.dumps([net]), "nerdctl/extraHosts": "[]", "nerdctl/ports": "[]"})
json.dump(c, open(out, "w"))
PY
}
rt_of() { case "$1" in runc*) echo io.containerd.runc.v2 ;; *) echo io.containerd.runm.v1 ;; esac; }
ip_of() { # ID: the CNI address of a container on the bridge
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["ips"][0]["address"].split("/")[0])' \
    "$WORK/nerdctl/cni-results/$NET-$NS-$1-eth0.json" 2>/dev/null
}
cx() { local id=$1; shift; TCTR task exec --exec-id "x$RANDOM$RANDOM" "$id" "$@" </dev/null; }
run_d() { # MODE RT ID [ANN]: started and RUNNING
  spec "$1" "$3" "$WORK/c/$3.json" "${4:-}"
  TCTR run -d --runtime "$(rt_of "$2")" --config "$WORK/c/$3.json" "$3" </dev/null >/dev/null 2>"$RAW/$3.err" &&
    wait_running "$3"
}
rm_c() { local id; for id in "$@"; do TCTR task kill -s KILL "$id" >/dev/null 2>&1; sleep 0.5
  TCTR task delete -f "$id" >/dev/null 2>&1; TCTR containers rm "$id" >/dev/null 2>&1; done; }
# secs CMD...: wall seconds of CMD (fails when CMD does); CMD may print
# its own seconds instead (in_secs), which then win.
secs() {
  local t0 t1 o c0 c1
  c0=$(qemu_cpu)
  t0=$(now_ns)
  o=$("$@" 2>>"$RAW/cmd.err") || return 1
  t1=$(now_ns)
  c1=$(qemu_cpu)
  [ -z "$c0" ] || [ -z "$c1" ] || echo "$c0 $c1" >>"$WORK/cpu"
  if [[ "$o" =~ ^[0-9.]+$ ]]; then echo "$o"; else $PY -c "print(($t1 - $t0) / 1e9)"; fi
}
# qemu_cpu: for QPID (a runm task's QEMU; empty for runc) the sum over its
# threads of CPU time and of run-queue wait, and the busiest thread's CPU
# time (the vCPU under TCG), all ns, from /proc/QPID/task/*/schedstat.
QPID=
qemu_cpu() {
  [ -n "$QPID" ] || return 0
  cat /proc/"$QPID"/task/*/schedstat 2>/dev/null | awk '{ c += $1; w += $2; if ($1 > m) m = $1 } END { if (NR) printf "%.0f %.0f %.0f", c, w, m }'
}
# in_secs ID CMD: CMD in the container, timed there (/proc/uptime: 10 ms
# steps; an exec's own cost, large under TCG, stays out); prints seconds.
in_secs() {
  local o
  o=$(cx "$1" sh -c "read a _ </proc/uptime && $2 && read b _ </proc/uptime && echo \$a \$b") || return 1
  $PY -c 'import sys; a, b = map(float, sys.argv[1:3]); print(max(b - a, 0.01))' $o
}
# h2c_send HOST PORT: MIB MiB in 1 MiB writes, then half-close and wait for
# the receiver to close (it has read everything); prints the seconds.
h2c_send() {
  $PY - "$1" "$2" "$MIB" <<'PY'
import socket, sys, time
host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = bytes(1 << 20)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=120)
for _ in range(mib):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(1 << 16):
    pass
print(time.monotonic() - t0)
PY
}
# A figure: RUNS transfers of MIB; MiB/s of the best and the median, with
# the empty-exec baseline B (seconds) subtracted.
figure() { # NAME BASELINE CMD...
  local name=$1 base=$2 i t ts=()
  shift 2
  : >"$WORK/cpu"
  for i in $(seq 1 "$RUNS"); do
    t=$(secs "$@") || { fail "$name: transfer $i failed"; return; }
    ts+=("$t")
  done
  $PY - "$name" "$MIB" "$base" "$WORK/cpu" "$(cut -d' ' -f1 /proc/loadavg)" "${ts[@]}" >>"$RAW/figures.jsonl" <<'PY'
import json, statistics, sys
name, mib, base, cpuf, load = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
ts = [float(x) for x in sys.argv[6:]]
net = [max(t - base, 1e-3) for t in ts]
r = {"name": name, "mib": mib, "baseline_s": base, "runs_s": ts, "load": load,
     "best_mib_s": mib / min(net), "median_mib_s": mib / statistics.median(net)}
# QEMU's CPU and run-queue wait per transfer (runm only), ms per MiB.
cpu = [list(map(int, l.split())) for l in open(cpuf) if l.strip()]
if cpu:
    per = lambda i: [(c[3 + i] - c[i]) / 1e6 / mib for c in cpu]
    r["qemu_cpu_ms_per_mib"], r["qemu_wait_ms_per_mib"], r["qemu_vcpu_ms_per_mib"] = per(0), per(1), per(2)
    r["qemu_cpu_ms_per_mib_median"] = statistics.median(r["qemu_cpu_ms_per_mib"])
    r["qemu_vcpu_ms_per_mib_median"] = statistics.median(r["qemu_vcpu_ms_per_mib"])
print(json.dumps(r))
PY
  say "$name: $(tail -1 "$RAW/figures.jsonl")"
}

# ---- throughput ----------------------------------------------------------------
: >"$RAW/figures.jsonl"
[[ " $PARTS " == *" throughput "* ]] || RUNTIMES_T=()
for r in "${RUNTIMES_T[@]}"; do
  modes=cni
  [ "$r" = runm ] && modes="cni user"
  for m in $modes; do
    if [ "$m" = user ]; then label=runm-user; elif [ "$r" = runm ]; then label=runm-tap; else label=runc; fi
    a=$label-a b=$label-b
    if [ "$m" = cni ]; then
      run_d cni "$r" "$a" && run_d cni "$r" "$b" || { fail "$label: containers did not start: $(cat "$RAW/$a.err" "$RAW/$b.err" 2>/dev/null | head -c 300)"; rm_c "$a" "$b"; continue; }
      ia=$(ip_of "$a")
      QPID=
      [ "$r" = runm ] && QPID=$(CTR task ls | awk -v id="$a" '$1 == id { print $2 }')
    else
      pa=15901 pa2=15902 pa3=15903
      run_d plain "$r" "$a" "{\"io.runm.ports\": \"127.0.0.1:$pa:5001,127.0.0.1:$pa2:8080,127.0.0.1:$pa3:5002\", \"io.runm.host-loopback\": \"true\"}" &&
        run_d plain "$r" "$b" '{"io.runm.host-loopback": "true"}' ||
        { fail "$label: containers did not start: $(cat "$RAW/$a.err" "$RAW/$b.err" 2>/dev/null | head -c 300)"; rm_c "$a" "$b"; continue; }
      ia=127.0.0.1
      QPID=$(CTR task ls | awk -v id="$a" '$1 == id { print $2 }')
    fi
    if [ "$m" = cni ]; then to_a=$ia:8080 guest_to_a=$ia:8080; else to_a=127.0.0.1:$pa2 guest_to_a=10.0.2.2:$pa2; fi
    wait_http() { local i; for i in $(seq 1 100); do curl -s -o /dev/null -m 2 "http://$1/" && return 0; sleep 0.2; done; return 1; }
    wait_http "$to_a" || fail "$label: httpd in $a does not answer at $to_a"
    MIB=$H2C_MIB figure "$label h2c" 0 h2c_send "$ia" "$([ "$m" = cni ] && echo 5002 || echo $pa3)"
    # The connection alone: connect, the receiver's fork and exec, its exit
    # and close, no data (seconds, RUNS of them).
    cs=()
    for i in $(seq 1 "$RUNS"); do cs+=("$(MIB=0 h2c_send "$ia" "$([ "$m" = cni ] && echo 5002 || echo $pa3)")"); done
    $PY -c 'import json, statistics, sys; c = [float(x) for x in sys.argv[2:] if x]
print(json.dumps({"name": sys.argv[1], "conn_s": c, "median_s": statistics.median(c) if c else None}))' "$label h2c-conn" "${cs[@]}" >>"$RAW/figures.jsonl"
    say "$label h2c-conn: $(tail -1 "$RAW/figures.jsonl")"
    figure "$label h2c-nc" 0 sh -c "dd if=/dev/zero bs=1M count=$MIB 2>/dev/null | busybox nc $ia $([ "$m" = cni ] && echo 5001 || echo $pa)"
    figure "$label c2h" 0 curl -sf -o /dev/null "http://$to_a/blob"
    QPID=  # c2c: two VMs; their CPU is not attributed
    figure "$label c2c" 0 in_secs "$b" "wget -q -O /dev/null http://$guest_to_a/blob"
    rm_c "$a" "$b"
  done
done

# ---- start latency -------------------------------------------------------------
: >"$RAW/starts.jsonl"
[[ " $PARTS " == *" start "* ]] || RUNTIMES_S=()
for r in "${RUNTIMES_S[@]}"; do
  for m in cni plain; do
    ts=()
    for i in $(seq 1 "$STARTS"); do
      id=st-$r-$m-$i
      spec "$m" "$id" "$WORK/c/$id.json"
      $PY - "$WORK/c/$id.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["args"] = ["true"]; json.dump(c, open(sys.argv[1], "w"))
PY
      t=$(secs TCTR run --rm --runtime "$(rt_of "$r")" --config "$WORK/c/$id.json" "$id") ||
        { fail "start $r $m #$i failed: $(tail -c 300 "$RAW/cmd.err")"; continue; }
      ts+=("$t")
    done
    [ ${#ts[@]} -gt 0 ] || continue
    $PY -c 'import json, statistics, sys; ts = [float(x) for x in sys.argv[3:]]
print(json.dumps({"runtime": sys.argv[1], "mode": sys.argv[2], "runs_s": ts, "median_s": statistics.median(ts), "best_s": min(ts)}))' \
      "$r" "$m" "${ts[@]}" >>"$RAW/starts.jsonl"
    say "start $r $m: $(tail -1 "$RAW/starts.jsonl")"
  done
done

# The runm starts' records, kept (per step, CNI against plain).
mkdir -p "$RAW/timing"
cp "$RUNM_TIMING_DIR"/*-st-runm-*.timing "$RAW/timing/" 2>/dev/null

# ---- report --------------------------------------------------------------------
$PY - "$RAW" "$OUT" "$MIB" "$RUNS" "$STARTS" <<'PY'
import json, os, sys
raw, out, mib, runs, starts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
load = lambda f: [json.loads(l) for l in open(os.path.join(raw, f)) if l.strip()]
figs = {f["name"]: f for f in load("figures.jsonl")}
st = {(s["runtime"], s["mode"]): s for s in load("starts.jsonl")}
failed = [l.strip() for l in open(os.path.join(raw, "failed.txt")) if l.strip()]
res = {"mib": int(mib), "runs": int(runs), "starts": int(starts), "throughput": figs,
       "start": {f"{r}-{m}": v for (r, m), v in st.items()}, "failed": failed}
h2c_mib = figs.get("runm-tap h2c", figs.get("runc h2c", {})).get("mib", mib)
L = [f"Throughput, MiB/s (best / median of {runs}; {mib} MiB per transfer, {h2c_mib} MiB for dd 1 MiB; test host -> container: 1 MiB writes "
     f"and reads at both ends (python sender, `nc -ll -e dd` in the container), and busybox nc at both ends (its small reads); "
     f"from a container: busybox httpd (sendfile) to curl or wget):\n",
     "| path | runc (bridge) | runm TAP (bridge) | runm user-mode NAT | TAP / NAT |", "|---|---|---|---|---|"]
for d, what in (("h2c", "test host -> container (dd 1 MiB)"), ("h2c-nc", "test host -> container (busybox nc)"),
                ("c2h", "container -> test host"), ("c2c", "container -> container")):
    cell = lambda k: (f"{figs[k]['best_mib_s']:.1f} / {figs[k]['median_mib_s']:.1f}" if k in figs else "n/a")
    tap, nat = figs.get(f"runm-tap {d}"), figs.get(f"runm-user {d}")
    ratio = f"{tap['median_mib_s'] / nat['median_mib_s']:.1f}x" if tap and nat else "n/a"
    L.append(f"| {what} | {cell('runc ' + d)} | {cell('runm-tap ' + d)} | {cell('runm-user ' + d)} | {ratio} |")
res["tap_over_nat"] = {d: (figs[f"runm-tap {d}"]["median_mib_s"] / figs[f"runm-user {d}"]["median_mib_s"])
                       for d in ("h2c", "h2c-nc", "c2h", "c2c") if f"runm-tap {d}" in figs and f"runm-user {d}" in figs}
conn = {k: figs[f"{k} h2c-conn"]["median_s"] for k in ("runc", "runm-tap", "runm-user")
        if figs.get(f"{k} h2c-conn", {}).get("median_s") is not None}
if conn:
    L.append("\nA test host -> container connection with no data (connect; in the container nc forks and execs dd, "
             "which exits at EOF; close), median ms, included once in every h2c transfer: " +
             ", ".join(f"{k} {v * 1000:.1f}" for k, v in conn.items()) + ".")
L.append("\nQEMU's CPU time per MiB (all threads / the busiest, the vCPU; medians), runm: what the wall-clock "
         "figures cost whatever the machine's load; NAT / TAP is the ratio an idle host's throughput would approach "
         "where the vCPU is the bound:\n")
L.append("| path | TAP: ms/MiB (vCPU) | NAT: ms/MiB (vCPU) | NAT / TAP (all; vCPU) | load at the end |")
L.append("|---|---|---|---|---|")
for d in ("h2c", "h2c-nc", "c2h"):
    tap, nat = figs.get(f"runm-tap {d}", {}), figs.get(f"runm-user {d}", {})
    if min(tap.get("qemu_cpu_ms_per_mib_median", 0), tap.get("qemu_vcpu_ms_per_mib_median", 0)) > 0 and \
            "qemu_cpu_ms_per_mib_median" in nat:
        a, av, b, bv = (tap["qemu_cpu_ms_per_mib_median"], tap["qemu_vcpu_ms_per_mib_median"],
                        nat["qemu_cpu_ms_per_mib_median"], nat["qemu_vcpu_ms_per_mib_median"])
        L.append(f"| {d} | {a:.2f} ({av:.2f}) | {b:.2f} ({bv:.2f}) | {b / a:.1f}x; {bv / av:.1f}x | {tap['load']:.1f} / {nat['load']:.1f} |")
L.append(f"\nStart, `ctr run --rm ... true`, seconds (median / best of {starts}):\n")
L.append("| runtime | with nerdctl's CNI hooks | without | difference (medians) |")
L.append("|---|---|---|---|")
for r in ("runc", "runm"):
    a, b = st.get((r, "cni")), st.get((r, "plain"))
    c = lambda s: f"{s['median_s']:.3f} / {s['best_s']:.3f}" if s else "n/a"
    diff = f"{(a['median_s'] - b['median_s']) * 1000:+.0f} ms" if a and b else "n/a"
    if a and b:
        res.setdefault("start_extra_ms", {})[r] = (a["median_s"] - b["median_s"]) * 1000
    L.append(f"| {r} | {c(a)} | {c(b)} | {diff} |")
if res.get("start_extra_ms", {}).keys() >= {"runc", "runm"}:
    own = res["start_extra_ms"]["runm"] - res["start_extra_ms"]["runc"]
    res["namespace_mode_own_ms"] = own
    L.append(f"\nWhat runm's namespace mode adds beyond CNI's own cost (runm's difference less runc's): "
             f"{own:+.0f} ms (starts under TCG vary by more than that; see the runs in net.json).")
L.append("\nFor runm the difference is the namespace mode's cost (the host namespace, TAP, tc, "
         "the hooks, CNI's plugins) against user-mode NAT; runc's row is what CNI's plugins cost by themselves.")
# The starts' shim records (net-raw/timing), read once: the namespace
# mode's own steps in each start with CNI, and every start per step.
import glob, statistics
recs = []
for f in sorted(glob.glob(os.path.join(raw, "timing", "*-st-runm-*.timing"))):
    t = {}
    for l in open(f):
        k, _, v = l.partition(" ")
        if v.strip().isdigit():
            t[k] = int(v)
    recs.append(("cni" if "-st-runm-cni-" in f else "plain", t))
own = [round(((t["net.ready"] - t["net.begin"]) + (t["net.configured"] - t["net.connect"])) / 1e6, 1)
       for m, t in recs if m == "cni" and {"net.begin", "net.ready", "net.connect", "net.configured"} <= t.keys()]
if own:
    res["namespace_mode_steps_ms"] = {"runs": own, "median": statistics.median(own), "max": max(own)}
    L.append(f"\nrunm's namespace mode's own steps in a start, from the shim's timing marks (namespace and TAP "
             f"before QEMU; connecting CNI's interface with netlink and tc; the guest's ConfigureNetwork): "
             f"median {statistics.median(own):.1f} ms, max {max(own):.1f} ms over {len(own)} starts (target: 50 ms).")
# Per shim step, runm's starts with nerdctl's hooks against plain ones:
# where a hooked start's time goes.
steps = [("VM boot", "vm.spawn", "vm.ready"), ("runc create in the guest", "vm.owned", "guest.created"),
         ("createRuntime hook on the host", "hook.createRuntime.begin", "hook.createRuntime.end"),
         ("runc start", "start.begin", "start.end"), ("Delete (postStop: CNI DEL)", "delete.begin", "delete.end")]
per = {}
for mode, t in recs:
    for name, a, b in steps:
        if a in t and b in t:
            per.setdefault((name, mode), []).append((t[b] - t[a]) / 1e6)
if per:
    res["runm_start_steps_ms"] = {f"{n} ({m})": v for (n, m), v in per.items()}
    L.append("\nrunm's starts per shim step, median ms (min-max), with nerdctl's hooks and without:\n")
    L.append("| step | with the hooks | plain |")
    L.append("|---|---|---|")
    cell = lambda v: f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" if v else "-"
    for name, _, _ in steps:
        L.append(f"| {name} | {cell(per.get((name, 'cni'), []))} | {cell(per.get((name, 'plain'), []))} |")
if failed:
    L.append("\nFailed: " + "; ".join(failed))
json.dump(res, open(os.path.join(out, "net.json"), "w"), indent=2)
open(os.path.join(out, "net.md"), "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
[ ! -s "$RAW/failed.txt" ]

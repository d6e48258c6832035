#!/bin/bash
# CNI networking end to end (issue 12, docs/networking.md): containers
# started the way nerdctl starts them, with the real containerd 1.6 and ctr;
# runc-v2 is the reference, runm must give the same results.
#
# The whole test runs in a network namespace that stands for "the host"
# (tools/hostns.sh): containerd, the shims, QEMU, CNI's bridge and its
# iptables rules live there; the machine's own network is never touched and
# all traffic goes to addresses inside it. No nerdctl package exists here:
# test/fixtures/nerdctl-oci-hook.py follows nerdctl's hook contract (the
# state on stdin; the namespace from the nerdctl/network-namespace
# annotation, else /proc/<pid>/ns/net; CNI ADD/DEL of a conflist with
# bridge + host-local + portmap + firewall (iptables backend) + tuning from
# Debian's containernetworking-plugins; ports from nerdctl/ports), and each
# spec carries it as createRuntime and postStop hooks the way nerdctl puts
# its own (`ctr run --config SPEC`: ctr 1.6 has no hook flags).
#
# Cases (RUNM_E2E_CASES selects them by regex; RUNM_E2E_RUNTIMES the
# runtimes, default "runc runm"):
#   bridge   per runtime, two containers: eth0 has the CNI-assigned IP and
#            MAC; they ping each other; 8 MiB over TCP (busybox nc) arrive
#            with the same sha256; a port published with nerdctl/ports
#            (portmap) answers from the test-host namespace; with both
#            runtimes, a runc-v2 and a runm container reach each other
#   hostile  a container with CAP_NET_ADMIN changes its eth0's MAC and IP
#            and floods the bridge: the test host's links, addresses, routes
#            and iptables rules, and the other containers, are unaffected;
#            (runm) the task's namespace on the host keeps CNI's config
#   release  deleting the containers runs postStop: host-local's store is
#            empty, no bridge port, iptables rule or namespace of theirs is
#            left
#   kill     kill -9 of the shim (of bridge's second container), and of the
#            task's process (runm: QEMU; of hostile's container), then
#            delete: postStop ran, nothing of the task is left (netns,
#            bridge port, TAP, tc filter, iptables rule, IP)
#   cri      a spec naming a namespace CNI configured before (CRI's
#            sandbox): the container gets that IP; the namespace is left
#            to its owner
# Then: nothing left (tasks, shims, QEMU, mounts, runm state, IPs, rules).
# RUNM_E2E_VM_BACKEND=libvirt: runm's VMs are libvirt domains on a private
# embed root (docs/libvirt.md, "The namespace mode"); then also no domain.
#   bash test/e2e/test_cni.sh
#   RUNM_E2E_RUNTIMES=runm RUNM_E2E_CASES='bridge|release' bash test/e2e/test_cni.sh
# RUNM_CNI_LOG=FILE keeps containerd's log (with the shims') there.
if [ "${RUNM_CNI_INSIDE:-}" != 1 ]; then
  export RUNM_CNI_INSIDE=1
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  exec bash "$here/../../tools/hostns.sh" /bin/bash "$here/$(basename "${BASH_SOURCE[0]}")" "$@"
fi
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ENV=$ROOT/tools/containerd-env.sh
export RUNM_BIN
RUNM_CTRD_DIR=$(mktemp -d /tmp/rcni.XXXXXX)
export RUNM_CTRD_DIR
export RUNM_CTRD_NS=${RUNM_CTRD_NS:-runm-cni}
NS=$RUNM_CTRD_NS
SOCK=$RUNM_CTRD_DIR/containerd.sock
CASES=${RUNM_E2E_CASES:-.}
LIMIT=${RUNM_E2E_TIMEOUT:-120}
PY=/usr/bin/python3
read -r -a RUNTIMES <<<"${RUNM_E2E_RUNTIMES:-runc runm}"
HOOK=$ROOT/test/fixtures/nerdctl-oci-hook.py
CNI_PATH=/usr/lib/cni
NET=runm-cni
BR=runmcni0
GW=10.4.7.1
NETCONF=$TMP/netconf
DATA=$TMP/nerdctl
IPAM=$TMP/ipam
t_start=$SECONDS
# containerd hands its environment to the shims it starts.
. "$ROOT/test/e2e/lib_libvirt.sh"
lv_embed_from_env cni

keep_log() { [ -z "${RUNM_CNI_LOG:-}" ] || cp "$RUNM_CTRD_DIR/containerd.log" "$RUNM_CNI_LOG" 2>/dev/null; }
cni_cleanup() {
  keep_log
  bash "$ENV" stop >/dev/null 2>&1
  [ -e "$TMP/crins" ] && umount "$TMP/crins" 2>/dev/null
  [ -z "$LV_ROOT" ] || rm -rf "$LV_ROOT"
  cleanup
}
trap cni_cleanup EXIT
trap 'exit 130' INT TERM HUP

CTR() { ctr --address "$SOCK" --namespace "$NS" "$@"; }
TCTR() { timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" "$@"; }
want() { [[ "$1" =~ $CASES ]]; }
tick() { echo "# [$((SECONDS - t_start)) s] $*"; }
have_rt() { printf '%s\n' "${RUNTIMES[@]}" | grep -qx "$1"; }
runtime_of() { case "$1" in runc) echo io.containerd.runc.v2 ;; *) echo io.containerd.runm.v1 ;; esac; }
task_status() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }
expect() { # NAME CMD...: one line per failed expectation
  local n=$1; shift
  "$@" || echo "$n"
}
report() { # TITLE MSGS [DETAIL...]: ok when MSGS is empty; one # line a line
  local t=$1 m=$2; shift 2
  if [ -z "$m" ]; then ok "$t"; else
    mapfile -t lines < <(printf '%s\n' "$m" "$@")
    not_ok "$t" "${lines[@]}"
  fi
}
pids_mentioning() { grep -lsaF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'; }
shim_of() { # ID: the long-lived shim serving it
  local p
  for p in $(pids_mentioning "$SOCK"); do
    { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | awk -v id="$1" '
      NR == 1 && $0 !~ /containerd-shim-/ { exit 1 }
      prev == "-id" && $0 == id { found = 1 }
      $0 == "start" || $0 == "delete" { found = 0; exit }
      { prev = $0 }
      END { exit !found }' && echo "$p"
  done
}
qemu_of() { # ID: the QEMU of a runm task
  local p
  for p in $(pids_mentioning qemu-system); do
    { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | head -1 | grep -q qemu-system || continue
    grep -qaF -e "$RUNM_STATE_DIR/" "/proc/$p/cmdline" 2>/dev/null || continue
    grep -qaF -- "$1" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
}

# ---- specs -------------------------------------------------------------------

# spec.py BASE OUT OPTS-JSON: a spec on the shared busybox rootfs. OPTS: id,
# args, mode (nerdctl: nerdctl's hooks and annotations; cri: a network
# namespace path, no hooks), ports (nerdctl/ports), netadmin (CAP_NET_ADMIN).
cat >"$TMP/spec.py" <<'PY'
import json, os, sys
base, out, o = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
e = json.loads(sys.argv[4])
c = json.load(open(base))
cid = o["id"]
c["root"] = {"path": os.path.join(os.path.dirname(base), "rootfs"), "readonly": True}
c["hostname"] = cid
c["process"]["args"] = o["args"]
caps = ["CAP_NET_RAW"] + (["CAP_NET_ADMIN"] if o.get("netadmin") else [])
for k, v in c["process"]["capabilities"].items():
    v.extend(x for x in caps if x not in v)
c["mounts"] += [
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=65536k"]},
    {"destination": "/data", "type": "bind", "source": e["data"], "options": ["rbind", "ro"]},
]
nss = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
net = {"type": "network"}
if o["mode"] == "cri":
    net["path"] = o["netns"]
c["linux"]["namespaces"] = nss + [net]
c["annotations"] = {}
if o["mode"] == "nerdctl":
    # As nerdctl's withNerdctlOCIHook: path = the binary, args[0] = it too,
    # global flags, then `internal oci-hook EVENT`; PATH with sbin appended.
    args = [e["hook"], "--data-root=" + e["dataroot"], "--address=" + e["sock"],
            "--namespace=" + e["ns"], "--cni-path=" + e["cnipath"],
            "--cni-netconfpath=" + e["netconf"], "internal", "oci-hook"]
    env = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]
    c["hooks"] = {"createRuntime": [{"path": e["hook"], "args": args + ["createRuntime"], "env": env}],
                  "poststop": [{"path": e["hook"], "args": args + ["postStop"], "env": env}]}
    c["annotations"] = {
        "nerdctl/namespace": e["ns"], "nerdctl/name": cid, "nerdctl/hostname": cid,
        "nerdctl/state-dir": os.path.join(e["dataroot"], "containers", e["ns"], cid),
        "nerdctl/networks": json.dumps([e["net"]]), "nerdctl/extraHosts": "[]",
        "nerdctl/ports": json.dumps(o.get("ports", [])), "nerdctl/platform": "linux/amd64"}
json.dump(c, open(out, "w"), indent=1)
PY

# What the hook's cached CNI result says: "IP/PREFIX MAC NETNS NETNS-INO".
cat >"$TMP/result.py" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["result"]
ip = r["ips"][0]
print(ip["address"], r["interfaces"][ip["interface"]]["mac"], d["netns"], d["netns_ino"])
PY

spec_env() {
  $PY -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
    hook "$HOOK" dataroot "$DATA" sock "$SOCK" ns "$NS" cnipath "$CNI_PATH" netconf "$NETCONF" \
    net "$NET" data "$TMP/data"
}
SERVE='mkdir -p /tmp/www && echo "page of $(hostname)" >/tmp/www/index.html && httpd -p 8080 -h /tmp/www && (sleep 100000 | nc -l -p 5001 >/tmp/got &) ; exec sleep 100000'

# start RT ID OPTS-JSON: ctr run -d with the spec; waits for RUNNING.
ATTEMPTED=()
start() {
  local rt=$1 id=$2 d=$TMP/c/$2
  ATTEMPTED+=("$id")
  mkdir -p "$d"
  $PY "$TMP/spec.py" "$TMP/bb/config.json" "$d/spec.json" "$3" "$(spec_env)" || return 1
  TCTR run -d --runtime "$(runtime_of "$rt")" --config "$d/spec.json" "$id" </dev/null \
    >"$d/run.out" 2>"$d/run.err"
  echo "ctr run exit $?" >"$d/rc"
  grep -qx 'ctr run exit 0' "$d/rc" || return 1
  wait_until 60 status_is "$id" RUNNING
}
started() { # TITLE ID...: a TAP line for the starts
  local t=$1 id m=""; shift
  for id in "$@"; do
    status_is "$id" RUNNING && continue
    m+="$id: $(cat "$TMP/c/$id/rc" 2>/dev/null) $(tr '\n' ' ' <"$TMP/c/$id/run.err" | head -c 400)"$'\n'
    m+="  its shim's last words: $(grep -F "$id" "$RUNM_CTRD_DIR/containerd.log" | grep -v 'level=info msg="starting signal loop"' | tail -4 | cut -c1-300 | tr '\n' '|')"$'\n'
  done
  report "$t" "${m%$'\n'}"
}
cx() { # ID CMD...: exec in a running container
  local id=$1; shift
  TCTR task exec --exec-id "x$RANDOM$RANDOM" "$id" "$@" </dev/null
}
cached() { echo "$DATA/cni-results/$NET-$NS-$1-eth0.json"; }
result_of() { $PY "$TMP/result.py" "$(cached "$1")" 2>/dev/null; }
ip_of() { result_of "$1" | awk '{ print $1 }' | cut -d/ -f1; }
# eth0 in the container: "IP/PREFIX MAC".
eth0_in() {
  cx "$1" sh -c 'echo "$(ip -o -4 addr show dev eth0 | awk "{ print \$4 }" | head -1) $(cat /sys/class/net/eth0/address)"' 2>&1
}
check_eth0() { # ID: messages when eth0 lacks what CNI assigned
  local want got rc again pid ns_has
  want=$(result_of "$1" | awk '{ print $1, $2 }')
  got=$(eth0_in "$1")
  rc=$?
  if [ -z "$want" ]; then echo "$1: no CNI result (hook log: $(tail -c 300 "$DATA/containers/$NS/$1/oci-hook.createRuntime.log" 2>/dev/null))"; return; fi
  [ "$got" = "$want" ] && return
  # Still a failure, with what tells a late configuration (the second read
  # matches) from a failed exec or a wrong namespace: a runc-v2 container
  # once read back empty here (it gets CNI's eth0 before it starts, so a
  # second read and the namespace's own view say which).
  sleep 2
  again=$(eth0_in "$1")
  pid=$(CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }')
  ns_has=$(nsenter --net="/proc/$pid/ns/net" ip -o -4 addr show dev eth0 2>&1 | awk '{ print $4 }')
  echo "$1: eth0 is \`$got\` (exec exit $rc), CNI assigned \`$want\`; 2 s later \`$again\`; the task's namespace on the host (pid $pid) has \`$ns_has\`"
}

# ---- leftovers ---------------------------------------------------------------

ipam_ips() { find "$IPAM/$NET" -maxdepth 1 -type f -name '[0-9]*.[0-9]*' -printf '%f ' 2>/dev/null; }
bridge_ports() { ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{ print $2 }' | tr '\n' ' '; }
# What a deleted task ID (cid, IP, netns inode) may have left: "" when nothing.
task_left() { # ID IP INO
  local x="" id=$1 ip=$2 ino=$3 c p
  c=$NS-$id
  local pat=(-e "$c")
  [ -n "$ip" ] && pat+=(-e "$ip/" -e "$ip:" -e "$ip ")
  p=$(iptables-save 2>/dev/null | grep -v '^#' | grep -F "${pat[@]}" | head -3 | tr '\n' '|')
  [ -n "$p" ] && x+=" iptables:$p"
  [ -n "$ip" ] && [ -e "$IPAM/$NET/$ip" ] && x+=" ip-reserved"
  [ -e "$(cached "$id")" ] && x+=" cni-cache"
  if [ -n "$ino" ]; then
    for p in /proc/[0-9]*; do
      [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$ino" ] && x+=" netns-held-by:${p#/proc/}"
    done
    for p in $(awk '$3 == "nsfs" { print $2 }' /proc/mounts); do
      [ "$(stat -L -c %i "$p" 2>/dev/null)" = "$ino" ] && x+=" netns-mounted:$p"
    done
  fi
  [ -n "$(shim_of "$id")" ] && x+=" shim"
  [ -n "$(qemu_of "$id")" ] && x+=" qemu"
  CTR task ls -q 2>/dev/null | grep -qx "$id" && x+=" task"
  echo "$x"
}
nothing_of() { [ -z "$(task_left "$@")" ]; }
remove() { # ID...: killed, then deleted, all at once (VMs stop in parallel)
  local id pids=()
  for id in "$@"; do TCTR task kill -s KILL "$id" >/dev/null 2>&1; done
  for id in "$@"; do
    wait_until 30 bash -c "! ctr --address '$SOCK' -n '$NS' task ls | awk '\$1 == \"$id\" { print \$3 }' | grep -qx RUNNING"
  done
  for id in "$@"; do
    { TCTR task delete -f "$id"; TCTR containers rm "$id"; } >/dev/null 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
}
# A snapshot of the test host's network: links (no counters), addresses,
# routes, iptables rules (no counters).
host_net() {
  ip -o link 2>/dev/null | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//' | awk '{ print $1, $2 }' | sort
  ip -o addr | awk '{ print $2, $3, $4 }' | sort
  ip route | sort
  iptables-save | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]//' | sort
}

# ---- setup -------------------------------------------------------------------

m=""
for p in bridge host-local portmap firewall tuning; do [ -x "$CNI_PATH/$p" ] || m+=" $CNI_PATH/$p"; done
command -v iptables >/dev/null || m+=" iptables"
if [ -n "$m" ]; then not_ok "CNI plugins and iptables are installed (make deps)" "missing:$m"; finish; fi
if [ ! -x "$RUNM_BIN/containerd-shim-runm-v1" ]; then
  not_ok "containerd-shim-runm-v1 is built" "missing: $RUNM_BIN/containerd-shim-runm-v1"; finish
fi
if ! bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" >/dev/null 2>"$TMP/mkbundle.err"; then
  not_ok "busybox rootfs and base spec" "$(cat "$TMP/mkbundle.err")"; finish
fi
mkdir -p "$NETCONF" "$DATA" "$IPAM" "$TMP/data" "$TMP/c"
head -c 8M /dev/urandom >"$TMP/data/blob"
BLOB_SUM=$(sha256sum <"$TMP/data/blob" | cut -d' ' -f1)
cat >"$NETCONF/$NET.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$IPAM",
              "ranges": [[{"subnet": "10.4.7.0/24", "gateway": "$GW"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall", "backend": "iptables", "ingressPolicy": "same-bridge"},
    {"type": "tuning"}
  ]
}
JSON
if bash "$ENV" start; then ok "private containerd starts in the test-host namespace"; else
  not_ok "private containerd starts"; finish
fi
HOST_NS_INO=$(stat -L -c %i /proc/self/ns/net)

# ---- bridge --------------------------------------------------------------------
tick "bridge"

declare -A PORT=([runc]=18080 [runm]=18081)
# The containers of bridge are hostile's victim and release's and kill's
# subjects: they start whenever one of those cases runs.
PHASE1=0
want bridge || want hostile || want release || want kill && PHASE1=1
if [ $PHASE1 = 1 ]; then
  for r in "${RUNTIMES[@]}"; do
    start "$r" "$r-a" "{\"id\":\"$r-a\",\"mode\":\"nerdctl\",\"args\":[\"sh\",\"-c\",$(printf '%s' "$SERVE" | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read()))')],\"ports\":[{\"HostPort\":${PORT[$r]},\"ContainerPort\":8080,\"Protocol\":\"tcp\",\"HostIP\":\"\"}]}"
    start "$r" "$r-b" "{\"id\":\"$r-b\",\"mode\":\"nerdctl\",\"args\":[\"sh\",\"-c\",$(printf '%s' "$SERVE" | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read()))')]}"
    started "bridge ($r): two containers start with nerdctl's createRuntime hook" "$r-a" "$r-b"
    status_is "$r-a" RUNNING && status_is "$r-b" RUNNING && want bridge || continue
    report "bridge ($r): eth0 has the CNI-assigned IP and MAC" "$(check_eth0 "$r-a"; check_eth0 "$r-b")"
    a=$(ip_of "$r-a") b=$(ip_of "$r-b")
    out=$(cx "$r-b" ping -c 3 -W 10 "$a" 2>&1)
    report "bridge ($r): $r-b pings $r-a ($a)" "$(expect "ping failed" grep -q ' 0% packet loss' <<<"$out")" "$(tail -2 <<<"$out")"
    t0=$SECONDS
    out=$(cx "$r-b" sh -c "nc $a 5001 </data/blob" 2>&1; cx "$r-a" sha256sum /tmp/got 2>&1)
    report "bridge ($r): 8 MiB over TCP from $r-b to $r-a arrive intact (sha256, $((SECONDS - t0)) s)" \
      "$(expect "sha256 differs" [ "$(awk '{ print $1 }' <<<"$out")" = "$BLOB_SUM" ])" "$out"
    out=$(curl -s -m 20 "http://$GW:${PORT[$r]}/index.html" 2>&1)
    report "bridge ($r): published port $GW:${PORT[$r]} (portmap) answers from the test-host namespace" \
      "$(expect "got \`$out\`" [ "$out" = "page of $r-a" ])"
    if [ "$r" = runm ] && [ -n "$LV_ROOT" ]; then
      # The namespace mode on libvirt: the task's pid is its domain's QEMU,
      # which runs in the namespace CNI configured (the hook's netns).
      dom="runm-$("$RUNM_BIN/containerd-shim-runm-v1" -namespace "$NS" -id "$r-a" vm-id)"
      pid=$(CTR task ls 2>/dev/null | awk -v id="$r-a" '$1 == id { print $2 }')
      ino=$(result_of "$r-a" | awk '{ print $4 }')
      doms=$(lv_list "$RUNM_LIBVIRT_URI" | tr '\n' ' ')
      report "bridge (libvirt): virsh lists the task's domain, the task's pid is its QEMU, in CNI's namespace" \
        "$(expect "domains: $doms (want $dom)" grep -qw -- "$dom" <<<"$doms"
           expect "pid $pid is not $dom's QEMU" grep -qaF -- "guest=$dom," "/proc/$pid/cmdline"
           expect "pid $pid's netns $(stat -L -c %i "/proc/$pid/ns/net" 2>&1), CNI's $ino" [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ])"
    fi
  done
  if want bridge && have_rt runc && have_rt runm && status_is runc-a RUNNING && status_is runm-a RUNNING; then
    ra=$(ip_of runc-a) ma=$(ip_of runm-a)
    out=$(cx runm-a wget -q -O - "http://$ra:8080/index.html" 2>&1; cx runc-a wget -q -O - "http://$ma:8080/index.html" 2>&1)
    report "bridge: a runc-v2 and a runm container fetch each other's page" \
      "$(expect "got \`$out\`" [ "$out" = $'page of runc-a\npage of runm-a' ])"
    out=$(cx runm-a ping -c 2 -W 10 "$ra" 2>&1; cx runc-a ping -c 2 -W 10 "$ma" 2>&1)
    report "bridge: a runc-v2 and a runm container ping each other" \
      "$(expect "ping failed" [ "$(grep -c ' 0% packet loss' <<<"$out")" = 2 ])" "$(grep loss <<<"$out")"
  fi
fi

# ---- hostile -------------------------------------------------------------------
tick "hostile"

# busybox's `ip link set address` needs AF_PACKET, which runm's guest kernel
# lacks: ifconfig's ioctl changes the MAC in both.
HOSTILE='ip link set eth0 down && ifconfig eth0 hw ether 02:42:de:ad:be:ef && ip link set eth0 up &&
ip addr flush dev eth0 && ip addr add 10.4.7.250/24 dev eth0 && ip route add default via '$GW' &&
for i in 1 2 3 4; do ping -q -A -s 1400 -w 6 '$GW' >/dev/null 2>&1 & done;
ping -q -b -A -s 1400 -w 6 10.4.7.255 >/dev/null 2>&1 & wait; echo done'
if want hostile || want kill; then
  for r in "${RUNTIMES[@]}"; do
    status_is "$r-b" RUNNING || { not_ok "hostile ($r): the victim $r-b runs"; continue; }
    start "$r" "$r-h" "{\"id\":\"$r-h\",\"mode\":\"nerdctl\",\"netadmin\":true,\"args\":[\"sleep\",\"100000\"]}"
    started "hostile ($r): a container with CAP_NET_ADMIN starts" "$r-h"
    status_is "$r-h" RUNNING && want hostile || continue
    before_h=$(result_of "$r-h")
    host_net >"$TMP/net.before"
    b=$(ip_of "$r-b")
    cx "$r-h" sh -c "$HOSTILE" >"$TMP/hostile.out" 2>&1 &
    hp=$!
    sleep 2
    out=$(busybox ping -c 5 -W 10 "$b" 2>&1)
    got="$(grep -o '[0-9]* packets received' <<<"$out") of 5"
    # runc's container floods at the host's own speed (its pings answer in
    # microseconds): whether a neighbour on the bridge still answers then
    # depends on the host's CPUs and load (0 of 5 seen on a loaded 2-core
    # CI machine), which is no property of runc-v2 or of runm. runm's
    # guest sends through its TAP at the speed of its emulated CPU, and
    # the claim of issue 12 is that its flood leaves the rest reachable.
    if [ "$r" = runm ]; then
      report "hostile ($r): during the flood the test host still reaches $r-b ($got)" \
        "$(expect "no answer" grep -q ' [1-5] packets received' <<<"$out")" "$(tail -2 <<<"$out")"
    else
      echo "# hostile ($r): during the flood the test host reached $r-b: $got (reported, not checked)"
    fi
    wait "$hp"
    got=$(eth0_in "$r-h")
    report "hostile ($r): the container changed its eth0 (to \`$got\`)" \
      "$(expect "eth0 is \`$got\`; hostile script: $(tr '\n' ' ' <"$TMP/hostile.out")" [ "$got" = "10.4.7.250/24 02:42:de:ad:be:ef" ])"
    host_net >"$TMP/net.after"
    report "hostile ($r): the test host's links, addresses, routes and iptables rules are unchanged" \
      "$(diff "$TMP/net.before" "$TMP/net.after" | grep '^[<>]' | head -8)"
    report "hostile ($r): the other container keeps its IP and MAC and reaches the gateway" \
      "$(check_eth0 "$r-b"; cx "$r-b" ping -c 2 -W 10 "$GW" 2>&1 | grep -q ' 0% packet loss' || echo "$r-b cannot ping $GW")"
    if [ "$r" = runm ]; then
      read -r wip wmac wns _ <<<"$before_h"
      got=$(nsenter --net="$wns" sh -c 'echo "$(ip -o -4 addr show dev eth0 2>/dev/null | awk "{ print \$4 }") $(ip -o link show eth0 2>/dev/null | grep -o "link/ether [^ ]*" | cut -d" " -f2)"')
      report "hostile (runm): the task's namespace on the host keeps CNI's eth0 ($wip $wmac)" \
        "$(expect "eth0 in $wns is \`$got\`" [ "$got" = "$wip $wmac" ])"
    fi
  done
fi

# ---- release and kill -----------------------------------------------------------
tick "release"

# kill_task ID WHAT: kill -9 of its shim (WHAT=shim) or its process (task:
# runm's QEMU, runc's init); "" or what was wrong before the kill.
kill_task() {
  local id=$1 what=$2 r=${1%%-*} p x ip ino ipp
  read -r ipp _ _ ino <<<"$(result_of "$id")"
  ip=${ipp%/*}
  if [ "$what" = shim ]; then p=$(shim_of "$id"); elif [ "$r" = runm ]; then p=$(qemu_of "$id"); else
    p=$(CTR task ls | awk -v id="$id" '$1 == id { print $2 }'); fi
  x=$(task_left "$id" "$ip" "$ino")
  # The check must see the live task: its rules and namespace.
  [ -n "$ipp" ] || echo "no CNI result before the kill"
  [ -n "$p" ] || echo "no $what process found"
  for w in iptables ip-reserved netns-held-by; do [[ "$x" == *"$w"* ]] || echo "before the kill the check did not see its $w"; done
  [ -z "$p" ] || kill -KILL $p
  wait_until 30 bash -c "! ctr --address '$SOCK' -n '$NS' task ls | awk '\$1 == \"$id\" { print \$3 }' | grep -qx RUNNING"
}
if [ $PHASE1 = 1 ]; then
  for r in "${RUNTIMES[@]}"; do
    declare -A info=() how=()
    for id in "$r-a" "$r-b" "$r-h"; do
      printf '%s\n' "${ATTEMPTED[@]}" | grep -qx "$id" || continue
      read -r ipp _ _ ino <<<"$(result_of "$id")"
      info[$id]="${ipp%/*} ${ino:-}"
      how[$id]=delete
    done
    [ ${#info[@]} -gt 0 ] || continue
    if want kill; then
      how[$r-b]=shim how[$r-h]=task
      for id in "$r-b" "$r-h"; do
        [ -n "${info[$id]:-}" ] || { not_ok "kill ($r): kill -9 of the ${how[$id]}" "$id was not started"; continue; }
        status_is "$id" RUNNING || { not_ok "kill ($r): kill -9 of the ${how[$id]}" "$id does not run"; continue; }
        kill_task "$id" "${how[$id]}" >"$TMP/kill.$id"
      done
    fi
    remove "${!info[@]}"
    all_m=""
    for id in "${!info[@]}"; do
      read -r ip ino <<<"${info[$id]}"
      m=""
      [ -n "$ip" ] || m+="$id: never got an IP from CNI"$'\n'
      [ -s "$DATA/containers/$NS/$id/oci-hook.postStop.log" ] || m+="$id: postStop did not run"$'\n'
      wait_until 20 nothing_of "$id" "$ip" "$ino"
      x=$(task_left "$id" "$ip" "$ino")
      [ -z "$x" ] || m+="$id left:$x"$'\n'
      if [ "${how[$id]}" = delete ]; then all_m+=$m; elif [ -f "$TMP/kill.$id" ]; then
        report "kill ($r): after kill -9 of the ${how[$id]} and delete, postStop ran and nothing of the task is left (netns, TAP, tc, iptables, IP)" \
          "$(cat "$TMP/kill.$id")${m%$'\n'}"
      fi
    done
    report "release ($r): deleting ran postStop; no IP, rule, netns, process of the deleted containers is left" "${all_m%$'\n'}"
  done
  report "release: host-local's store is empty again" "$(x=$(ipam_ips); [ -z "$x" ] || echo "reserved: $x")"
  report "release: no port left on the bridge" "$(x=$(bridge_ports); [ -z "$x" ] || echo "ports: $x")"
fi

# ---- cri ------------------------------------------------------------------------
tick "cri"

if want cri; then
  for r in "${RUNTIMES[@]}"; do
    id=$r-cri
    touch "$TMP/crins" && unshare --net="$TMP/crins" true
    st=$($PY -c 'import json,sys; print(json.dumps({"ociVersion": "1.0.2", "id": sys.argv[1], "status": "creating", "pid": 0, "bundle": "/",
      "annotations": {"nerdctl/namespace": sys.argv[2], "nerdctl/state-dir": sys.argv[3], "nerdctl/networks": json.dumps([sys.argv[4]]),
                      "nerdctl/network-namespace": sys.argv[5], "nerdctl/extraHosts": "[]"}}))' \
      "$id" "$NS" "$DATA/containers/$NS/$id" "$NET" "$TMP/crins")
    hargs=(--data-root="$DATA" --cni-path="$CNI_PATH" --cni-netconfpath="$NETCONF" internal oci-hook)
    if ! "$HOOK" "${hargs[@]}" createRuntime <<<"$st" >"$TMP/cri.out" 2>&1; then
      not_ok "cri ($r): CNI ADD into a pre-made namespace" "$(cat "$TMP/cri.out")"
    else
      start "$r" "$id" "{\"id\":\"$id\",\"mode\":\"cri\",\"netns\":\"$TMP/crins\",\"args\":[\"sleep\",\"100000\"]}"
      started "cri ($r): a spec naming a CNI-configured namespace path starts" "$id"
      if status_is "$id" RUNNING; then
        report "cri ($r): eth0 has the IP and MAC CNI gave the namespace" "$(check_eth0 "$id")"
        out=$(cx "$id" ping -c 2 -W 10 "$GW" 2>&1)
        report "cri ($r): the container reaches the bridge's gateway" "$(expect "ping failed" grep -q ' 0% packet loss' <<<"$out")" "$(tail -2 <<<"$out")"
      fi
      remove "$id"
      want_ip=$(result_of "$id" | awk '{ print $1 }')
      got=$(nsenter --net="$TMP/crins" ip -o -4 addr show dev eth0 2>&1 | awk '{ print $4 }')
      report "cri ($r): after delete the namespace is its owner's still, with CNI's eth0" \
        "$(expect "eth0 in the namespace: \`$got\`, wanted \`$want_ip\`" [ "$got" = "$want_ip" ])"
      links=$(nsenter --net="$TMP/crins" ip -o link 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 | sort | tr '\n' ' ')
      tcs=$(nsenter --net="$TMP/crins" tc qdisc show dev eth0 2>&1 | grep -v -e 'qdisc noqueue' -e 'qdisc noop')
      report "cri ($r): after delete the runtime left no link (TAP) or tc qdisc in the namespace" \
        "$(expect "links: $links" [ "$links" = "eth0 lo " ]; expect "eth0's qdiscs: $tcs" [ -z "$tcs" ])"
      "$HOOK" "${hargs[@]}" postStop <<<"$st" >>"$TMP/cri.out" 2>&1 || echo "# cri postStop: $(tail -3 "$TMP/cri.out")"
    fi
    umount "$TMP/crins" 2>/dev/null
    rm -f "$TMP/crins"
  done
fi

# ---- nothing left -------------------------------------------------------------
tick "nothing"

x=$(CTR task ls -q 2>&1)
if [ -z "$x" ]; then ok "ctr task ls is empty"; else not_ok "ctr task ls is empty" $x; fi
x=$(CTR containers ls -q 2>&1)
if [ -z "$x" ]; then ok "ctr containers ls is empty"; else not_ok "ctr containers ls is empty" $x; fi
x=$(ipam_ips)
if [ -z "$x" ]; then ok "host-local's store is empty"; else not_ok "host-local's store is empty" "$x"; fi
x=$(iptables-save | grep -F "$NS-" | head -5)
if [ -z "$x" ]; then ok "no iptables rule names a container"; else not_ok "no iptables rule names a container" "$x"; fi
x=$(awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" -v c="$TMP/" 'index($2, a) == 1 || index($2, b) == 1 || index($2, c) == 1 { print $2 }' /proc/mounts)
if [ -z "$x" ]; then ok "no mount left (rootfs, netns)"; else not_ok "no mount left" $x; fi
x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" -o -path "$RUNM_STATE_DIR/net" \) \) 2>/dev/null)
if [ -z "$x" ]; then ok "runm state dir empty"; else not_ok "runm state dir empty" $x; fi
lv_embed_end_check
keep_log
if bash "$ENV" stop; then ok "containerd-env.sh stop leaves no process, mount or dir"; else
  not_ok "containerd-env.sh stop leaves no process, mount or dir"; fi
echo "# test_cni: $((SECONDS - t_start)) s in the test-host namespace (ino $HOST_NS_INO)"
finish

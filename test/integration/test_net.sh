#!/bin/bash
# The guest network alone, through runmctl and standalone VMs: user-mode
# NAT (with --host-loopback the guest reaches an HTTP server on the host's
# 127.0.0.1 as 10.0.2.2; without, it does not), a published port (the host reaches busybox httpd in the
# guest), DNS config, `--net none`, bad --publish specs, a host port in use,
# and a broken network config that init reports without dying. Ends with
# throughput/latency figures as `#` lines and the leak checks.
. "$(dirname "$0")/lib.sh"

MK=$ROOT/test/fixtures/mkbundle.sh
PY=/usr/bin/python3
B=$TMP/b
mkdir -p "$B" "$TMP/www"
PIDS=()
net_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  cleanup
}
trap net_cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
vm_gone() { [ ! -e "$RUNM_STATE_DIR/vm/$1" ] && [ -z "$(pgrep -f -- "-name runm-$1 " 2>/dev/null)" ]; }

# A bundle whose container shares the VM's network (no network namespace,
# as the shim's guest spec makes it). GUEST_ETC=1 binds the guest's own
# /etc/resolv.conf and /etc/hosts (what init wrote) into the container.
bundle() { # DIR ARGS...
  local d=$1; shift
  READONLY=0 bash "$MK" "$d" "$@" >/dev/null
  GUEST_ETC=${GUEST_ETC:-0} $PY - "$d/config.json" <<'PY'
import json, os, sys
p = sys.argv[1]
c = json.load(open(p))
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
if os.environ["GUEST_ETC"] == "1":
    for f in ("/etc/resolv.conf", "/etc/hosts"):
        c["mounts"].append({"destination": f, "type": "bind", "source": f, "options": ["rbind", "ro"]})
json.dump(c, open(p, "w"), indent=2)
PY
}

# ---- a host HTTP server on 127.0.0.1 -------------------------------------
head -c 3000 /dev/urandom | base64 -w 76 >"$TMP/www/hello.txt"
HOST_PORT=$(free_port)
(cd "$TMP/www" && exec $PY -m http.server --bind 127.0.0.1 "$HOST_PORT" >"$TMP/http.log" 2>&1) &
PIDS+=($!)
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$HOST_PORT/hello.txt" ||
  { not_ok "host HTTP server starts"; finish; }
# A faster server for the throughput figure (python's is single-threaded
# and slow): busybox httpd on the host.
BB_PORT=$(free_port)
busybox httpd -f -p "127.0.0.1:$BB_PORT" -h "$TMP/www" &
PIDS+=($!)
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$BB_PORT/hello.txt" ||
  { not_ok "host busybox httpd starts"; finish; }

# ---- bad --publish specs and modes: usage errors, nothing started --------
bad_publish() { # SPEC WANT-TEXT
  local out rc
  out=$("$RUNMCTL" vm start --id badpub --publish "$1" 2>&1)
  rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$2" <<<"$out" && vm_gone badpub; then
    ok "--publish '$1' is refused naming the problem"
  else
    not_ok "--publish '$1' is refused naming the problem" "exit $rc: $out"
  fi
}
bad_publish "8080:80/sctp" "protocol \`sctp\` is not tcp or udp"
bad_publish "8080" "entry \`8080\`: expected [HOSTADDR:]HOSTPORT:GUESTPORT"
bad_publish "70000:80" "host port 70000 is not a number 1-65535"
bad_publish "localhost:8080:80" "host address \`localhost\` is not an IPv4 address"
bad_publish "8080:80,8080:81" "is already published"
bad_publish "8080:80,hostfwd=tcp::1-:2" "unexpected character \`=\`"
out=$("$RUNMCTL" vm start --id badnet --net bridge 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -qF "network mode \`bridge\` is not user, none or tap" <<<"$out"; then
  ok "--net bridge is refused"
else not_ok "--net bridge is refused" "exit $rc: $out"; fi
out=$("$RUNMCTL" vm start --id nonepub --net none --publish 8080:80 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "published ports need user networking" <<<"$out" && vm_gone nonepub; then
  ok "--net none with --publish is refused"
else not_ok "--net none with --publish is refused" "exit $rc: $out"; fi

# ---- a VM with user networking and a published port ----------------------
PUB=$(free_port)
ECHO=$(free_port)
t0=$(now_ms)
if ! "$RUNMCTL" vm start --id net1 --share "$TMP" --host-loopback --publish "127.0.0.1:$PUB:8080" --publish "$ECHO:7000" \
  >/dev/null 2>"$TMP/start.err"; then
  not_ok "vm start --publish" "$(cat "$TMP/start.err")"
  finish
fi
ok "vm start --publish 127.0.0.1:$PUB:8080 ($(($(now_ms) - t0)) ms)"
R() { "$RUNMCTL" "$1" --vm net1 "${@:2}"; }

info=$("$RUNMCTL" info net1 2>&1)
if grep -qF "network:     user: eth0 10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3" <<<"$info"; then
  ok "runmctl info shows the configured network"
else not_ok "runmctl info shows the configured network" "$(grep -i network <<<"$info")"; fi
setup_ms=$("$RUNMCTL" info --json net1 | $PY -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["network_setup_seconds"]*1000))')
echo "# guest network setup took $setup_ms ms (guest clock)"

bundle "$B/get" sh -c "wget -q -O - http://10.0.2.2:$HOST_PORT/hello.txt"
R run --bundle "$B/get" >"$TMP/get.out" 2>"$TMP/get.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$TMP/get.out" "$TMP/www/hello.txt"; then
  ok "with --host-loopback the guest fetches a page from the host's 127.0.0.1 as 10.0.2.2"
else
  not_ok "the guest fetches a page from the host" "exit $rc" "$(head -c 300 "$TMP/get.err")"
fi

GUEST_ETC=1 bundle "$B/cfg" sh -c 'cat /etc/resolv.conf /etc/hosts; ip addr show eth0 2>&1 | grep -o "inet [0-9./]*"; ip route | grep default'
R run --bundle "$B/cfg" >"$TMP/cfg.out" 2>&1
if grep -qx "inet 10.0.2.15/24" "$TMP/cfg.out" && grep -q "^default via 10.0.2.2 dev eth0" "$TMP/cfg.out"; then
  ok "eth0 has 10.0.2.15/24 and the default route is via 10.0.2.2"
else not_ok "eth0 address and default route" "$(head -20 "$TMP/cfg.out")"; fi
if grep -qx "nameserver 10.0.2.3" "$TMP/cfg.out" && grep -qP "^127.0.0.1\tlocalhost$" "$TMP/cfg.out" &&
  grep -qP "^10.0.2.15\tnet1$" "$TMP/cfg.out"; then
  ok "init wrote the guest's resolv.conf (10.0.2.3) and hosts"
else not_ok "init wrote the guest's resolv.conf and hosts" "$(head -20 "$TMP/cfg.out")"; fi

# busybox httpd in the guest, reached from the host through the published port.
mkdir -p "$B/srv"
bundle "$B/srv" sh -c 'mkdir -p /www && head -c 67108864 /dev/zero >/www/big && echo "hello from the guest" >/www/index.html && exec httpd -f -p 8080 -h /www'
check "a detached httpd container starts" bash -c "'$RUNMCTL' run --vm net1 -d --id srv --bundle '$B/srv' >/dev/null"
if wait_until 30 curl -sf -o "$TMP/index.out" "http://127.0.0.1:$PUB/index.html" &&
  [ "$(cat "$TMP/index.out")" = "hello from the guest" ]; then
  ok "the host fetches a page from busybox httpd in the guest through 127.0.0.1:$PUB"
else
  not_ok "the host fetches a page through the published port" "$(cat "$TMP/index.out" 2>/dev/null)"
fi
if ! curl -sf -m 3 -o /dev/null "http://127.0.0.2:$PUB/index.html"; then
  ok "the published port is bound to 127.0.0.1 only"
else not_ok "the published port is bound to 127.0.0.1 only"; fi

# A port in use: QEMU of net1 holds $PUB. The start fails before any VM
# runs, names the port, and leaves nothing.
out=$("$RUNMCTL" vm start --id net2 --publish "$PUB:80" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "publish 127.0.0.1:$PUB->80/tcp: host port 127.0.0.1:$PUB/tcp: Address already in use" <<<"$out" &&
  vm_gone net2; then
  ok "a host port in use fails the start clearly and leaves nothing"
else not_ok "a host port in use fails the start clearly" "exit $rc: $out"; fi

# ---- figures: throughput both ways (64 MiB) and latency ------------------
t0=$(now_ms)
bytes=$(curl -sf "http://127.0.0.1:$PUB/big" | wc -c)
t1=$(now_ms)
if [ "$bytes" = 67108864 ]; then
  ok "64 MiB download through the published port arrives whole"
  echo "# throughput, the host downloads from the guest (busybox httpd, published port): 64 MiB in $((t1 - t0)) ms = $(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", 64 * 1000 / ms }') MiB/s"
else not_ok "64 MiB download through the published port" "got $bytes bytes"; fi
t0=$(now_ms)
n=0
for i in $(seq 20); do curl -sf -o /dev/null "http://127.0.0.1:$PUB/index.html" && n=$((n + 1)); done
t1=$(now_ms)
echo "# latency, host to guest: $n/20 HTTP requests (curl, new connection and httpd fork each), $(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 20 }') ms each"
# Round trips on one TCP connection: 1 byte to `nc -e cat` in the guest and back.
bundle "$B/echo" nc -l -p 7000 -e cat
"$RUNMCTL" run --vm net1 -d --id echo --bundle "$B/echo" >/dev/null
rtt=$($PY - "$ECHO" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"x")
        if s.recv(1) == b"x":
            break
    except OSError:
        pass
    time.sleep(0.1)
else:
    print("none")
    sys.exit(0)
t = time.monotonic()
for _ in range(200):
    s.sendall(b"y")
    s.recv(1)
print("%.2f" % ((time.monotonic() - t) * 1000 / 200))
PY
)
if [ "$rtt" != none ] && [ -n "$rtt" ]; then
  ok "TCP round trips through a published port"
  echo "# latency, host to guest and back on one TCP connection (published port, nc -e cat): $rtt ms"
else not_ok "TCP round trips through a published port" "no echo on 127.0.0.1:$ECHO"; fi
"$RUNMCTL" kill --vm net1 echo KILL >/dev/null 2>&1
"$RUNMCTL" wait --vm net1 echo >/dev/null 2>&1
"$RUNMCTL" delete --vm net1 echo >/dev/null 2>&1
head -c 67108864 /dev/zero >"$TMP/www/big"
bundle "$B/pull" sh -c "a=\$(cut -d' ' -f1 /proc/uptime); wget -q -O - http://10.0.2.2:$BB_PORT/big | wc -c; b=\$(cut -d' ' -f1 /proc/uptime); echo \"\$a \$b\";
  a=\$(cut -d' ' -f1 /proc/uptime); i=0; while [ \$i -lt 20 ]; do wget -q -O /dev/null http://10.0.2.2:$BB_PORT/hello.txt; i=\$((i+1)); done; b=\$(cut -d' ' -f1 /proc/uptime); echo \"\$a \$b\""
R run --bundle "$B/pull" >"$TMP/pull.out" 2>&1
if [ "$(sed -n 1p "$TMP/pull.out")" = 67108864 ]; then
  ok "64 MiB download from the host arrives whole in the guest"
  sed -n 2p "$TMP/pull.out" | awk '{ printf "# throughput, the guest downloads from the host (busybox httpd via 10.0.2.2): 64 MiB in %d ms = %.1f MiB/s\n", ($2-$1)*1000, 64/($2-$1) }'
  sed -n 3p "$TMP/pull.out" | awk '{ printf "# latency, guest to host: 20 HTTP requests (wget fork each), %.1f ms each\n", ($2-$1)*1000/20 }'
else not_ok "64 MiB download from the host" "$(head -c 300 "$TMP/pull.out")"; fi
rm -f "$TMP/www/big"

check "kill the httpd container" bash -c "'$RUNMCTL' kill --vm net1 srv KILL >/dev/null"
R wait srv >/dev/null 2>&1
check "delete the httpd container" bash -c "'$RUNMCTL' delete --vm net1 srv >/dev/null"
check "vm stop net1" bash -c "'$RUNMCTL' vm stop net1 >/dev/null"
if wait_until 10 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$PUB/"; then
  ok "the published port is released with the VM"
else not_ok "the published port is released with the VM"; fi

# ---- the default: no host loopback, no link-local --------------------------
if "$RUNMCTL" vm start --id net3 --share "$TMP" >/dev/null 2>"$TMP/start3.err"; then
  ok "vm start without --host-loopback"
  bundle "$B/noloop" sh -c "timeout 10 wget -q -O - http://10.0.2.2:$HOST_PORT/hello.txt; echo rc=\$?; timeout 10 wget -q -O - http://169.254.169.254/ 2>&1; echo rc=\$?"
  "$RUNMCTL" run --vm net3 --bundle "$B/noloop" >"$TMP/noloop.out" 2>&1
  if [ "$(grep -c "^rc=[1-9]" "$TMP/noloop.out")" = 2 ] && ! grep -qF "$(head -c 40 "$TMP/www/hello.txt")" "$TMP/noloop.out"; then
    ok "by default the guest reaches neither the host's 127.0.0.1 (10.0.2.2) nor 169.254.169.254"
  else not_ok "by default the guest reaches neither the host's 127.0.0.1 nor 169.254.169.254" "$(head -c 400 "$TMP/noloop.out")"; fi
  check "vm stop net3" bash -c "'$RUNMCTL' vm stop net3 >/dev/null"
else not_ok "vm start without --host-loopback" "$(cat "$TMP/start3.err")"; fi

# ---- --net none: lo only, fast and clean --------------------------------
t0=$(now_ms)
if "$RUNMCTL" vm start --id net0 --share "$TMP" --net none >/dev/null 2>"$TMP/start0.err"; then
  ok "vm start --net none ($(($(now_ms) - t0)) ms)"
  info=$("$RUNMCTL" info net0 2>&1)
  if grep -qF "network:     none (lo only)" <<<"$info"; then ok "info says none (lo only)"; else
    not_ok "info says none (lo only)" "$(grep -i network <<<"$info")"; fi
  bundle "$B/none" sh -c 'cat /proc/net/dev | grep -c "eth0:"; wget -q -T 2 -O - http://10.0.2.2:1/ 2>&1 | head -1'
  "$RUNMCTL" run --vm net0 --bundle "$B/none" >"$TMP/none.out" 2>&1
  if [ "$(sed -n 1p "$TMP/none.out")" = 0 ] && ! grep -qi "connection refused" "$TMP/none.out"; then
    ok "--net none: no eth0, no route out"
  else not_ok "--net none: no eth0" "$(cat "$TMP/none.out")"; fi
  if ! grep -q "network setup failed" "$RUNM_STATE_DIR/vm/net0/console.log"; then
    ok "--net none boots without network errors"
  else not_ok "--net none boots without network errors" "$(grep network "$RUNM_STATE_DIR/vm/net0/console.log")"; fi
  check "vm stop net0" bash -c "'$RUNMCTL' vm stop net0 >/dev/null"
else
  not_ok "vm start --net none" "$(cat "$TMP/start0.err")"
fi

# ---- the guest's keys: address, servers and interface from the command line
if "$RUNMCTL" vm start --id netkeys --share "$TMP" --host-loopback \
  --append "runm.net.ip=10.0.2.20/24 runm.net.dns=10.0.2.3,192.0.2.53 runm.net.mac=52:54:00:12:34:56" \
  >/dev/null 2>"$TMP/startkeys.err"; then
  info=$("$RUNMCTL" info netkeys 2>&1)
  if grep -qF "network:     user: eth0 10.0.2.20/24 via 10.0.2.2, dns 10.0.2.3,192.0.2.53" <<<"$info"; then
    ok "runm.net.ip, runm.net.dns and runm.net.mac are honoured"
  else not_ok "runm.net.ip, runm.net.dns and runm.net.mac are honoured" "$(grep -i network <<<"$info")"; fi
  bundle "$B/keys" sh -c "wget -q -O - http://10.0.2.2:$HOST_PORT/hello.txt"
  "$RUNMCTL" run --vm netkeys --bundle "$B/keys" >"$TMP/keys.out" 2>&1
  if cmp -s "$TMP/keys.out" "$TMP/www/hello.txt"; then ok "the guest at 10.0.2.20 reaches the host too"; else
    not_ok "the guest at 10.0.2.20 reaches the host" "$(head -c 300 "$TMP/keys.out")"; fi
  check "vm stop netkeys" bash -c "'$RUNMCTL' vm stop netkeys >/dev/null"
else
  not_ok "vm start with runm.net.* keys" "$(cat "$TMP/startkeys.err")"
fi

# ---- a broken network config: loud, and the service still answers -------
if "$RUNMCTL" vm start --id netbad --append "runm.net.ip=10.0.2.999/24" >/dev/null 2>"$TMP/startbad.err"; then
  ok "a VM with a bad runm.net.ip still boots and serves"
  info=$("$RUNMCTL" info netbad 2>&1)
  if grep -qF "network:     error: runm.net.ip \`10.0.2.999\` is not an IPv4 address" <<<"$info"; then
    ok "runmctl info reports the network error"
  else not_ok "runmctl info reports the network error" "$(grep -i network <<<"$info")"; fi
  if grep -qF "network setup failed: runm.net.ip" "$RUNM_STATE_DIR/vm/netbad/console.log"; then
    ok "the console says so at error level"
  else not_ok "the console says so" "$(tail -5 "$RUNM_STATE_DIR/vm/netbad/console.log")"; fi
  check "vm stop netbad" bash -c "'$RUNMCTL' vm stop netbad >/dev/null"
else
  not_ok "a VM with a bad runm.net.ip still boots" "$(cat "$TMP/startbad.err")"
fi
if "$RUNMCTL" vm start --id netmac --append "runm.net.mac=52:54:00:00:00:01" >/dev/null 2>"$TMP/startmac.err"; then
  info=$("$RUNMCTL" info netmac 2>&1)
  if grep -qF "network:     error: no network interface with MAC 52:54:00:00:00:01" <<<"$info"; then
    ok "a MAC that matches no interface is reported"
  else not_ok "a MAC that matches no interface is reported" "$(grep -i network <<<"$info")"; fi
  check "vm stop netmac" bash -c "'$RUNMCTL' vm stop netmac >/dev/null"
else
  not_ok "a VM with a wrong runm.net.mac still boots" "$(cat "$TMP/startmac.err")"
fi

leak_checks
finish

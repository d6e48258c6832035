#!/bin/bash
# Networking end to end, with the real containerd 1.6 and ctr and runm's
# runtime (docs/networking.md): with io.runm.host-loopback=true a container
# fetches a page from an HTTP server on the host (127.0.0.1:P is 10.0.2.2:P
# in the VM), without it it cannot; the host
# fetches a page from busybox httpd in a container through a port published
# with the io.runm.ports annotation; a bad annotation and a host port in
# use fail the create with a clear error and leave nothing behind; the
# container sees DNS config; and nothing is left afterwards.
#
#   bash test/e2e/test_net.sh
#   RUNM_E2E_CASES='fetch|publish' bash test/e2e/test_net.sh   # a subset (regex)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rcnet ${RUNM_CTRD_NS:-runm-net} 90
RT=io.containerd.runm.v1
PY=/usr/bin/python3
PIDS=()
IDS=()

net_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap net_cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
want_case() { [[ "$1" =~ $CASES ]]; }

our_qemus_for() { # ID: QEMUs of this suite, optionally naming ID
  local p
  for p in $(pids_mentioning qemu-system); do
    { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | head -1 | grep -q qemu-system || continue
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null || continue
    [ -z "${1:-}" ] || grep -qaF -- "$1" "/proc/$p/cmdline" 2>/dev/null || continue
    echo "$p"
  done
}
shims_for() { # ID
  local p
  for p in $(pids_mentioning "$SOCK"); do
    { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | head -1 | grep -q 'containerd-shim-' || continue
    [ -z "${1:-}" ] || grep -qaF -- "$1" "/proc/$p/cmdline" 2>/dev/null || continue
    echo "$p"
  done
}
mounts_under() {
  awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts
}
runm_state_left() {
  find "$RUNM_STATE_DIR" -mindepth 1 \
    -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null
}
# What container ID may have left: "" when nothing.
leftovers_of() { # ID
  local x="" id=$1
  CTR task ls -q 2>/dev/null | grep -qx "$id" && x+=" task"
  CTR containers ls -q 2>/dev/null | grep -qx "$id" && x+=" container"
  [ -n "$(shims_for "$id")" ] && x+=" shim"
  [ -n "$(our_qemus_for "$id")" ] && x+=" qemu"
  mounts_under | grep -qF "/$id" && x+=" mount"
  compgen -G "$RUNM_STATE_DIR/vm/*$id*" >/dev/null && x+=" vm-dir"
  [ -d "$RUNM_CTRD_DIR/state/io.containerd.runtime.v2.task/$NS/$id" ] && x+=" bundle"
  echo "$x"
}
nothing_left() { [ -z "$(leftovers_of "$1")" ]; }
left_check() { # TITLE ID
  if wait_until 10 nothing_left "$2"; then ok "$1: nothing left behind"; else
    not_ok "$1: nothing left behind" "left:$(leftovers_of "$2")"; fi
}

# ---- setup ------------------------------------------------------------------

if [ ! -x "$RUNM_BIN/containerd-shim-runm-v1" ]; then
  not_ok "containerd-shim-runm-v1 is built" "missing: $RUNM_BIN/containerd-shim-runm-v1"
  finish
fi
e2e_start

mkdir -p "$TMP/www"
head -c 3000 /dev/urandom | base64 -w 76 >"$TMP/www/hello.txt"
HOST_PORT=$(free_port)
(cd "$TMP/www" && exec $PY -m http.server --bind 127.0.0.1 "$HOST_PORT" >"$TMP/http.log" 2>&1) &
PIDS+=($!)
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$HOST_PORT/hello.txt" ||
  { not_ok "host HTTP server on 127.0.0.1:$HOST_PORT"; finish; }

# ---- cases ------------------------------------------------------------------

# A container fetches a page from the host's 127.0.0.1 (10.0.2.2 in the VM).
if want_case fetch; then
  ID=net-fetch IDS+=("$ID")
  t0=$(now_ms)
  TCTR run --rm --runtime "$RT" --annotation io.runm.host-loopback=true "$IMAGE" "$ID" \
    wget -q -O - "http://10.0.2.2:$HOST_PORT/hello.txt" </dev/null >"$TMP/fetch.out" 2>"$TMP/fetch.err"
  rc=$?
  if [ $rc -eq 0 ] && cmp -s "$TMP/fetch.out" "$TMP/www/hello.txt"; then
    ok "with io.runm.host-loopback=true a container fetches a page from an HTTP server on the host ($(($(now_ms) - t0)) ms)"
  else
    not_ok "a container fetches a page from an HTTP server on the host" "exit $rc" \
      "stdout: $(head -c 200 "$TMP/fetch.out")" "stderr: $(head -c 400 "$TMP/fetch.err")"
  fi
  if grep -q '"GET /hello.txt HTTP/1.1" 200' "$TMP/http.log"; then
    ok "the host server logged the container's request"
  else not_ok "the host server logged the container's request" "$(tail -3 "$TMP/http.log")"; fi
  left_check "fetch" "$ID"
  # The default, as Docker's: the host's loopback is not the container's.
  ID=net-noloop IDS+=("$ID")
  TCTR run --rm --runtime "$RT" "$IMAGE" "$ID" sh -c \
    "timeout 10 wget -q -O - http://10.0.2.2:$HOST_PORT/hello.txt; echo rc=\$?" </dev/null >"$TMP/noloop.out" 2>&1
  if grep -q "^rc=[1-9]" "$TMP/noloop.out" && ! grep -qF "$(head -c 40 "$TMP/www/hello.txt")" "$TMP/noloop.out"; then
    ok "by default a container does not reach the host's 127.0.0.1 as 10.0.2.2"
  else not_ok "by default a container does not reach the host's 127.0.0.1" "$(head -c 300 "$TMP/noloop.out")"; fi
  left_check "no loopback" "$ID"
fi

# busybox httpd in a container, reached from the host through a published port.
if want_case publish; then
  ID=net-publish IDS+=("$ID")
  PUB=$(free_port)
  TCTR run -d --runtime "$RT" --annotation "io.runm.ports=127.0.0.1:$PUB:8080" "$IMAGE" "$ID" \
    sh -c 'mkdir -p /www && echo "hello from the container" >/www/index.html && exec httpd -f -p 8080 -h /www' \
    </dev/null >"$TMP/pub.out" 2>"$TMP/pub.err"
  rc=$?
  if [ $rc -eq 0 ] && wait_until 30 curl -sf -o "$TMP/pub.page" "http://127.0.0.1:$PUB/index.html" &&
    [ "$(cat "$TMP/pub.page")" = "hello from the container" ]; then
    ok "the host fetches a page from busybox httpd in the container through 127.0.0.1:$PUB"
  else
    not_ok "the host fetches a page through a published port" "exit $rc" "$(cat "$TMP/pub.err")" \
      "page: $(cat "$TMP/pub.page" 2>/dev/null)"
  fi
  # A second create on the same host port fails while the first holds it.
  ID2=net-inuse IDS+=("$ID2")
  TCTR run --rm --runtime "$RT" --annotation "io.runm.ports=$PUB:80" "$IMAGE" "$ID2" true \
    </dev/null >"$TMP/inuse.out" 2>"$TMP/inuse.err"
  rc=$?
  if [ $rc -ne 0 ] && grep -qF "publish 127.0.0.1:$PUB->80/tcp: host port 127.0.0.1:$PUB/tcp: Address already in use" "$TMP/inuse.err"; then
    ok "a port held by another runm container fails the create clearly"
  else not_ok "a port held by another runm container fails the create clearly" "exit $rc: $(cat "$TMP/inuse.err")"; fi
  left_check "port in use (runm)" "$ID2"
  TCTR task kill -s KILL "$ID" >/dev/null 2>&1
  wait_until 30 bash -c "ctr --address '$SOCK' --namespace '$NS' task ls | awk '\$1 == \"$ID\" { print \$3 }' | grep -qx STOPPED"
  TCTR task delete "$ID" >/dev/null 2>&1
  TCTR containers rm "$ID" >/dev/null 2>&1
  if wait_until 10 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$PUB/"; then
    ok "the published port is released with the task"
  else not_ok "the published port is released with the task"; fi
  left_check "publish" "$ID"
fi

# Bad annotations: the create fails naming the annotation and the entry.
if want_case badann; then
  i=0
  for pair in "8080:80/sctp|entry \`8080:80/sctp\`: protocol \`sctp\` is not tcp or udp" \
    "8080|entry \`8080\`: expected [HOSTADDR:]HOSTPORT:GUESTPORT" \
    "8080:80,8080:81|entry \`8080:81\`: host port 127.0.0.1:8080/tcp is already published (127.0.0.1:8080->80/tcp)" \
    "99999:80|entry \`99999:80\`: host port 99999 is not a number 1-65535"; do
    spec=${pair%%|*} want=${pair#*|}
    i=$((i + 1))
    ID=net-bad$i IDS+=("$ID")
    TCTR run --rm --runtime "$RT" --annotation "io.runm.ports=$spec" "$IMAGE" "$ID" true \
      </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
    rc=$?
    if [ $rc -ne 0 ] && grep -qF "annotation io.runm.ports: $want" "$TMP/bad.err"; then
      ok "annotation io.runm.ports=$spec fails the create clearly"
    else not_ok "annotation io.runm.ports=$spec fails the create clearly" "exit $rc: $(cat "$TMP/bad.err")"; fi
    left_check "bad annotation $spec" "$ID"
  done
  ID=net-badnet IDS+=("$ID")
  TCTR run --rm --runtime "$RT" --annotation "io.runm.net=bridge" "$IMAGE" "$ID" true \
    </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
  rc=$?
  if [ $rc -ne 0 ] && grep -qF "annotation io.runm.net: network mode \`bridge\` is not user, none or tap" "$TMP/bad.err"; then
    ok "annotation io.runm.net=bridge fails the create clearly"
  else not_ok "annotation io.runm.net=bridge fails the create clearly" "exit $rc: $(cat "$TMP/bad.err")"; fi
  left_check "bad io.runm.net" "$ID"
fi

# A host port some other program holds.
if want_case inuse; then
  ID=net-busy IDS+=("$ID")
  BUSY=$(free_port)
  : >"$TMP/busy.out"
  $PY -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(1); print("ready", flush=True); time.sleep(600)' "$BUSY" >"$TMP/busy.out" &
  PIDS+=($!)
  wait_until 10 grep -q ready "$TMP/busy.out"
  TCTR run --rm --runtime "$RT" --annotation "io.runm.ports=$BUSY:80" "$IMAGE" "$ID" true \
    </dev/null >"$TMP/busy.run.out" 2>"$TMP/busy.err"
  rc=$?
  if [ $rc -ne 0 ] && grep -qF "host port 127.0.0.1:$BUSY/tcp: Address already in use" "$TMP/busy.err"; then
    ok "a host port in use fails the create clearly"
  else not_ok "a host port in use fails the create clearly" "exit $rc: $(cat "$TMP/busy.err")"; fi
  left_check "host port in use" "$ID"
fi

# DNS: what /etc/resolv.conf the container sees.
if want_case dns; then
  ID=net-dns IDS+=("$ID")
  TCTR run --rm --runtime "$RT" "$IMAGE" "$ID" cat /etc/resolv.conf </dev/null >"$TMP/dns1.out" 2>"$TMP/dns1.err"
  if grep -qx "nameserver 10.0.2.3" "$TMP/dns1.out"; then
    ok "no resolv.conf in the spec: the container gets nameserver 10.0.2.3"
  else not_ok "no resolv.conf in the spec: the container gets nameserver 10.0.2.3" \
    "stdout: $(cat "$TMP/dns1.out")" "stderr: $(cat "$TMP/dns1.err")"; fi
  printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.test\n' >"$TMP/stub-resolv.conf"
  TCTR run --rm --runtime "$RT" --mount "type=bind,src=$TMP/stub-resolv.conf,dst=/etc/resolv.conf,options=rbind:ro" \
    "$IMAGE" "$ID" cat /etc/resolv.conf </dev/null >"$TMP/dns2.out" 2>"$TMP/dns2.err"
  if [ "$(cat "$TMP/dns2.out")" = $'nameserver 10.0.2.3\noptions edns0 trust-ad\nsearch example.test' ]; then
    ok "a resolv.conf naming 127.0.0.53 is rewritten to 10.0.2.3, options and search kept"
  else not_ok "a resolv.conf naming 127.0.0.53 is rewritten" "stdout: $(cat "$TMP/dns2.out")" "stderr: $(cat "$TMP/dns2.err")"; fi
  if [ "$(cat "$TMP/stub-resolv.conf")" = $'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.test' ]; then
    ok "the host's resolv.conf file is untouched"
  else not_ok "the host's resolv.conf file is untouched"; fi
  printf 'nameserver 192.0.2.53\n' >"$TMP/real-resolv.conf"
  TCTR run --rm --runtime "$RT" --mount "type=bind,src=$TMP/real-resolv.conf,dst=/etc/resolv.conf,options=rbind:ro" \
    "$IMAGE" "$ID" cat /etc/resolv.conf </dev/null >"$TMP/dns3.out" 2>"$TMP/dns3.err"
  if [ "$(cat "$TMP/dns3.out")" = "nameserver 192.0.2.53" ]; then
    ok "a resolv.conf naming a reachable server is used as it is"
  else not_ok "a resolv.conf naming a reachable server is used as it is" "stdout: $(cat "$TMP/dns3.out")" "stderr: $(cat "$TMP/dns3.err")"; fi
  # A lookup through slirp's forwarder reaches the host's resolver; what it
  # answers depends on the host (no internet here): informative only.
  TCTR run --rm --runtime "$RT" "$IMAGE" "$ID" nslookup localhost 10.0.2.3 </dev/null >"$TMP/dns4.out" 2>&1
  echo "# nslookup localhost via 10.0.2.3: $(grep -c '^Address' "$TMP/dns4.out") address lines (informative)"
  left_check "dns" "$ID"
fi

# ---- leak checks ------------------------------------------------------------

x=$(CTR task ls -q 2>&1)
if [ -z "$x" ]; then ok "ctr task ls is empty"; else not_ok "ctr task ls is empty" $x; fi
x=$(CTR containers ls -q 2>&1)
if [ -z "$x" ]; then ok "ctr containers ls is empty"; else not_ok "ctr containers ls is empty" $x; fi
x=$(our_qemus_for)
if [ -z "$x" ]; then ok "no QEMU process"; else not_ok "no QEMU process" "pids: $x"; fi
x=$(shims_for)
if [ -z "$x" ]; then ok "no shim process"; else not_ok "no shim process" "pids: $x"; fi
x=$(mounts_under)
if [ -z "$x" ]; then ok "no mount under containerd's or runm's dirs"; else not_ok "no mount left" $x; fi
x=$(runm_state_left)
if [ -z "$x" ]; then ok "runm state dir empty"; else not_ok "runm state dir empty" $x; fi
finish

#!/bin/bash
# The VM pool (docs/pool.md) through containerd and ctr: a task takes a
# pre-booted VM, gets its own clock, entropy, hostname and shares, a task that
# does not fit boots its own VM, spares end on idle timeout and SIGTERM, a
# malformed claim is refused, and nothing is left behind.
# RUNM_E2E_VM_BACKEND=libvirt: the spares are libvirt domains on a private
# embed root (docs/libvirt.md, "The pool and pods"); then also no domain.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHIM=$RUNM_BIN/containerd-shim-runm-v1
e2e_init rp runm-pool 90
RT=io.containerd.runm.v1

. "$ROOT/test/e2e/lib_libvirt.sh"
lv_embed_from_env pool
pool_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  for p in $(idle_shims); do kill -9 "$p" 2>/dev/null; done
  [ -z "$LV_ROOT" ] || rm -rf "$LV_ROOT"
  cleanup
}
trap pool_cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
pool_dir() { echo "$RUNM_STATE_DIR/pool"/*; }
ready_spares() { ls "$RUNM_STATE_DIR"/pool/*/*.sock 2>/dev/null | wc -l; }
has_ready_spare() { [ "$(ready_spares)" -ge 1 ]; }
# Idle shims of this test: `... pool` with our state dir in their environment.
idle_shims() {
  local p
  for p in $(pgrep -f 'containerd-shim-runm-v1' 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | tail -1 | grep -qx pool || continue
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "RUNM_STATE_DIR=$RUNM_STATE_DIR" && echo "$p"
  done
}
no_idle_shims() { [ -z "$(idle_shims)" ]; }
no_qemus() { [ -z "$(our_qemus)" ]; }
our_mounts() { awk -v b="$RUNM_STATE_DIR/" 'index($2, b) == 1 { print $2 }' /proc/mounts; }

# ---- setup ------------------------------------------------------------------
mkdir -p "$TMP/vol/ro" "$TMP/vol/rw"
echo "read me" >"$TMP/vol/ro/file"
if RUNM_POOL_SIZE=1 RUNM_POOL_IDLE_TIMEOUT=300 bash "$ENV" start; then ok "private containerd starts with pool_size 1"; else
  not_ok "private containerd starts with pool_size 1"; finish; fi
if bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" >/dev/null &&
  CTR images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null; then
  ok "busybox image imported"
else
  not_ok "busybox image imported"; finish
fi

# ---- a cold task fills the pool ----------------------------------------------
t0=$(now_ms)
out=$(TCTR run --rm --runtime $RT "$IMAGE" cold1 echo cold 2>&1)
cold_ms=$(($(now_ms) - t0))
if [ "$out" = cold ]; then ok "first task runs cold ($cold_ms ms)"; else not_ok "first task runs cold" "out: $out"; fi
if wait_until 60 has_ready_spare; then ok "a spare VM is ready in the pool"; else
  not_ok "a spare VM is ready in the pool" "$(ls -la "$RUNM_STATE_DIR"/pool/* 2>&1; cat "$RUNM_STATE_DIR"/pool/*/last-error 2>/dev/null)"; fi
spare_qemu=$(our_qemus)

# ---- a warm task takes it ------------------------------------------------------
t0=$(now_ms)
if TCTR run -d --runtime $RT --mount "type=bind,src=$TMP/vol/ro,dst=/ro,options=rbind:ro" \
  --mount "type=bind,src=$TMP/vol/rw,dst=/rw,options=rbind:rw" "$IMAGE" warm1 sleep 600 >/dev/null 2>&1; then
  ok "warm task created and started ($(($(now_ms) - t0)) ms)"
else
  not_ok "warm task created and started"
fi
# The task's VM id: the shim's name for NS/warm1.
VMID=$("$RUNM_BIN/containerd-shim-runm-v1" -namespace "$NS" -id warm1 vm-id)
info=$RUNM_STATE_DIR/vm/$VMID/vm.info
if grep -q '^qemu_name=runm-pool_' "$info" 2>/dev/null && grep -q '^owner=shim$' "$info"; then
  ok "the task's VM came from the pool, renamed to $VMID"
else
  not_ok "the task's VM came from the pool" "$(cat "$info" 2>&1)"
fi
qpid=$(sed -n 's/^qemu_pid=//p' "$info" 2>/dev/null)
if [ -n "$qpid" ] && [ "$qpid" = "$spare_qemu" ]; then ok "it is the spare that was booted ahead"; else
  not_ok "it is the spare that was booted ahead" "spare $spare_qemu, task $qpid"; fi
# Field 19 (nice), counted after the name: a thread's name may hold spaces
# (libvirt's QEMU names its threads, e.g. "CPU 0/TCG").
nices=$(for t in /proc/"$qpid"/task/*/stat; do sed 's/.*) //' "$t" | awk '{print $17}'; done 2>/dev/null | sort -u | tr '\n' ' ')
if [ "$nices" = "0 " ]; then ok "the claimed VM runs at normal priority"; else not_ok "the claimed VM runs at normal priority" "nice: $nices"; fi
out=$(TCTR task exec --exec-id e1 warm1 hostname 2>&1)
if [ "$out" = "$VMID" ]; then ok "hostname is the task's VM id"; else not_ok "hostname is the task's VM id" "got: $out"; fi
host_now=$(date +%s)
guest_now=$(TCTR task exec --exec-id e2 warm1 date +%s 2>&1)
if [[ "$guest_now" =~ ^[0-9]+$ ]] && [ $((guest_now - host_now)) -le 5 ] && [ $((host_now - guest_now)) -le 5 ]; then
  ok "guest clock set at claim (host $host_now, guest $guest_now)"
else
  not_ok "guest clock set at claim" "host $host_now, guest $guest_now"
fi
out=$(TCTR task exec --exec-id e3 warm1 cat /ro/file 2>&1)
if [ "$out" = "read me" ]; then ok "ro volume readable"; else not_ok "ro volume readable" "got: $out"; fi
out=$(TCTR task exec --exec-id e4 warm1 sh -c 'echo x > /ro/new' 2>&1)
if [ -n "$out" ] && [ ! -e "$TMP/vol/ro/new" ]; then ok "ro volume refuses writes ($out)"; else
  not_ok "ro volume refuses writes" "out: $out"; fi
TCTR task exec --exec-id e5 warm1 sh -c 'echo from-guest > /rw/out' >/dev/null 2>&1
if [ "$(cat "$TMP/vol/rw/out" 2>/dev/null)" = from-guest ]; then ok "rw volume write reaches the host"; else
  not_ok "rw volume write reaches the host"; fi
out=$(TCTR task exec --exec-id e6 warm1 sh -c 'echo hi > /tmp/f && cat /tmp/f && ls /' 2>&1)
if echo "$out" | grep -qx hi && echo "$out" | grep -qx bin; then ok "rootfs is the image, writable"; else
  not_ok "rootfs is the image, writable" "$out"; fi
if wait_until 60 has_ready_spare; then ok "the pool is refilled after a claim"; else not_ok "the pool is refilled after a claim"; fi
TCTR task kill -s KILL warm1 >/dev/null 2>&1
wait_until 20 bash -c "ctr --address '$SOCK' -n '$NS' task ls 2>/dev/null | awk '\$1 == \"warm1\" && \$3 == \"STOPPED\"' | grep -q ."
TCTR task delete warm1 >/dev/null 2>&1
TCTR container delete warm1 >/dev/null 2>&1
if [ -n "$VMID" ] && [ ! -e "$RUNM_STATE_DIR/vm/$VMID" ] && [ ! -e "$RUNM_STATE_DIR/shares/$VMID" ] && ! kill -0 "$qpid" 2>/dev/null; then
  ok "delete stops the claimed VM and removes its dir and share binds"
else
  not_ok "delete stops the claimed VM and removes its dir and share binds" "$(ls -la "$RUNM_STATE_DIR/shares" 2>&1)"
fi
# The refilled spare's share root (a read-only bind of itself) is its own.
task_mounts() { our_mounts | grep -v "^$RUNM_STATE_DIR/shares/pool_[0-9]*/x\$"; }
if [ -z "$(task_mounts)" ]; then ok "no bind of the task left under the state dir"; else not_ok "no bind of the task left under the state dir" "$(task_mounts)"; fi

# ---- warm run --rm, twice: each task gets its own VM -----------------------------
prev=""
for i in 1 2; do
  wait_until 60 has_ready_spare
  t0=$(now_ms)
  out=$(TCTR run --rm --runtime $RT "$IMAGE" warmrm$i cat /proc/sys/kernel/random/boot_id 2>&1)
  ms=$(($(now_ms) - t0))
  if [[ "$out" =~ ^[0-9a-f-]{36}$ ]] && [ "$out" != "$prev" ]; then ok "warm run --rm $i in $ms ms (cold was $cold_ms ms), own boot id"; else
    not_ok "warm run --rm $i, own boot id" "out: $out prev: $prev"; fi
  prev=$out
done

# ---- OCI hooks run on the host for a task on a pooled VM --------------------------
wait_until 60 has_ready_spare
spare_qemu=$(our_qemus)
mkdir -p "$TMP/hookout"
cat >"$TMP/hook.sh" <<'SH'
#!/bin/sh
cat >"$HOOK_OUT/$1.json"
SH
chmod 0755 "$TMP/hook.sh"
if bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" >/dev/null 2>&1 &&
  /usr/bin/python3 - "$TMP/bb" "$TMP/hook.sh" "$TMP/hookout" "$TMP/hookspec.json" <<'EOF'
import json, sys
bb, hook, out, dst = sys.argv[1:5]
c = json.load(open(bb + "/config.json"))
c["root"] = {"path": bb + "/rootfs", "readonly": True}
c["process"]["args"] = ["true"]
c["process"]["terminal"] = False
env = ["HOOK_OUT=" + out, "PATH=/usr/bin:/bin"]
c["hooks"] = {k: [{"path": hook, "args": ["hook.sh", k], "env": env}] for k in ("createRuntime", "poststop")}
# A pooled VM serves user networking only: hooks alone would choose the
# namespace mode (docs/networking.md).
c.setdefault("annotations", {})["io.runm.net"] = "user"
json.dump(c, open(dst, "w"))
EOF
then
  out=$(TCTR run --rm --runtime $RT --config "$TMP/hookspec.json" poolhook </dev/null 2>&1)
  rc=$?
  ids=$(for k in createRuntime poststop; do
    /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TMP/hookout/$k.json" 2>/dev/null; done | sort -u)
  if [ $rc -eq 0 ] && [ "$ids" = poolhook ]; then ok "hooks of a task on a pooled VM ran on the host (createRuntime, poststop)"; else
    not_ok "hooks of a task on a pooled VM ran on the host" "rc $rc out: $out ids: $ids"; fi
  if [ -n "$spare_qemu" ] && ! kill -0 "$spare_qemu" 2>/dev/null; then ok "the task with hooks took the spare"; else
    not_ok "the task with hooks took the spare" "spare $spare_qemu still runs"; fi
else
  not_ok "a spec with hooks for the pool case"
fi

# ---- a task that does not fit boots its own VM -----------------------------------
wait_until 60 has_ready_spare
out=$(TCTR run --rm --runtime $RT --memory-limit $((600 * 1024 * 1024)) "$IMAGE" big1 \
  sh -c 'grep MemTotal /proc/meminfo' 2>&1)
kb=$(echo "$out" | awk '{print $2}')
if [[ "$kb" =~ ^[0-9]+$ ]] && [ "$kb" -gt $((600 * 1024)) ]; then ok "a task bigger than a spare gets a VM of its size ($kb kB)"; else
  not_ok "a task bigger than a spare gets a VM of its size" "out: $out"; fi

# ---- a malformed claim is refused, the spare stays --------------------------------
wait_until 60 has_ready_spare
sock=$(ls "$RUNM_STATE_DIR"/pool/*/*.sock 2>/dev/null | head -1)
reply=$(/usr/bin/python3 - "$sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(b"only\0two\0")  # no fields enough, no socket attached
print(s.recv(256).decode())
EOF
)
if echo "$reply" | grep -q '^error:' && [ -S "$sock" ]; then ok "malformed claim refused ($reply), spare still offered"; else
  not_ok "malformed claim refused, spare still offered" "reply: $reply"; fi

# ---- idle shims end: SIGTERM, and idle timeout --------------------------------------
spares=$(idle_shims)
if [ -n "$spares" ]; then
  kill -TERM $spares
  if wait_until 20 no_idle_shims && wait_until 10 no_qemus; then ok "SIGTERM stops a spare and its VM"; else
    not_ok "SIGTERM stops a spare and its VM" "shims: $(idle_shims) qemus: $(our_qemus)"; fi
else
  not_ok "an idle shim to stop"
fi
bash "$ENV" stop >/dev/null 2>&1
( cd "$TMP" && RUNM_POOL_SIZE=1 RUNM_POOL_IDLE_TIMEOUT=2 timeout 60 "$SHIM" -namespace x -address "$TMP/none.sock" \
  -publish-binary /bin/true -id pool pool ) 2>"$TMP/idle.err"
rc=$?
if [ $rc -eq 0 ] && no_qemus && [ -z "$(ls "$RUNM_STATE_DIR"/pool/*/*.sock "$RUNM_STATE_DIR"/pool/*/*.boot 2>/dev/null)" ] &&
  [ -z "$(ls -A "$RUNM_STATE_DIR/shares" 2>/dev/null)" ] && [ -z "$(ls -A "$RUNM_STATE_DIR/vm" 2>/dev/null)" ]; then
  ok "an unclaimed spare stops itself after pool_idle_timeout and leaves nothing"
else
  not_ok "an unclaimed spare stops itself after pool_idle_timeout" "rc $rc; $(cat "$TMP/idle.err"); $(find "$RUNM_STATE_DIR" 2>&1 | head)"
fi
out=$(RUNM_POOL_SIZE=0 "$SHIM" -namespace x -address "$TMP/none.sock" -publish-binary /bin/true -id pool pool 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q "pool_size is 0"; then ok "pool mode without pool_size fails clearly ($out)"; else
  not_ok "pool mode without pool_size fails clearly" "$out"; fi
out=$(RUNM_POOL_SIZE=99 "$SHIM" -namespace x -address "$TMP/none.sock" -publish-binary /bin/true -id pool pool 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q "pool_size"; then ok "pool_size out of range fails clearly ($out)"; else
  not_ok "pool_size out of range fails clearly" "$out"; fi

# ---- nothing left ---------------------------------------------------------------------
if no_idle_shims; then ok "no idle shim left"; else not_ok "no idle shim left" "$(idle_shims)"; fi
if no_qemus; then ok "no QEMU left"; else not_ok "no QEMU left" "$(our_qemus)"; fi
if [ -z "$(our_mounts)" ]; then ok "no mount left"; else not_ok "no mount left" "$(our_mounts)"; fi
lv_embed_end_check
finish

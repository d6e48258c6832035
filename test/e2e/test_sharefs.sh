#!/bin/bash
# The share mode that is not the default (share_fs = virtiofs, Debian's
# virtiofsd; docs/performance.md, docs/security.md "virtio-fs shares") runs the
# basics, through the real containerd and ctr, with RUNM_SHARE_FS=virtiofs
# in the shims' environment:
#   - the rootfs and the volumes are virtio-fs mounts in the container, the
#     rootfs reads, an rw volume's write shows on the host, a ro volume
#     refuses writes (and nothing appears on the host);
#   - each share's virtiofsd runs sandboxed on the export dir, nothing else;
#   - the shim SIGKILLed: `shim delete` ends QEMU, virtiofsd ends with it;
#   - no virtiofsd binary (runtime io.containerd.runmnofsd.v1: a wrapper
#     shim with RUNM_VIRTIOFSD pointing nowhere): the create fails naming
#     it, and leaves nothing;
# then nothing is left (tasks, QEMU, shims, virtiofsd, state, mounts).
# RUNM_E2E_VM_BACKEND=libvirt: the same on libvirt domains (a private embed
# root; runm's virtiofsd, libvirt's QEMU connects: docs/libvirt.md); then
# also: the task's QEMU is a domain's, with vhost-user-fs, and no domain is
# left.
#   bash test/e2e/test_sharefs.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rsf ${RUNM_CTRD_NS:-runm-sharefs} 120
export RUNM_SHARE_FS=virtiofs
ID=sharefs-1

. "$ROOT/test/e2e/lib_libvirt.sh"
lv_embed_from_env sfs
sharefs_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  [ -z "$LV_ROOT" ] || rm -rf "$LV_ROOT"
  for p in $(our_fsds); do kill -KILL "$p" 2>/dev/null; done
  cleanup
}
trap sharefs_cleanup EXIT
trap 'exit 130' INT TERM HUP

# virtiofsd processes serving this test's state dir (their -o source=; the
# bracket keeps grep from finding itself).
our_fsds() {
  grep -lsa -- "[s]ource=$RUNM_STATE_DIR/" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }' |
    while read -r p; do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = virtiofsd ] && echo "$p"; done
}
no_fsd() { [ -z "$(our_fsds)" ]; }
# The long-lived shim serving container $1.
shim_of() {
  local p
  for p in $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
    { tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | awk -v id="$1" '
      NR == 1 && $0 !~ /containerd-shim-runm-v1$/ { exit 1 }
      prev == "-id" && $0 == id { found = 1 }
      $0 == "start" || $0 == "delete" { found = 0; exit }
      { prev = $0 }
      END { exit !found }' && echo "$p"
  done
}
EX() { TCTR task exec --exec-id "e$((++EXN))" "$ID" "$@"; }
EXN=0

mkdir -p "$TMP/bin"
printf '#!/bin/sh\nRUNM_VIRTIOFSD=%s exec "%s" "$@"\n' "$TMP/no-virtiofsd" "$RUNM_BIN/containerd-shim-runm-v1" \
  >"$TMP/bin/containerd-shim-runmnofsd-v1"
chmod +x "$TMP/bin/containerd-shim-runmnofsd-v1"
export PATH="$TMP/bin:$PATH"
e2e_start
mkdir -p "$TMP/rw" "$TMP/ro"
echo "host-ro-$$" >"$TMP/ro/f"
if TCTR run -d --runtime io.containerd.runm.v1 \
  --mount "type=bind,src=$TMP/rw,dst=/rw,options=rbind:rw" \
  --mount "type=bind,src=$TMP/ro,dst=/ro,options=rbind:ro" \
  "$IMAGE" "$ID" sleep 3600 </dev/null >"$TMP/run.out" 2>&1 && wait_until 60 status_is "$ID" RUNNING; then
  ok "virtiofs: a container with a rw and a ro volume runs"
else
  not_ok "virtiofs: a container with a rw and a ro volume runs" "$(tail -3 "$TMP/run.out")"
  finish
fi

m=$(EX awk '$2 == "/" || $2 == "/rw" || $2 == "/ro" { print $2, $3 }' /proc/mounts 2>&1 | sort | tr '\n' ' ')
if [ "$m" = "/ virtiofs /ro virtiofs /rw virtiofs " ]; then ok "rootfs and volumes are virtio-fs mounts"; else
  not_ok "rootfs and volumes are virtio-fs mounts" "mounts: $m"; fi

out=$(EX cat /etc/passwd /ro/f 2>&1)
if [ "$(echo "$out" | head -1)" = "root:x:0:0:root:/root:/bin/sh" ] && echo "$out" | grep -qx "host-ro-$$"; then
  ok "the rootfs and the ro volume read"; else not_ok "the rootfs and the ro volume read" "got: $out"; fi

EX sh -c "echo guest-$$ > /rw/g" >/dev/null 2>&1
if [ "$(cat "$TMP/rw/g" 2>/dev/null)" = "guest-$$" ]; then ok "a write to the rw volume shows on the host"; else
  not_ok "a write to the rw volume shows on the host" "host file: $(cat "$TMP/rw/g" 2>&1)"; fi

err=$(EX sh -c 'echo x > /ro/new' 2>&1)
rc=$?
if [ $rc -ne 0 ] && echo "$err" | grep -qi "read-only" && [ ! -e "$TMP/ro/new" ]; then
  ok "the ro volume refuses a write (EROFS), nothing on the host"; else
  not_ok "the ro volume refuses a write (EROFS), nothing on the host" "exit $rc: $err"; fi

if [ -n "$LV_ROOT" ]; then
  pid=$(CTR task ls 2>/dev/null | awk -v id="$ID" '$1 == id { print $2 }')
  args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
  if grep -q "guest=runm-" <<<"$args" && grep -q '"driver":"vhost-user-fs-device"' <<<"$args" &&
    grep -q "memory-backend-memfd" <<<"$args"; then
    ok "libvirt: the task's QEMU is a domain's, with vhost-user-fs on shared memfd RAM"; else
    not_ok "libvirt: the task's QEMU is a domain's, with vhost-user-fs on shared memfd RAM" "pid $pid: $(head -c 600 <<<"$args")"; fi
fi

# One virtiofsd (and its sandboxed worker) on the export dir, sandboxed, no xattr.
fsd=$(for p in $(our_fsds); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done | sort -u)
if [ "$(echo "$fsd" | wc -l)" -eq 1 ] && echo "$fsd" | grep -q "source=$RUNM_STATE_DIR/exports/[^ ]*/x " &&
  echo "$fsd" | grep -q "sandbox=namespace" && echo "$fsd" | grep -q "no_xattr"; then
  ok "virtiofsd serves only the export dir, sandbox=namespace, no_xattr"; else
  not_ok "virtiofsd serves only the export dir, sandbox=namespace, no_xattr" "$fsd"; fi

sp=$(shim_of "$ID")
if [ -n "$sp" ]; then
  kill -KILL "$sp"
  if wait_until 30 no_fsd && wait_until 30 test -z "$(our_qemus)"; then
    ok "shim SIGKILLed: QEMU and virtiofsd are gone"; else
    not_ok "shim SIGKILLed: QEMU and virtiofsd are gone" "qemu: $(our_qemus | tr '\n' ' ') virtiofsd: $(our_fsds | tr '\n' ' ')"; fi
else
  not_ok "found the shim of $ID"
fi
TCTR task delete -f "$ID" >/dev/null 2>&1
TCTR containers rm "$ID" >/dev/null 2>&1

err=$(TCTR run --rm --runtime io.containerd.runmnofsd.v1 "$IMAGE" sharefs-nofsd /bin/true 2>&1 </dev/null)
rc=$?
if [ $rc -ne 0 ] && echo "$err" | grep -q "share_fs = virtiofs needs virtiofsd at \`$TMP/no-virtiofsd\`"; then
  ok "no virtiofsd: the create fails naming it"; else
  not_ok "no virtiofsd: the create fails naming it" "exit $rc: $err"; fi
TCTR containers rm sharefs-nofsd >/dev/null 2>&1

x=$(CTR task ls -q; CTR containers ls -q)
if [ -z "$x" ]; then ok "no task or container left"; else not_ok "no task or container left" $x; fi
x=$(our_qemus; our_fsds)
if [ -z "$x" ]; then ok "no QEMU or virtiofsd left"; else not_ok "no QEMU or virtiofsd left" "pids: $x"; fi
x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" -o -path "$RUNM_STATE_DIR/exports" \) \) 2>/dev/null)
if [ -z "$x" ]; then ok "runm state dir empty (no socket, VM or export dir)"; else not_ok "runm state dir empty" $x; fi
x=$(awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" -v c="$TMP/" \
  'index($2, a) == 1 || index($2, b) == 1 || index($2, c) == 1 { print $2 }' /proc/mounts)
if [ -z "$x" ]; then ok "no mount left"; else not_ok "no mount left" $x; fi
e2e_stop_check
lv_embed_end_check
finish

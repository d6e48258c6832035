#!/bin/bash
# A hostile guest against what the host exports to it (issue 11: findings 1,
# 2, 12, 14, 16 and the pool claim; docs/security.md), through
# the real containerd 1.6 and ctr. "Root in the guest" is a --privileged
# runm container in the guest's pid namespace: every capability in the
# guest, the guest's own mounts through /proc/1/root, and its mount
# namespace through nsenter (with the image's static busybox copied there).
#   exports  every share (9p, or virtio-fs with RUNM_SHARE_FS=virtiofs) the
#            guest has is exactly the expected set (the
#            rootfs and one per volume, never the bundle); what it writes
#            where the bundle was (`work` -> a sentinel dir, a new
#            shim-binary-path, address) stays in the guest: the host bundle's
#            files are unchanged and the sentinel survives `ctr task delete`;
#            a single-file volume shows that file alone (siblings invisible,
#            an ro one unwritable); an ro dir volume stays ro even after a
#            remount in the guest; nothing can be created next to an export
#   pool     (pool_size 1) a pooled container's non-root user reads
#            /etc/resolv.conf; the guest cannot write into the pool share's
#            root, and symlinks it plants there or in its volume (pointing at
#            a host mount) are not followed by `shim delete`; after the hook
#            channel is cut, QEMU reconnects and a poststop hook still runs;
#            a claim with two fds leaks none, a silent claimer does not block
#            the next one
# Then: nothing left (tasks, QEMU, shims, mounts, state).
#   RUNM_BIN=build/bin bash test/e2e/test_hostile_exports.sh
#   RUNM_E2E_CASES=pool bash test/e2e/test_hostile_exports.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rx runm-hx 120
RT=io.containerd.runm.v1
PY=/usr/bin/python3

hx_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  umount "$TMP/sentmnt" 2>/dev/null
  cleanup
}
trap hx_cleanup EXIT
trap 'exit 130' INT TERM HUP

vmdir_of() { echo "$RUNM_STATE_DIR/vm/$("$RUNM_BIN/containerd-shim-runm-v1" -namespace "$NS" -id "$1" vm-id)"; }
bundle_of() { echo "$RUNM_CTRD_DIR/state/io.containerd.runtime.v2.task/$NS/$1"; }
stopped() { [ "$(task_status "$1")" = STOPPED ]; }
our_mounts() { awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts; }
# GX ID SCRIPT: SCRIPT as root in the container (privileged, in the
# guest's pid namespace). GN ID FILE: script FILE (on the host) as root in
# the guest's own mount namespace.
GX_N=0
GX() { GX_N=$((GX_N + 1)); TCTR task exec --exec-id "gx$GX_N" "$1" sh -c "$2" 2>&1 </dev/null; }
GN() {
  GX_N=$((GX_N + 1))
  TCTR task exec --exec-id "gx$GX_N" "$1" sh -c "cat >/proc/1/root/run/hx.sh; mkdir -p /proc/1/root/run/hxbin &&
    cp /bin/busybox /proc/1/root/run/hxbin/busybox && nsenter -t 1 -m /run/hxbin/busybox sh -c '
      /run/hxbin/busybox --install -s /run/hxbin; PATH=/run/hxbin; . /run/hx.sh'" \
    <"$2" 2>&1
}
# Privileged, and in the guest's pid namespace (runc resolves the path in the guest).
PRIV=(--privileged --with-ns "pid:/proc/1/ns/pid")
# Every file of a dir (not following links) with its type, mode, size and
# content hash, or link target: a fingerprint to compare.
fingerprint() {
  (cd "$1" && find . -xdev -printf '%p %y %m %s %l\n' | sort && find . -xdev -type f -print0 | sort -z |
    xargs -0r sha256sum) 2>&1
}
delete_task() { # ID
  TCTR task kill -s KILL "$1" >/dev/null 2>&1
  wait_until 30 stopped "$1"
  TCTR task delete "$1" >/dev/null 2>&1
  TCTR container delete "$1" >/dev/null 2>&1
}

# ---- fixtures ------------------------------------------------------------------
SENT=$TMP/sentinel            # stands for host /etc: must survive everything
mkdir -p "$SENT/sub" "$TMP/v/rodir" "$TMP/v/rwdir" "$TMP/v/files" "$TMP/sentmnt"
echo keep >"$SENT/keep"
echo keep2 >"$SENT/sub/keep2"
echo "ro data" >"$TMP/v/rodir/a"
echo "ro file" >"$TMP/v/files/rofile"
echo "rw file" >"$TMP/v/files/rwfile"
echo "secret" >"$TMP/v/files/secret" # a sibling of both files: never seen
# A host mount point that `shim delete` must never unmount.
mount -t tmpfs -o size=1m hxsentinel "$TMP/sentmnt" && echo mounted >"$TMP/sentmnt/m"
sent_fp=$(fingerprint "$SENT")
sent_ok() { [ "$(fingerprint "$SENT")" = "$sent_fp" ]; }
sentmnt_ok() { mountpoint -q "$TMP/sentmnt" && [ "$(cat "$TMP/sentmnt/m" 2>/dev/null)" = mounted ]; }

start_env() { # POOL_SIZE
  RUNM_POOL_SIZE=$1 RUNM_POOL_IDLE_TIMEOUT=300 bash "$ENV" start >/dev/null 2>&1 &&
    bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" >/dev/null 2>&1 &&
    CTR images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null 2>&1
}

# ---- exports: what the guest sees, and what it can do with it -------------------
case_exports() {
  local id=hx1 b gb out mps want fp_before fp_after
  if ! start_env 0; then not_ok "exports: private containerd and image"; return; fi
  if ! TCTR run -d "${PRIV[@]}" --runtime $RT \
    --mount "type=bind,src=$TMP/v/rodir,dst=/ro,options=rbind:ro" \
    --mount "type=bind,src=$TMP/v/rwdir,dst=/rw,options=rbind:rw" \
    --mount "type=bind,src=$TMP/v/files/rofile,dst=/rofile,options=rbind:ro" \
    --mount "type=bind,src=$TMP/v/files/rwfile,dst=/rwfile,options=rbind:rw" \
    "$IMAGE" $id sleep 600 >"$TMP/run.out" 2>&1; then
    not_ok "exports: privileged container with four volumes starts" "$(cat "$TMP/run.out")"; return
  fi
  b=$(bundle_of $id)
  fp_before=$(fingerprint "$b")

  # Every 9p share of the guest: the rootfs at <bundle>/rootfs, one per
  # volume and one for resolv.conf under /run/runm/exports, nothing else.
  # (virtio-fs announces the host mounts inside the share as submounts of
  # it, source "none", at /run/runm/share/N: the same export, not another
  # share.)
  mps=$(GX $id "awk '(\$3 == \"9p\" || \$3 == \"virtiofs\") && \$2 !~ /^\\/run\\/runm\\/share\\// { print \$2 }' /proc/1/mounts" | sort)
  want=$(printf '%s\n' /run/runm/share "$b/rootfs" /run/runm/exports/{1..5} | sort)
  tags=$(GX $id "awk '(\$3 == \"9p\" || \$3 == \"virtiofs\") && \$1 != \"none\" { print \$1 }' /proc/1/mounts | sort -u")
  root=$(GX $id "ls -A /proc/1/root/run/runm/share" | tr '\n' ' ')
  if [ "$mps" = "$want" ] && [ "$tags" = runm0 ] && [ "$root" = "0 1 2 3 4 5 " ]; then
    ok "exports: one 9p share (the export root: items 0-5), bound at the rootfs and 5 single items only"
  else
    not_ok "exports: one 9p share, bound at the rootfs and 5 single items only" "got: $(echo $mps)" "want: $(echo $want)" \
      "tags: $(echo $tags), share root: $root"
  fi
  out=$(GX $id "awk '(\$3 == \"9p\" || \$3 == \"virtiofs\") && \$2 == \"$b\"' /proc/1/mounts; ls -A /proc/1/root$b")
  if [ "$(echo "$out" | sort | tr '\n' ' ')" = "config.json rootfs " ]; then
    ok "exports: the guest's bundle is its own dir (config.json, rootfs), not a share"
  else
    not_ok "exports: the guest's bundle is its own dir, not a share" "$out"
  fi

  # Tamper with everything that was the bundle (containerd trusts it).
  GX $id "cd /proc/1/root$b && ln -sfn '$SENT' work; echo /bin/evil >shim-binary-path; echo unix:///evil >address;
    echo '{}' >config.json; mkdir -p x && echo pwn >x/pwn; ln -sfn '$SENT' log" >/dev/null
  fp_after=$(fingerprint "$b")
  out=$(GX $id "readlink /proc/1/root$b/work; cat /proc/1/root$b/shim-binary-path")
  if [ "$fp_after" = "$fp_before" ] && [ "$out" = "$SENT
/bin/evil" ]; then ok "exports: writes where the bundle was leave the host bundle unchanged"; else
    not_ok "exports: writes where the bundle was leave the host bundle unchanged" \
      "guest sees: $out" "$(diff <(echo "$fp_before") <(echo "$fp_after") | head -8)"; fi

  # Single files: each alone in its share, siblings invisible.
  out=$(GX $id "for d in /proc/1/root/run/runm/exports/*; do ls -A \$d | wc -l; done; find /proc/1/root/run/runm/exports / -xdev -name secret 2>/dev/null; grep -rl secret /proc/1/root/run/runm/exports 2>/dev/null")
  if [ "$(echo "$out" | grep -c .)" -ge 5 ] && ! echo "$out" | grep -q secret && [ "$(GX $id 'cat /rofile /rwfile')" = "ro file
rw file" ]; then
    ok "exports: a single-file volume exposes that file alone (no sibling seen)"
  else
    not_ok "exports: a single-file volume exposes that file alone" "$out"
  fi
  # Writes next to the exports and into the ro ones, also after remounts
  # in the guest's own mount namespace and in the container's.
  cat >"$TMP/remount.sh" <<'SH'
# Every 9p or virtio-fs mount the guest has (whatever the host exported), and every bind.
for d in $(awk '$3 == "9p" || $3 == "virtiofs" { print $2 }' /proc/mounts) /run/runm/exports/*; do
  mount -o remount,rw "$d"; touch "$d/pwn-new"; mkdir "$d/pwn-dir"
  for f in "$d"/*; do [ -f "$f" ] && echo pwn >>"$f"; done
  echo pwn >"$d/a"; echo pwn >"$d/new"
done 2>/dev/null
echo gn-ran
SH
  out=$(GN $id "$TMP/remount.sh")
  if echo "$out" | grep -qx gn-ran; then ok "exports: guest root ran its attacks in the guest's mount namespace"; else
    not_ok "exports: guest root ran its attacks in the guest's mount namespace" "$out"; fi
  GX $id "mount -o remount,rw /ro; echo pwn >/ro/a; echo pwn >/ro/new; mount -o remount,rw /rofile; echo pwn >>/rofile
    echo changed >/rwfile" >/dev/null 2>&1
  if [ "$(cat "$TMP/v/rodir/a")" = "ro data" ] && [ ! -e "$TMP/v/rodir/new" ] && [ "$(cat "$TMP/v/files/rofile")" = "ro file" ]; then
    ok "exports: ro dir and ro file stay unwritable by guest root, even after remount rw"
  else
    not_ok "exports: ro dir and ro file stay unwritable by guest root" "$(ls -la "$TMP/v/rodir"; cat "$TMP/v/files/rofile")"
  fi
  if [ "$(cat "$TMP/v/files/rwfile")" = changed ] && [ "$(ls -A "$TMP/v/files" | tr '\n' ' ')" = "rofile rwfile secret " ]; then
    ok "exports: the rw file is written, nothing is created next to it"
  else
    not_ok "exports: the rw file is written, nothing is created next to it" "$(ls -A "$TMP/v/files"; cat "$TMP/v/files/rwfile")"
  fi
  # What the guest made exists only in its rw volume and rootfs (bind mounts show
  # the same inode wherever they are seen from).
  allowed=$(stat -c '%d:%i' "$TMP/v/rwdir"/pwn* "$b"/rootfs/pwn* 2>/dev/null | sort -u)
  stray=$(find "$TMP/v" "$b" "$RUNM_STATE_DIR" -name 'pwn*' -exec stat -c '%d:%i %n' {} + 2>/dev/null |
    while read -r di n; do echo "$allowed" | grep -qx "$di" || echo "$n"; done)
  if [ -n "$allowed" ] && [ -z "$stray" ]; then ok "exports: what the guest creates lands only in its rw volume and rootfs"; else
    not_ok "exports: what the guest creates lands only in its rw volume and rootfs" "allowed: $allowed" "stray: $stray"; fi
  # Symlinks in the rootfs and the rw volume pointing at host things.
  GX $id "ln -s '$SENT' /rw/link; ln -s '$TMP/sentmnt' /rw/mnt; ln -s '$SENT' /evil; ln -s / /rw/root" >/dev/null
  delete_task $id
  if sent_ok && sentmnt_ok; then ok "exports: after ctr task delete, the sentinel dir and mount are intact"; else
    not_ok "exports: after ctr task delete, the sentinel dir and mount are intact" "$(ls -laR "$SENT" 2>&1 | head)"; fi
  if [ -z "$(our_mounts)" ] && [ ! -e "$RUNM_STATE_DIR/exports" ]; then ok "exports: the export dir is gone, no mount left"; else
    not_ok "exports: the export dir is gone, no mount left" "$(our_mounts) $(ls -A "$RUNM_STATE_DIR/exports" 2>&1)"; fi
  bash "$ENV" stop >/dev/null 2>&1
}

# ---- pool ------------------------------------------------------------------------
ready_sock() { ls "$RUNM_STATE_DIR"/pool/*/*.sock 2>/dev/null | head -1; }
has_spare() { [ -n "$(ready_sock)" ]; }
idle_pid() { basename "$(ready_sock)" .sock | sed 's/^pool_//'; }
shim_of() { # ID: the pid of the shim serving it (a pooled one keeps its argv)
  local p
  p=$(sed -n 's/^supervisor_pid=//p' "$(vmdir_of "$1")/vm.info" 2>/dev/null)
  [ -n "$p" ] && [ "$p" -gt 0 ] && tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -q containerd-shim-runm-v1 && echo "$p"
}
left_mounts() { our_mounts | grep -v '/shares/pool_[0-9]*/x$'; }
no_left_mounts() { [ -z "$(left_mounts)" ]; }
pooled() { grep -q '^qemu_name=runm-pool_' "$(vmdir_of "$1")/vm.info" 2>/dev/null; }

case_pool() {
  local id out share sp before after reply
  if ! start_env 1; then not_ok "pool: private containerd and image"; return; fi
  TCTR run --rm --runtime $RT "$IMAGE" hxcold true >/dev/null 2>&1
  wait_until 90 has_spare

  # Finding 14: a pooled shim's umask made resolv.conf 0600.
  id=hxp1
  TCTR run -d "${PRIV[@]}" --runtime $RT --mount "type=bind,src=$TMP/v/rwdir,dst=/rw,options=rbind:rw" \
    "$IMAGE" $id sleep 600 >/dev/null 2>&1
  if pooled $id; then ok "pool: the task took the pooled VM"; else not_ok "pool: the task took the pooled VM" "$(cat "$(vmdir_of $id)/vm.info" 2>&1)"; fi
  out=$(TCTR task exec --user 65534 --exec-id u1 $id cat /etc/resolv.conf 2>&1)
  if echo "$out" | grep -q '^nameserver '; then ok "pool: a non-root container user reads /etc/resolv.conf"; else
    not_ok "pool: a non-root container user reads /etc/resolv.conf" "$out"; fi

  # Finding 12: the pool share's root is not the guest's to write.
  share=$(GX $id "awk '(\$3 == \"9p\" || \$3 == \"virtiofs\") && \$2 ~ /\\/shares\\/pool_/ { print \$2 }' /proc/1/mounts" | head -1)
  out=$(GX $id "cd /proc/1/root$share && for n in 9 15 16 99 x; do ln -s '$TMP/sentmnt' \$n && echo planted \$n; done;
    touch pwn && echo wrote; ln -s '$TMP/sentmnt' /rw/0; ln -s '$TMP/sentmnt' /proc/1/root$share/0/1 2>/dev/null; true")
  if [ -n "$share" ] && ! echo "$out" | grep -q -e planted -e wrote; then ok "pool: guest root cannot create anything in the pool share's root"; else
    not_ok "pool: guest root cannot create anything in the pool share's root" "share: $share" "$out"; fi
  # The shim dies; containerd runs `shim delete`, which unmounts the binds.
  sp=$(shim_of $id)
  if [ -n "$sp" ] && kill -KILL "$sp"; then ok "pool: the task's shim (pid $sp) is SIGKILLed"; else
    not_ok "pool: the task's shim is SIGKILLed" "no shim found"; fi
  wait_until 30 bash -c "[ -z \"\$(ctr --address '$SOCK' -n '$NS' task ls -q 2>/dev/null | grep -x $id)\" ]"
  TCTR container delete $id >/dev/null 2>&1
  if sentmnt_ok && sent_ok; then ok "pool: shim delete follows no planted symlink (the host mount is intact)"; else
    not_ok "pool: shim delete follows no planted symlink" "$(grep hxsentinel /proc/mounts)"; fi
  # (A new spare's share root may be mounted: that is shares/pool_<pid>/x.)
  if wait_until 20 no_left_mounts &&
    [ -z "$(ls -A "$RUNM_STATE_DIR/exports" 2>/dev/null)" ]; then ok "pool: shim delete left no mount and no export"; else
    not_ok "pool: shim delete left no mount and no export" "$(left_mounts)"; fi

  # Finding 16: the hook channel survives a disconnect.
  wait_until 90 has_spare
  mkdir -p "$TMP/hookout"
  printf '#!/bin/sh\ncat >"$HOOK_OUT/$1.json"\n' >"$TMP/hook.sh"
  chmod 0755 "$TMP/hook.sh"
  bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" >/dev/null 2>&1
  $PY - "$TMP/bb" "$TMP/hook.sh" "$TMP/hookout" "$TMP/hookspec.json" <<'EOF'
import json, sys
bb, hook, out, dst = sys.argv[1:5]
c = json.load(open(bb + "/config.json"))
c["root"] = {"path": bb + "/rootfs", "readonly": True}
c["process"]["args"] = ["sleep", "600"]
c["process"]["terminal"] = False
env = ["HOOK_OUT=" + out, "PATH=/usr/bin:/bin"]
c["hooks"] = {k: [{"path": hook, "args": ["hook.sh", k], "env": env}] for k in ("createRuntime", "poststop")}
# A pooled VM serves user networking only: hooks alone would choose the
# namespace mode (docs/networking.md).
c.setdefault("annotations", {})["io.runm.net"] = "user"
json.dump(c, open(dst, "w"))
EOF
  id=hxp2
  TCTR run -d --runtime $RT --config "$TMP/hookspec.json" $id </dev/null >/dev/null 2>&1
  sp=$(shim_of $id)
  # Cut the shim's end of the runm.v1.Host connection (QEMU's is the peer).
  out=$($PY - "$sp" <<'EOF' 2>&1
import ctypes, os, re, socket, subprocess, sys
pid = int(sys.argv[1])
lines = subprocess.run(["ss", "-xpn"], capture_output=True, text=True).stdout.splitlines()
fds = [int(m.group(1)) for l in lines if "host.sock" in l and "ESTAB" in l
       for m in [re.search(r"pid=%d,fd=(\d+)" % pid, l)] if m]
libc = ctypes.CDLL(None, use_errno=True)
pfd = os.pidfd_open(pid)
for fd in fds:
    mine = libc.syscall(438, pfd, fd, 0)  # pidfd_getfd
    s = socket.socket(fileno=mine)
    s.shutdown(socket.SHUT_RDWR)
print("cut", len(fds))
EOF
)
  sleep 3 # QEMU's reconnect=1: it tries again after a second
  delete_task $id
  if [ "$out" = "cut 1" ] && [ -s "$TMP/hookout/createRuntime.json" ] && [ -s "$TMP/hookout/poststop.json" ]; then
    ok "pool: after the hook channel is cut, QEMU reconnects and the poststop hook runs"
  else
    not_ok "pool: after the hook channel is cut, QEMU reconnects and the poststop hook runs" "shim $sp: $out" "$(ls "$TMP/hookout")"
  fi

  # The claim: two fds leak none; a silent claimer blocks nobody.
  wait_until 90 has_spare
  sp=$(idle_pid)
  before=$(ls /proc/"$sp"/fd 2>/dev/null | wc -l)
  reply=$($PY - "$(ready_sock)" <<'EOF' 2>&1
import array, os, socket, sys, time
path = sys.argv[1]
a, b = socket.socketpair()
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
fds = array.array("i", [l.fileno(), a.fileno()])
s.sendmsg([b"ns\0id\0/nowhere\0/bin/true\0\0/tmp\0" + b"0\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
print("two:", s.recv(256).decode())
silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
silent.connect(path)
t = time.time()
s2 = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s2.settimeout(8)
s2.connect(path)
s2.send(b"only\0two\0")
try:
    print("next: %s in %.1f s" % (s2.recv(256).decode(), time.time() - t))
except socket.timeout:
    print("next: no answer in 8 s")
EOF
)
  sleep 0.5
  after=$(ls /proc/"$sp"/fd 2>/dev/null | wc -l)
  if echo "$reply" | grep -q '^two: error' && [ "$before" = "$after" ] && [ -n "$before" ]; then
    ok "pool: a claim with two fds is refused and leaks none ($before fds before and after)"
  else
    not_ok "pool: a claim with two fds is refused and leaks none" "fds $before -> $after" "$reply"
  fi
  if echo "$reply" | grep -q '^next: error'; then ok "pool: a silent claimer does not block the next claim ($(echo "$reply" | grep next))"; else
    not_ok "pool: a silent claimer does not block the next claim" "$reply"; fi
  bash "$ENV" stop >/dev/null 2>&1
}

echo exports | grep -Eq -- "$CASES" && case_exports
echo pool | grep -Eq -- "$CASES" && case_pool

# ---- nothing left ------------------------------------------------------------------
if [ -z "$(our_qemus)" ]; then ok "no QEMU left"; else not_ok "no QEMU left" "$(our_qemus)"; fi
if [ -z "$(our_mounts)" ]; then ok "no mount left under containerd's or runm's dirs"; else not_ok "no mount left" "$(our_mounts)"; fi
if sent_ok && sentmnt_ok; then ok "the sentinel dir and mount are intact at the end"; else not_ok "the sentinel dir and mount are intact at the end"; fi
finish

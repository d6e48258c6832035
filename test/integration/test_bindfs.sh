#!/bin/bash
# runm-bindfs against the kernel: the same operations run in a plain
# directory and through a mount must give the same results (content,
# modes, owners, times, xattrs, links, renames with flags, special files,
# errno names); a read-only mount refuses every write with EROFS; uid/gid
# maps show and store owners as bindfs does (checked against Debian's
# bindfs too); the mount helper paths work; SIGTERM/SIGINT/umount end the
# daemon cleanly; bad input fails with a clear message and mounts nothing.
# No FUSE mount or daemon is left behind.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINDFS=$RUNM_BIN/runm-bindfs
FSOPS=$ROOT/test/integration/bindfs_fsops.py
PY=/usr/bin/python3
# A sanitized daemon's reports would go to /dev/null once it daemonises.
mkdir -p "$TMP/asan"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:log_path=$TMP/asan/report"

# Mount points of ours (fstype fuse.runm-bindfs, or Debian bindfs's, under $TMP).
our_fuse_mounts() {
  awk -v t="$TMP/" '$5 ~ "^" t { for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^fuse/) print $5 }' /proc/self/mountinfo
}
# Daemons (runm-bindfs or bindfs) whose command line names a path under $TMP.
our_daemons() {
  local p
  for p in $(grep -lsaF -- "$TMP/" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
    { tr '\0' '\n' <"/proc/$p/cmdline" | head -1 | grep -qE '(^|/)(runm-bindfs|bindfs|fuse3\.runm-bindfs)$' && echo "$p"; } 2>/dev/null
  done
}
bindfs_cleanup() {
  local m p
  for m in $(our_fuse_mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  for p in $(our_daemons); do kill -KILL "$p" 2>/dev/null; done
  cleanup
}
trap bindfs_cleanup EXIT

is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
fstype_of() { awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 1) }' /proc/self/mountinfo | tail -1; }
daemon_of() { # DST: pid of the daemon serving DST
  local p
  for p in $(our_daemons); do { tr '\0' '\n' <"/proc/$p/cmdline" | grep -qxF -- "$1" && echo "$p"; } 2>/dev/null; done
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# umount DST and wait (bounded) for its daemon to exit.
unmount() {
  local p
  p=$(daemon_of "$1")
  umount "$1" || return 1
  [ -z "$p" ] || wait_until 10 gone "$p"
}
# diff_ok NAME A B: passes when files A and B are identical.
diff_ok() {
  local d
  if d=$(diff "$2" "$3"); then ok "$1"; else
    mapfile -t lines < <(echo "$d" | head -12)
    not_ok "$1" "${lines[@]}"
  fi
}

if [ ! -x "$BINDFS" ]; then not_ok "runm-bindfs is built" "missing: $BINDFS"; finish; fi

# ---- the same operations, directly and through a mount ----------------------
mkdir -p "$TMP/plain" "$TMP/src" "$TMP/mnt"
"$PY" "$FSOPS" ops "$TMP/plain" >"$TMP/plain.ops" 2>&1
t0=$(date +%s%N)
if "$BINDFS" "$TMP/src" "$TMP/mnt" 2>"$TMP/mount.err" && is_mounted "$TMP/mnt"; then
  ok "runm-bindfs SRC DST returns with DST mounted ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
  not_ok "runm-bindfs SRC DST returns with DST mounted" "$(cat "$TMP/mount.err")"
  finish
fi
check "mount type is fuse.runm-bindfs" test "$(fstype_of "$TMP/mnt")" = fuse.runm-bindfs
check "mount source names SRC" awk -v m="$TMP/mnt" -v s="$TMP/src" '$5 == m { for (i = 7; $i != "-"; i++); if ($(i + 2) == s) f = 1 } END { exit !f }' /proc/self/mountinfo
"$PY" "$FSOPS" ops "$TMP/mnt" >"$TMP/mnt.ops" 2>&1
check "operation sequence completes (plain dir)" grep -q '^statvfs: ' "$TMP/plain.ops"
diff_ok "$(wc -l <"$TMP/plain.ops") operations: same results and errnos through the mount" "$TMP/plain.ops" "$TMP/mnt.ops"
"$PY" "$FSOPS" list "$TMP/plain" >"$TMP/plain.list" 2>&1
"$PY" "$FSOPS" list "$TMP/mnt" >"$TMP/mnt.list" 2>&1
diff_ok "$(wc -l <"$TMP/plain.list") paths: same tree (modes, owners, sizes, links, targets, xattrs, content, t_* mtimes)" \
  "$TMP/plain.list" "$TMP/mnt.list"
"$PY" "$FSOPS" stat "$TMP/mnt" >"$TMP/mnt.stat" 2>&1
"$PY" "$FSOPS" stat "$TMP/src" >"$TMP/src.stat" 2>&1
diff_ok "lstat through the mount == lstat of the source (ino, mode, links, owner, rdev, size, blocks, mtime ns)" \
  "$TMP/mnt.stat" "$TMP/src.stat"
check "large multi-MiB content identical in the source" cmp -s "$TMP/plain/large" "$TMP/src/large"
# The plain run read its results back from the file system it wrote; make
# sure the figures are not trivially equal because both failed.
check "results are real (8 MiB file hash, errnos)" grep -q '^read large: [0-9a-f]\{16\}$' "$TMP/mnt.ops"
check "ENOTEMPTY, EISDIR, ENOTDIR, EEXIST, ENOENT seen" \
  bash -c "grep -c -e ': ENOTEMPTY$' -e ': EISDIR$' -e ': ENOTDIR$' -e ': EEXIST$' -e ': ENOENT$' '$TMP/mnt.ops' | grep -qx '2[0-9]'"

# Writes the source sees at once, and the reverse (bounded by attr_timeout).
echo "via mount" >"$TMP/mnt/crossing"
check "a write through the mount is in the source" grep -qx "via mount" "$TMP/src/crossing"
echo "via source" >"$TMP/src/crossing2"
check "a file made in the source appears in the mount" grep -qx "via source" "$TMP/mnt/crossing2"

if unmount "$TMP/mnt" && ! is_mounted "$TMP/mnt" && [ -z "$(daemon_of "$TMP/mnt")" ]; then
  ok "umount DST: the daemon exits"
else
  not_ok "umount DST: the daemon exits" "mounted: $(is_mounted "$TMP/mnt" && echo yes), daemon: $(daemon_of "$TMP/mnt")"
fi

# ---- the same under each tuning option -----------------------------------------
# direct_io refuses shared writable mmap (ENODEV: the page cache is
# bypassed); that one difference is expected and checked.
for o in writeback max_threads=4 cache=never no_splice,no_readdirplus direct_io; do
  d=$TMP/opt-${o//[=,]/_}
  mkdir -p "$d/src" "$d/mnt"
  if ! "$BINDFS" "$d/src" "$d/mnt" -o "$o" 2>"$d/err"; then not_ok "-o $o mounts" "$(cat "$d/err")"; continue; fi
  "$PY" "$FSOPS" ops "$d/mnt" >"$d/ops" 2>&1
  "$PY" "$FSOPS" list "$d/mnt" >"$d/list" 2>&1
  unmount "$d/mnt"
  if [ "$o" = direct_io ]; then
    check "-o direct_io: shared writable mmap fails with ENODEV" grep -qx 'shared mmap write: ENODEV' "$d/ops"
    grep -v '^shared mmap write: ' "$d/ops" >"$d/ops.cmp"
    grep -v '^shared mmap write: ' "$TMP/plain.ops" >"$d/plain.ops"
    grep -v '^mapped ' "$d/list" >"$d/list.cmp"
    grep -v '^mapped ' "$TMP/plain.list" >"$d/plain.list"
    diff_ok "-o direct_io: otherwise the same results and tree" <(cat "$d/plain.ops" "$d/plain.list") <(cat "$d/ops.cmp" "$d/list.cmp")
  else
    diff_ok "-o $o: the same results and tree" <(cat "$TMP/plain.ops" "$TMP/plain.list") <(cat "$d/ops" "$d/list")
  fi
done

# ---- read-only ---------------------------------------------------------------
"$PY" "$FSOPS" list "$TMP/src" >"$TMP/src-before.list" 2>&1
if "$BINDFS" "$TMP/src" "$TMP/mnt" -o ro 2>"$TMP/ro.err"; then
  ok "-o ro mounts"
  check "ro mount is read-only in mountinfo" awk -v m="$TMP/mnt" '$5 == m && $6 ~ /^ro/ { f = 1 } END { exit !f }' /proc/self/mountinfo
  "$PY" "$FSOPS" rofail "$TMP/mnt" >"$TMP/ro.ops" 2>&1
  n=$(grep -c ': EROFS$' "$TMP/ro.ops")
  bad=$(grep -v -e ': EROFS$' -e '^read still works: [0-9]' -e '^getxattr still works: ' "$TMP/ro.ops")
  if [ "$n" -eq 19 ] && [ -z "$bad" ]; then ok "ro: all 19 write operations fail with EROFS, reads work"; else
    mapfile -t lines <"$TMP/ro.ops"; not_ok "ro: all 19 write operations fail with EROFS, reads work" "$n EROFS" "${lines[@]}"; fi
  "$PY" "$FSOPS" list "$TMP/mnt" >"$TMP/ro.list" 2>&1
  diff_ok "ro: the mount shows the source's tree" "$TMP/src-before.list" "$TMP/ro.list"
  unmount "$TMP/mnt"
  "$PY" "$FSOPS" list "$TMP/src" >"$TMP/src-after.list" 2>&1
  diff_ok "ro: the source is unchanged" "$TMP/src-before.list" "$TMP/src-after.list"
else
  not_ok "-o ro mounts" "$(cat "$TMP/ro.err")"
fi

# ---- uid/gid mapping ---------------------------------------------------------
M=$TMP/mapped S=$TMP/msrc
chmod 755 "$TMP" # mktemp's 0700 would stop the other users at the door
mkdir -p "$M" "$S/pub" "$S/sg" "$TMP/dbindfs"
echo a >"$S/u1000" && chown 1000:1000 "$S/u1000" && chmod 600 "$S/u1000"
echo b >"$S/u2000" && chown 2000:2000 "$S/u2000"
echo c >"$S/root" && chmod 644 "$S/root"
echo d >"$S/mixed" && chown 3000:1000 "$S/mixed"
chmod 777 "$S/pub"
chown 0:555 "$S/sg" && chmod 2777 "$S/sg"
owner() { stat -c %u:%g "$1"; }
if "$BINDFS" "$S" "$M" -o map=1000/2000:@1000/@2000,allow_other 2>"$TMP/map.err"; then
  ok "-o map=1000/2000:@1000/@2000,allow_other mounts"
  check "map: source 1000:1000 shows as 2000:2000" test "$(owner "$M/u1000")" = 2000:2000
  check "map: source 2000:2000 shows as itself" test "$(owner "$M/u2000")" = 2000:2000
  check "map: unmapped 0:0 passes through" test "$(owner "$M/root")" = 0:0
  check "map: uid and gid map separately (3000:1000 -> 3000:2000)" test "$(owner "$M/mixed")" = 3000:2000
  chown 2000:2000 "$M/root"
  check "map: chown to 2000:2000 in the mount stores 1000:1000" test "$(owner "$S/root")" = 1000:1000
  chown 3000:3000 "$M/mixed"
  check "map: chown to an unmapped id stores it unchanged" test "$(owner "$S/mixed")" = 3000:3000
  setpriv --reuid 2000 --regid 2000 --clear-groups touch "$M/pub/by2000"
  setpriv --reuid 2000 --regid 2000 --clear-groups mkdir "$M/pub/dir2000"
  check "map: a file created by uid 2000 is stored as 1000:1000" test "$(owner "$S/pub/by2000")" = 1000:1000
  check "map: ...and shows as 2000:2000" test "$(owner "$M/pub/by2000")" = 2000:2000
  check "map: a dir created by uid 2000 is stored as 1000:1000" test "$(owner "$S/pub/dir2000")" = 1000:1000
  setpriv --reuid 3000 --regid 3000 --clear-groups touch "$M/pub/by3000"
  check "map: a file created by unmapped uid 3000 is stored as 3000:3000" test "$(owner "$S/pub/by3000")" = 3000:3000
  setpriv --reuid 2000 --regid 2000 --clear-groups touch "$M/sg/in-setgid"
  check "map: a set-group-id dir hands down its group (1000:555)" test "$(owner "$S/sg/in-setgid")" = 1000:555
  # Permissions are checked against the mapped owner (default_permissions).
  check "map: uid 2000 reads its (mapped) 0600 file" setpriv --reuid 2000 --regid 2000 --clear-groups head -c0 "$M/u1000"
  check "map: uid 3000 reads a 0644 file" setpriv --reuid 3000 --regid 3000 --clear-groups head -c0 "$M/u2000"
  if setpriv --reuid 3000 --regid 3000 --clear-groups cat "$M/u1000" >/dev/null 2>"$TMP/denied.err"; then
    not_ok "map: uid 3000 is denied a 0600 file of 2000"
  else
    check "map: uid 3000 is denied a 0600 file of 2000 (EACCES)" grep -q 'Permission denied' "$TMP/denied.err"
  fi
  # Debian's bindfs with the same map shows the same tree.
  if command -v bindfs >/dev/null; then
    if bindfs --map=1000/2000:@1000/@2000 "$S" "$TMP/dbindfs" 2>"$TMP/dbindfs.err"; then
      "$PY" "$FSOPS" list "$M" >"$TMP/map.list" 2>&1
      "$PY" "$FSOPS" list "$TMP/dbindfs" >"$TMP/dbindfs.list" 2>&1
      diff_ok "map: the same view as Debian's bindfs --map=1000/2000:@1000/@2000" "$TMP/dbindfs.list" "$TMP/map.list"
      unmount "$TMP/dbindfs"
    else
      not_ok "map: Debian's bindfs mounts for comparison" "$(cat "$TMP/dbindfs.err")"
    fi
  else
    not_ok "map: Debian's bindfs is installed (tools/deps.sh)"
  fi
  unmount "$M"
else
  not_ok "-o map=... mounts" "$(cat "$TMP/map.err")"
fi

# ---- lifecycle: SIGTERM, SIGINT (foreground) ---------------------------------
mkdir -p "$TMP/life"
if "$BINDFS" "$TMP/src" "$TMP/life" 2>"$TMP/life.err"; then
  p=$(daemon_of "$TMP/life")
  kill -TERM "$p"
  if wait_until 10 gone "$p" && ! is_mounted "$TMP/life"; then ok "SIGTERM: the daemon unmounts and exits"; else
    not_ok "SIGTERM: the daemon unmounts and exits" "pid $p alive: $(gone "$p" || echo yes); mounted: $(is_mounted "$TMP/life" && echo yes)"; fi
else
  not_ok "daemon mounts for the SIGTERM case" "$(cat "$TMP/life.err")"
fi
# Relative SRC and DST: the daemon unmounts by the canonical path.
(cd "$TMP" && exec "$BINDFS" -f src life 2>"$TMP/fg.err") &
p=$!
if wait_until 10 is_mounted "$TMP/life"; then
  check "-f: serves in the foreground" test "$(cat "$TMP/life/crossing")" = "via mount"
  kill -INT "$p"
  wait "$p"
  rc=$?
  if [ "$rc" -eq 0 ] && ! is_mounted "$TMP/life"; then ok "SIGINT to -f (relative SRC DST): unmounted, exit 0"; else
    not_ok "SIGINT to -f (relative SRC DST): unmounted, exit 0" "exit $rc" "$(cat "$TMP/fg.err")"; umount "$TMP/life"; fi
else
  not_ok "-f mounts" "$(cat "$TMP/fg.err")"
  kill -KILL "$p" 2>/dev/null
fi

# ---- mount helper ------------------------------------------------------------
# containerd's path for a mount of type fuse3.runm-bindfs: mount.fuse3 with
# the type's suffix, the program found on containerd's PATH.
if PATH=$RUNM_BIN:$PATH mount.fuse3 "$TMP/src" "$TMP/life" -o ro -t runm-bindfs 2>"$TMP/helper.err"; then
  ok "mount.fuse3 SRC DST -o ro -t runm-bindfs (containerd's way)"
  check "helper mount is fuse.runm-bindfs and read-only" \
    awk -v m="$TMP/life" '$5 == m && $6 ~ /^ro/ { for (i = 7; $i != "-"; i++); if ($(i + 1) == "fuse.runm-bindfs") f = 1 } END { exit !f }' /proc/self/mountinfo
  if touch "$TMP/life/x" 2>"$TMP/helper-touch.err"; then not_ok "helper ro mount refuses writes"; else
    check "helper ro mount refuses writes (EROFS)" grep -q 'Read-only file system' "$TMP/helper-touch.err"; fi
  unmount "$TMP/life"
else
  not_ok "mount.fuse3 SRC DST -o ro -t runm-bindfs (containerd's way)" "$(cat "$TMP/helper.err")"
fi
# mount(8) drops PATH and mount.fuse3 runs `fuse3.runm-bindfs` from the
# default one: in a private mount namespace, the build dir stands in for
# /usr/local/sbin.
mkdir -p "$TMP/sbin"
ln -s "$BINDFS" "$TMP/sbin/fuse3.runm-bindfs"
ln -s "$BINDFS" "$TMP/sbin/runm-bindfs"
out=$(unshare --mount --propagation private bash -c '
  set -e
  mount --bind "$1/sbin" /usr/local/sbin
  mount -t fuse3.runm-bindfs "$1/src" "$1/life" -o ro
  awk -v m="$1/life" '"'"'$5 == m { print $6; for (i = 7; $i != "-"; i++); print $(i + 1) }'"'"' /proc/self/mountinfo | tr "\n" " "
  cat "$1/life/crossing"
  touch "$1/life/x" 2>&1 || true
  umount "$1/life"
  umount /usr/local/sbin' sh "$TMP" 2>&1)
case "$out" in
ro,*" fuse.runm-bindfs via mount"*"Read-only file system"*) ok "mount -t fuse3.runm-bindfs SRC DST -o ro (mount(8) + mount.fuse3)" ;;
*) not_ok "mount -t fuse3.runm-bindfs SRC DST -o ro (mount(8) + mount.fuse3)" "$out" ;;
esac

# ---- bad input: a clear message, non-zero exit, nothing mounted --------------
echo file >"$TMP/afile"
mkdir -p "$TMP/bad"
bad() { # NAME WANTED-TEXT ARGS...
  local name=$1 want=$2 rc
  shift 2
  "$BINDFS" "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
  rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$want" "$TMP/bad.err" && ! is_mounted "$TMP/bad" && [ -z "$(daemon_of "$TMP/bad")" ]; then
    ok "$name: exit $rc, \"$(head -1 "$TMP/bad.err")\", nothing mounted"
  else
    not_ok "$name" "exit $rc; stderr: $(cat "$TMP/bad.err")" "mounted: $(is_mounted "$TMP/bad" && echo yes)"
    umount "$TMP/bad" 2>/dev/null
  fi
}
bad "missing SRC" "source \`$TMP/nope\` does not exist" "$TMP/nope" "$TMP/bad"
bad "SRC is a file" "source \`$TMP/afile\` is not a directory" "$TMP/afile" "$TMP/bad"
bad "DST is a file" "mount point \`$TMP/afile\` is not a directory" "$TMP/src" "$TMP/afile"
bad "missing DST" "mount point \`$TMP/nope\` does not exist" "$TMP/src" "$TMP/nope"
mkdir -p "$TMP/src/inner"
bad "DST inside SRC" "mount point \`$TMP/src/inner\` is inside the source" "$TMP/src" "$TMP/src/inner"
bad "no DST" "SRC and DST are required" "$TMP/src"
bad "bad map= syntax" "map=\`1000:2000\`: \`1000\` is not FROM/TO" "$TMP/src" "$TMP/bad" -o map=1000:2000
bad "map= user to group" "maps a user to a group" "$TMP/src" "$TMP/bad" -o map=1000/@2000
bad "map= unknown user" "unknown user \`nosuchuser\`" "$TMP/src" "$TMP/bad" -o map=nosuchuser/0
bad "unknown option" "unknown option \`bogus\`" "$TMP/src" "$TMP/bad" -o ro,bogus
bad "unknown flag" "unknown flag \`--frob\`" --frob "$TMP/src" "$TMP/bad"
bad "extra argument" "unexpected argument" "$TMP/src" "$TMP/bad" "$TMP/extra"
bad "-o without value" "-o needs an argument" "$TMP/src" "$TMP/bad" -o
rc=0
PATH=$RUNM_BIN:$PATH mount.fuse3 "$TMP/nope" "$TMP/bad" -t runm-bindfs >/dev/null 2>"$TMP/bad.err" || rc=$?
if [ "$rc" -ne 0 ] && grep -qF "does not exist" "$TMP/bad.err" && ! is_mounted "$TMP/bad"; then
  ok "mount.fuse3 with a missing SRC fails with the message"
else
  not_ok "mount.fuse3 with a missing SRC fails with the message" "exit $rc: $(cat "$TMP/bad.err")"
fi

# The shim's setting: a bad bind_mode stops it before it does anything.
out=$(cd "$TMP" && RUNM_BIND_MODE=bogus "$RUNM_BIN/containerd-shim-runm-v1" -namespace t -id bindfs-t -address /nonexistent start 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && [[ "$out" == *"bind_mode = \`bogus\`: expected kernel, fuse or auto"* ]]; then
  ok "shim: RUNM_BIND_MODE=bogus is refused by name (exit $rc)"
else
  not_ok "shim: RUNM_BIND_MODE=bogus is refused by name" "exit $rc: $out"
fi

# ---- nothing left ------------------------------------------------------------
x=$(our_fuse_mounts)
if [ -z "$x" ]; then ok "no FUSE mount left (mountinfo)"; else not_ok "no FUSE mount left (mountinfo)" $x; fi
x=$(our_daemons)
if [ -z "$x" ]; then ok "no runm-bindfs or bindfs daemon left"; else not_ok "no runm-bindfs or bindfs daemon left" "pids: $x"; fi
x=$(cat "$TMP"/asan/report* 2>/dev/null | head -20)
if [ -z "$x" ]; then ok "no sanitizer report from any daemon"; else mapfile -t lines <<<"$x"; not_ok "no sanitizer report from any daemon" "${lines[@]}"; fi
leak_checks
finish

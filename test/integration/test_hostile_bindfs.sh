#!/bin/bash
# runm-bindfs under a hostile writer (issue 11, finding 6): a name the
# kernel believes absent (a cached negative entry) that has become a symlink
# in SRC must not let CREATE follow it out of SRC. The guest reaches a
# bindfs mount through 9p; here the mount is used directly, as QEMU does.
# Fails on 0554f63: CREATE stripped O_NOFOLLOW and truncated the target.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BINDFS=$RUNM_BIN/runm-bindfs
PY=/usr/bin/python3
mkdir -p "$TMP/asan"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:log_path=$TMP/asan/report"

hb_cleanup() {
  if awk -v m="$TMP/mnt" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; then
    umount "$TMP/mnt" 2>/dev/null || umount -l "$TMP/mnt" 2>/dev/null
  fi
  cleanup
}
trap hb_cleanup EXIT

if [ ! -x "$BINDFS" ]; then not_ok "runm-bindfs is built" "missing: $BINDFS"; finish; fi

mkdir -p "$TMP/src" "$TMP/mnt" "$TMP/outside"
printf 'precious\n' >"$TMP/outside/victim"
# A long negative timeout keeps "absent" cached while SRC changes under it.
if ! "$BINDFS" -o negative_timeout=600,entry_timeout=600 "$TMP/src" "$TMP/mnt" 2>"$TMP/mount.err"; then
  not_ok "runm-bindfs mounts" "$(cat "$TMP/mount.err")"
  finish
fi
ok "runm-bindfs mounts SRC with negative_timeout=600"

# create NAME FLAGS: opens mnt/NAME with O_CREAT|FLAGS, writes "owned",
# prints ok or the errno name.
create() {
  "$PY" - "$TMP/mnt/$1" "$2" <<'PY'
import errno, os, sys
flags = os.O_CREAT | os.O_WRONLY | (os.O_TRUNC if sys.argv[2] == "trunc" else 0)
try:
    fd = os.open(sys.argv[1], flags, 0o644)
    os.write(fd, b"owned\n")
    os.close(fd)
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}

# 1. An existing host file outside SRC: truncated and rewritten before.
stat "$TMP/mnt/a" >/dev/null 2>&1 # caches "a: no such entry"
ln -s "$TMP/outside/victim" "$TMP/src/a"
r=$(create a trunc)
if [ "$(cat "$TMP/outside/victim")" = precious ]; then
  ok "O_CREAT|O_TRUNC through a symlink planted in SRC leaves the host file outside alone ($r)"
else
  not_ok "O_CREAT|O_TRUNC through a symlink planted in SRC leaves the host file outside alone" \
    "open said: $r" "victim now holds: $(cat "$TMP/outside/victim")"
fi
check "the refusal is ELOOP" test "$r" = ELOOP

# 2. A dangling symlink: no new host file may appear outside SRC.
stat "$TMP/mnt/b" >/dev/null 2>&1
ln -s "$TMP/outside/new" "$TMP/src/b"
r=$(create b plain)
if [ ! -e "$TMP/outside/new" ]; then
  ok "O_CREAT through a dangling symlink in SRC creates nothing outside SRC ($r)"
else
  not_ok "O_CREAT through a dangling symlink in SRC creates nothing outside SRC" "open said: $r"
fi
check "the symlink in SRC is still a symlink" test -L "$TMP/src/b"

# 3. Ordinary creates still work, O_EXCL included.
r=$(create c trunc)
check "a plain create through the mount works" test "$r" = ok -a "$(cat "$TMP/src/c" 2>/dev/null)" = owned
r=$("$PY" -c 'import os,sys; fd=os.open(sys.argv[1], os.O_CREAT|os.O_EXCL|os.O_WRONLY, 0o600); os.close(fd); print("ok")' "$TMP/mnt/d" 2>&1)
check "O_EXCL create through the mount works" test "$r" = ok -a -f "$TMP/src/d"

umount "$TMP/mnt"
check "unmounted" sh -c "! awk -v m='$TMP/mnt' '\$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo"
reports=$(ls "$TMP/asan" 2>/dev/null)
check "no sanitizer report" test -z "$reports"
finish

#!/bin/bash
# A private libvirtd (Debian's monolithic daemon) for tests and the bench, so
# that the libvirt backend's default kind of URI, a daemon's (docs/libvirt.md),
# runs here without touching the machine's own libvirt:
#   libvirtd-env.sh start DIR [SHARED...]   start it; prints its URI
#   libvirtd-env.sh stop DIR [SHARED...]    destroy its domains, stop it, leave
#                                           nothing; non-zero if something stayed
# It runs in a mount namespace of its own, where /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are DIR's, and in
# a network namespace of its own (its QEMUs' user-mode NAT reaches nothing of
# the machine's). Its socket is DIR/sock/libvirt-sock: the URI is
# qemu:///system?socket=DIR/sock/libvirt-sock. A daemon in its own mount
# namespace sees only the mounts that existed when it started; each SHARED
# directory (runm's state dir: the shim's rootfs binds under exports/) is made
# a shared mount first, so that later mounts under it reach the daemon (and
# the QEMUs it starts) as they would reach a libvirtd in the host's namespace.
set -uo pipefail
cmd=${1:-} DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: libvirtd-env.sh start|stop DIR [SHARED...]" >&2; exit 2; }
case "$DIR" in /*) ;; *) DIR=$(pwd)/$DIR ;; esac
shift 2
URI="qemu:///system?socket=$DIR/sock/libvirt-sock"
say() { echo "libvirtd-env: $*" >&2; }

# Pids in the daemon's mount namespace (recorded at start): the daemon, the
# QEMUs it started, anything they left.
ns_pids() {
  local want p
  want=$(cat "$DIR/mntns" 2>/dev/null) || return 0
  [ -n "$want" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$want" ] && echo "${p#/proc/}"
  done
}

stop() {
  local d p left rc=0
  if [ -S "$DIR/sock/libvirt-sock" ]; then
    for d in $(timeout 20 virsh -c "$URI" list --name 2>/dev/null); do
      timeout 20 virsh -c "$URI" destroy "$d" >/dev/null 2>&1 || say "destroy $d failed"
    done
  fi
  p=$(cat "$DIR/libvirtd.pid" 2>/dev/null)
  [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 50); do [ -z "$(ns_pids)" ] && break; sleep 0.1; done
  for p in $(ns_pids); do kill -KILL "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do [ -z "$(ns_pids)" ] && break; sleep 0.1; done
  left=$(ns_pids)
  [ -z "$left" ] || { say "still running: $left"; rc=1; }
  # The binds start made (its list; a stop after a failed start has fewer).
  while read -r d; do
    umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || { say "cannot unmount $d"; rc=1; }
  done < <(cat "$DIR/shared.list" 2>/dev/null)
  if [ -e "$DIR/made-run-libvirt" ]; then rmdir /run/libvirt 2>/dev/null || { say "cannot remove /run/libvirt"; rc=1; }; fi
  rm -rf "$DIR" || rc=1
  return $rc
}

REAPER='
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
'

start() {
  local d pid
  mkdir -p "$DIR"/{sock,etc/qemu,lib,cache,log,run} || return 1
  cat >"$DIR/etc/libvirtd.conf" <<EOF
# Written by tools/libvirtd-env.sh: a private daemon for runm's tests.
unix_sock_dir = "$DIR/sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$DIR/libvirtd.log"
EOF
  # As runm's embed roots (lib/vm/vm_libvirt_conn.c): QEMU's output to a
  # file (no virtlogd), QEMU as root (9p passthrough).
  cat >"$DIR/etc/qemu.conf" <<'EOF'
stdio_handler = "file"
user = "root"
group = "root"
clear_emulator_capabilities = 0
remember_owner = 0
EOF
  : >"$DIR/shared.list"
  for d in "$@"; do
    mkdir -p "$d" && mount --bind "$d" "$d" && mount --make-shared "$d" || { say "cannot share $d"; return 1; }
    echo "$d" >>"$DIR/shared.list"
  done
  # The daemon's namespaces: a slave of the host's mounts (the shared dirs'
  # later mounts reach it, its own do not leave), private libvirt dirs.
  # libvirt daemonises each QEMU, which then falls to the nearest reaper:
  # this machine's pid 1 reaps orphans only every second or two, and
  # libvirt waits for a killed QEMU's pid to vanish (a Delete took 1.3 s),
  # where a host's init reaps at once. So the daemon runs under a reaper of
  # its own (PR_SET_CHILD_SUBREAPER) that reaps at once, as init does.
  DIR=$DIR setsid unshare --mount --net --propagation slave -- /usr/bin/python3 -c "$REAPER" /bin/bash -c '
    set -e
    # /run/libvirt is made at run time (no package has it): on a fresh
    # boot it may be missing; the stop removes what was made here.
    [ -d /run/libvirt ] || { mkdir /run/libvirt; touch "$DIR/made-run-libvirt"; }
    mount -t tmpfs -o mode=0755 tmpfs /run/libvirt
    mount --bind "$DIR/etc" /etc/libvirt
    mount --bind "$DIR/lib" /var/lib/libvirt
    mount --bind "$DIR/cache" /var/cache/libvirt
    mount --bind "$DIR/log" /var/log/libvirt
    ip link set lo up
    readlink /proc/self/ns/mnt >"$DIR/mntns"
    exec libvirtd --config "$DIR/etc/libvirtd.conf" --pid-file "$DIR/libvirtd.pid"
  ' </dev/null >"$DIR/daemon.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if [ -S "$DIR/sock/libvirt-sock" ] && timeout 10 virsh -c "$URI" version >/dev/null 2>&1; then
      echo "$URI"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "libvirtd did not answer on $DIR/sock/libvirt-sock: $(tail -3 "$DIR/daemon.out" "$DIR/libvirtd.log" 2>/dev/null | tr '\n' ' ')"
  stop "$@"
  return 1
}

case "$cmd" in
start) start "$@" ;;
stop) stop "$@" ;;
*) echo "usage: libvirtd-env.sh start|stop DIR [SHARED...]" >&2; exit 2 ;;
esac

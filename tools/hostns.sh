#!/bin/bash
# hostns.sh CMD [ARG...]: runs CMD in a new network namespace and a new
# (private) mount namespace that stand for "the host" in runm's network tests
# and benches: containerd, the shims, QEMU, CNI's bridge and iptables rules
# all live in there, so the machine's own network is never touched, and
# everything CMD leaves behind in the network ends with its last process.
#
# Inside: `lo` is up; /sys is a fresh sysfs of the new namespace (so
# /sys/class/net lists its links, as `ip netns exec` arranges) with the
# machine's cgroup mounts moved back under /sys/fs/cgroup (which a fresh
# /sys would hide, and runc and the shims need). Mounts made inside stay
# inside (private propagation).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: hostns.sh CMD [ARG...]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "hostns.sh: must run as root" >&2; exit 1; }
exec unshare --mount --net --propagation private -- /bin/bash -c '
set -euo pipefail
ip link set lo up
cg=$(mktemp -d /tmp/hostns-cg.XXXXXX)
if mountpoint -q /sys/fs/cgroup; then mount --rbind /sys/fs/cgroup "$cg"; fi
umount -l /sys
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
if mountpoint -q "$cg"; then mount --move "$cg" /sys/fs/cgroup; fi
rmdir "$cg"
exec "$@"' hostns "$@"

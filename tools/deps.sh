#!/bin/bash
# Installs every Debian package runm's build, guest image and tests need.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  libsquashfs-dev squashfs-tools libelf-dev
  qemu-system-x86 linux-source-6.1 flex bison bc libssl-dev dwarves cpio xz-utils lz4
  busybox-static runc containerd
  containernetworking-plugins iptables iproute2 curl
  python3-grpcio python3-grpc-tools protobuf-compiler-grpc
  libfuse3-dev umoci libjson-c-dev libmnl-dev
  fuse3 bindfs
  gnuplot-nox
  libprotobuf-dev libc-ares-dev zlib1g-dev
  # the libvirt VM backend (lib/vm/vm_libvirt.c) and its tests (the embed
  # driver, virsh; libvirt-daemon-system makes the libvirt-qemu user the
  # driver resolves even when configured to run QEMU as root)
  libvirt-dev libvirt-daemon-driver-qemu libvirt-clients libvirt-daemon libvirt-daemon-system
  # test_libvirt_xml parses the domain XML back with libxml2
  libxml2-dev
  # share_fs = virtiofs: Debian 12's virtiofsd (/usr/lib/qemu/virtiofsd)
  # ships in qemu-system-common (docs/security.md, virtio-fs shares)
  qemu-system-common
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

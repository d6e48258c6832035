#!/bin/bash
# `make demo`: containerd runs a container in a runm VM. A private containerd
# (own root, state and socket under a temp dir) with runm on its PATH, a
# locally built busybox image, `ctr run --runtime io.containerd.runm.v1`, and
# everything stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNM_CTRD_DIR=${RUNM_CTRD_DIR:-$(mktemp -d /tmp/runm-demo.XXXXXX)}
export RUNM_STATE_DIR=$RUNM_CTRD_DIR/runm
ENV=tools/containerd-env.sh
trap 'bash $ENV stop' EXIT

echo "== starting a private containerd in $RUNM_CTRD_DIR"
bash $ENV start
echo "== importing a busybox image built from Debian's busybox-static"
bash test/fixtures/mkimage-busybox.sh "$RUNM_CTRD_DIR/busybox.tar"
bash $ENV ctr images import --base-name docker.io/library/busybox "$RUNM_CTRD_DIR/busybox.tar" >/dev/null
echo
echo "host:            $(uname -a)"
start=$(date +%s.%N)
out=$(bash $ENV ctr run --rm --runtime io.containerd.runm.v1 docker.io/library/busybox:runm demo uname -a)
end=$(date +%s.%N)
echo "runm container:  $out"
printf '(ctr run --rm with runm: %.2f s, VM boot included)\n' "$(echo "$end - $start" | bc)"
echo
echo "== the same through runc, for comparison"
bash $ENV ctr run --rm docker.io/library/busybox:runm demo-runc uname -a
echo
echo "== a standalone VM: ping and boot timeline"
id=demo-$$
build/bin/runmctl vm start --id "$id" >/dev/null
build/bin/runmctl ping --count 20 "$id"
build/bin/runmctl info "$id" | sed -n '/boot timeline/,$p'
build/bin/runmctl vm stop "$id" >/dev/null
echo "== stopping; VMs left: $(build/bin/runmctl vm ls --json)"

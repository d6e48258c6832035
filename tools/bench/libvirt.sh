# shellcheck shell=bash
# The libvirt VM backend (docs/libvirt.md) against the qemu backend, in the
# same run, interleaved (background load hits both alike). Sourced by
# tools/bench.sh. libvirt is the embed driver on a root under WORK (no
# daemon; removed with WORK).
#   RAW/libvirt-boot.txt   "BACKEND ID WALL_S BOOT_S PSS_KIB KEEPER_KIB STOP_S
#                          LOAD" per standalone boot: runmctl vm start's wall
#                          time, its boot_seconds (spawn to first Ping),
#                          QEMU's PSS 2 s after the first Ping (idle memory),
#                          the PSS of the libvirt backend's keeper (QEMU's
#                          parent, docs/libvirt.md; 0 for qemu), runmctl vm
#                          stop's wall time, the 1-min load average
#   RAW/libvirt-cold-{qemu,libvirt}.txt   cold `ctr run --rm` as cold.sh
#   OUT/libvirt.md         the medians and the difference
# The libvirt runs of `ctr run` use runtime io.containerd.runmlv.v1: a
# wrapper shim in WORK/lvbin that execs runm's with RUNM_VM_BACKEND=libvirt.

lv_uri() { echo "qemu:///embed?root=$WORK/lv"; }

# QEMU's proportional set size in KiB (its share of shared pages).
pss_kib() { awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null; }

lv_boot_once() { # BACKEND ID
  local b=$1 id=$2 sd=$WORK/lvctl t0 t1 out pid boot keeper ppid line
  t0=$(now_us)
  if ! out=$(RUNM_STATE_DIR=$sd timeout -k 5 "$LIMIT" "$RUNMCTL" vm start --id "$id" --backend "$b" \
    --libvirt-uri "$(lv_uri)" --json 2>"$WORK/$id.err" 7>&- 8>&- 9>&-); then
    fail "libvirt: runmctl vm start --backend $b $id: $(tail -3 "$WORK/$id.err" | tr '\n' ' ')"
    return 0
  fi
  t1=$(now_us)
  boot=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["boot_seconds"])' "$out")
  sleep 2
  pid=$(awk -F= '$1 == "qemu_pid" { print $2 }' "$sd/vm/$id/vm.info")
  keeper=0
  if [ "$b" = libvirt ]; then
    ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)
    grep -qa __runm-libvirt-helper "/proc/$ppid/cmdline" 2>/dev/null && keeper=$(pss_kib "$ppid")
  fi
  line="$b $id $(secs "$t0" "$t1") $boot $(pss_kib "$pid") ${keeper:-0}"
  t0=$(now_us)
  RUNM_STATE_DIR=$sd timeout 60 "$RUNMCTL" vm stop "$id" >/dev/null 2>>"$WORK/$id.err" ||
    fail "libvirt: runmctl vm stop $id"
  t1=$(now_us)
  echo "$line $(secs "$t0" "$t1") $(cut -d' ' -f1 /proc/loadavg)" >>"$RAW/libvirt-boot.txt"
}

# bench_libvirt N: N boots and N cold starts per backend.
bench_libvirt() {
  local n=$1 i shim=$ROOT/build/bin/containerd-shim-runm-v1
  mkdir -p "$WORK/lvctl" "$WORK/lvbin"
  : >"$RAW/libvirt-boot.txt"
  say "libvirt: $n standalone boots and $n cold starts per backend (qemu, libvirt embed), interleaved"
  lv_boot_once libvirt lvb-warmup # the embed root's first use probes QEMU's capabilities
  : >"$RAW/libvirt-boot.txt"
  for i in $(seq 1 "$n"); do
    lv_boot_once qemu "lvb-qemu-$i"
    lv_boot_once libvirt "lvb-libvirt-$i"
    printf '.' >&2
  done
  echo >&2
  printf '#!/bin/sh\nRUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI="%s" exec "%s" "$@"\n' "$(lv_uri)" "$shim" \
    >"$WORK/lvbin/containerd-shim-runmlv-v1"
  chmod +x "$WORK/lvbin/containerd-shim-runmlv-v1"
  ctrd_stop || return 1
  ctrd_start PATH="$WORK/lvbin:$PATH" || return 1
  : >"$RAW/libvirt-cold-qemu.txt"
  : >"$RAW/libvirt-cold-libvirt.txt"
  cold_once runmlv lvc-warmup /dev/null
  for i in $(seq 1 "$n"); do
    cold_once runm "lvc-qemu-$i" "$RAW/libvirt-cold-qemu.txt"
    cold_once runmlv "lvc-libvirt-$i" "$RAW/libvirt-cold-libvirt.txt"
    printf '.' >&2
  done
  echo >&2
  ctrd_stop || return 1
  ctrd_start
  lv_report
}

lv_report() {
  $PY - "$RAW" "$OUT/libvirt.md" <<'PY'
import statistics, sys
raw, out = sys.argv[1], sys.argv[2]
def med(xs): return statistics.median(xs) if xs else float("nan")
boot = {"qemu": [], "libvirt": []}
for line in open(f"{raw}/libvirt-boot.txt"):
    f = line.split()
    if len(f) >= 8 and f[0] in boot:
        boot[f[0]].append((float(f[2]), float(f[3]), float(f[4]) / 1024, float(f[5]) / 1024,
                           float(f[6]), float(f[7])))
cold = {}
for b in ("qemu", "libvirt"):
    cold[b] = [float(l.split()[3]) for l in open(f"{raw}/libvirt-cold-{b}.txt") if len(l.split()) >= 4]
rows = []
def row(name, q, l, unit, scale=1000, d=0):
    rows.append(f"| {name} | {med(q) * scale:.{d}f} {unit} | {med(l) * scale:.{d}f} {unit} | {(med(l) - med(q)) * scale:+.{d}f} {unit} | {len(q)}/{len(l)} |")
row("boot to first Ping (spawn to Ping)", [x[1] for x in boot["qemu"]], [x[1] for x in boot["libvirt"]], "ms")
row("`runmctl vm start` (wall)", [x[0] for x in boot["qemu"]], [x[0] for x in boot["libvirt"]], "ms")
row("cold `ctr run --rm /bin/true`", cold["qemu"], cold["libvirt"], "ms")
row("`runmctl vm stop` (wall)", [x[4] for x in boot["qemu"]], [x[4] for x in boot["libvirt"]], "ms")
row("idle QEMU PSS, 2 s after Ping", [x[2] for x in boot["qemu"]], [x[2] for x in boot["libvirt"]], "MiB", 1)
row("idle PSS of QEMU's keeper (libvirt)", [x[3] for x in boot["qemu"]], [x[3] for x in boot["libvirt"]], "MiB", 1, 1)
loads = [x[5] for b in boot.values() for x in b]
with open(out, "w") as f:
    f.write("# libvirt backend vs qemu backend (medians; target: <= 150 ms added)\n\n")
    f.write("| figure | qemu | libvirt (embed) | difference | runs |\n|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n")
    if loads:
        f.write(f"\n1-min load average during the boots: {min(loads):.1f}-{max(loads):.1f}\n")
print(open(out).read())
PY
}

# shellcheck shell=bash
# The libvirt VM backend (docs/libvirt.md) against the qemu backend, in the
# same run, interleaved (background load hits all alike; the order rotates
# each round; each cold run starts once the previous run's shim, and so its
# tidy after Delete, has ended: lv_shim_gone). Two kinds of libvirt URI:
#   embed    libvirt's in-process driver on a root under WORK (no daemon)
#   daemon   a private libvirtd (tools/libvirtd-env.sh; qemu:///system with
#            its socket under WORK): the kind `libvirt_uri` defaults to
# Sourced by tools/bench.sh; everything goes with WORK.
#   RAW/libvirt-boot.txt   "BACKEND ID WALL_S BOOT_S PSS_KIB KEEPER_KIB STOP_S
#                          LOAD ROUND" per standalone boot (BACKEND qemu,
#                          libvirt (embed) or libvirtd (daemon)): runmctl vm
#                          start's wall time, its boot_seconds (spawn to
#                          first Ping), QEMU's PSS 2 s after the first Ping
#                          (idle memory), the PSS of the embed backend's
#                          keeper (QEMU's parent, docs/libvirt.md; 0 for the
#                          others), runmctl vm stop's wall time, the 1-min
#                          load average, the round
#   RAW/libvirt-cold-{qemu,libvirt,libvirtd}.txt   cold `ctr run --rm` as
#                          cold.sh, and the round
#   OUT/libvirt.md         medians, the difference of medians, and the
#                          median of the per-round differences with a
#                          bootstrap 90 % interval (rounds pair runs made
#                          seconds apart, under the same load)
# The libvirt runs of `ctr run` use runtimes io.containerd.runmlv.v1 (embed)
# and io.containerd.runmlvd.v1 (daemon): wrapper shims in WORK/lvbin that
# exec runm's with RUNM_VM_BACKEND=libvirt and the URI.

lv_uri() { echo "qemu:///embed?root=$WORK/lv"; }
LVD_URI=

# QEMU's proportional set size in KiB (its share of shared pages).
pss_kib() { awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null; }

lv_boot_once() { # BACKEND ID ROUND  (BACKEND: qemu | libvirt | libvirtd)
  local b=$1 id=$2 round=$3 sd=$WORK/lvctl t0 t1 out pid boot keeper ppid line args=()
  case "$b" in
  qemu) args=(--backend qemu) ;;
  libvirt) args=(--backend libvirt --libvirt-uri "$(lv_uri)") ;;
  libvirtd) args=(--backend libvirt --libvirt-uri "$LVD_URI") ;;
  esac
  t0=$(now_us)
  if ! out=$(RUNM_STATE_DIR=$sd timeout -k 5 "$LIMIT" "$RUNMCTL" vm start --id "$id" "${args[@]}" \
    --json 2>"$WORK/$id.err" 7>&- 8>&- 9>&-); then
    fail "libvirt: runmctl vm start ($b) $id: $(tail -3 "$WORK/$id.err" | tr '\n' ' ')"
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
  echo "$line $(secs "$t0" "$t1") $(cut -d' ' -f1 /proc/loadavg) $round" >>"$RAW/libvirt-boot.txt"
}

# The backends of round $1, rotated: each goes first in a third of them.
lv_order() {
  local all=(qemu libvirt) k
  [ -n "$LVD_URI" ] && all+=(libvirtd)
  k=$(($1 % ${#all[@]}))
  echo "${all[@]:k}" "${all[@]:0:k}"
}

lv_runtime() { case "$1" in qemu) echo runm ;; libvirt) echo runmlv ;; libvirtd) echo runmlvd ;; esac; }

# Waits (20 s at most) until task ID's shim has exited. `ctr run --rm`
# returns after Delete and Shutdown; the embed driver's shim then still runs
# its tidy (a helper starting libvirt's driver to destroy the dead domain),
# off the measured path by design, whose CPU would land on the next run,
# another backend's (measured 2026-12-04: a daemon's cold run +121 ms in
# the 3-way rounds, -100 ms alone against the qemu backend).
lv_shim_gone() {
  local k
  for k in $(seq 1 200); do
    pgrep -f -- "containerd-shim-runm-v1 .*-id $1( |\$)" >/dev/null || return 0
    sleep 0.1
  done
}

# bench_libvirt N: N boots and N cold starts per backend.
bench_libvirt() {
  local n=$1 i b shim=$ROOT/build/bin/containerd-shim-runm-v1
  mkdir -p "$WORK/lvctl" "$WORK/lvbin" "$WORK/lvstate"
  : >"$RAW/libvirt-boot.txt"
  # The daemon's mount namespace sees the state dirs' later mounts (the
  # shims' rootfs binds) through shared mounts made before it starts.
  LVD_URI=$(bash "$ROOT/tools/libvirtd-env.sh" start "$WORK/lvd" "$WORK/lvctl" "$WORK/lvstate" 7>&- 8>&- 9>&-) ||
    { fail "libvirt: the private libvirtd did not start: the daemon rows are missing"; LVD_URI=; }
  say "libvirt: $n standalone boots and $n cold starts per backend (qemu, libvirt embed${LVD_URI:+, libvirt daemon}), interleaved"
  # The embed root's first use probes QEMU's capabilities; so does the
  # daemon's first start.
  lv_boot_once libvirt lvb-warmup 0
  [ -n "$LVD_URI" ] && lv_boot_once libvirtd lvb-warmupd 0
  : >"$RAW/libvirt-boot.txt"
  for i in $(seq 1 "$n"); do
    for b in $(lv_order "$i"); do lv_boot_once "$b" "lvb-$b-$i" "$i"; done
    printf '.' >&2
  done
  echo >&2
  printf '#!/bin/sh\nRUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI="%s" exec "%s" "$@"\n' "$(lv_uri)" "$shim" \
    >"$WORK/lvbin/containerd-shim-runmlv-v1"
  printf '#!/bin/sh\nRUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI="%s" exec "%s" "$@"\n' "$LVD_URI" "$shim" \
    >"$WORK/lvbin/containerd-shim-runmlvd-v1"
  chmod +x "$WORK/lvbin"/containerd-shim-runmlv*-v1
  ctrd_stop || return 1
  ctrd_start PATH="$WORK/lvbin:$PATH" RUNM_STATE_DIR="$WORK/lvstate" || return 1
  for b in qemu libvirt libvirtd; do : >"$RAW/libvirt-cold-$b.txt"; done
  cold_once runmlv lvc-warmup /dev/null
  [ -n "$LVD_URI" ] && cold_once runmlvd lvc-warmupd /dev/null
  for i in $(seq 1 "$n"); do
    for b in $(lv_order "$i"); do
      cold_once "$(lv_runtime "$b")" "lvc-$b-$i" "$WORK/cold.one" && [ -s "$WORK/cold.one" ] &&
        echo "$(cat "$WORK/cold.one") $i" >>"$RAW/libvirt-cold-$b.txt"
      rm -f "$WORK/cold.one"
      lv_shim_gone "lvc-$b-$i"
    done
    printf '.' >&2
  done
  echo >&2
  ctrd_stop || return 1
  if [ -n "$LVD_URI" ]; then
    bash "$ROOT/tools/libvirtd-env.sh" stop "$WORK/lvd" 7>&- 8>&- 9>&- || fail "libvirt: libvirtd-env.sh stop left something"
  fi
  ctrd_start
  lv_report
}

lv_report() {
  $PY - "$RAW" "$OUT/libvirt.md" <<'PY'
import os, random, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
def med(xs): return statistics.median(xs) if xs else float("nan")
kinds = [("libvirt", "libvirt (embed)"), ("libvirtd", "libvirt (daemon)")]
boot = {"qemu": {}, "libvirt": {}, "libvirtd": {}}
for line in open(f"{raw}/libvirt-boot.txt"):
    f = line.split()
    if len(f) >= 9 and f[0] in boot:
        boot[f[0]][f[8]] = (float(f[2]), float(f[3]), float(f[4]) / 1024, float(f[5]) / 1024,
                            float(f[6]), float(f[7]))
cold = {}
for b in boot:
    p = f"{raw}/libvirt-cold-{b}.txt"
    cold[b] = {l.split()[4]: float(l.split()[3]) for l in open(p) if len(l.split()) >= 5} if os.path.exists(p) else {}
random.seed(1)
def paired(q, l):
    """median of the per-round differences and a bootstrap 90 % interval"""
    d = [l[k] - q[k] for k in q if k in l]
    if not d: return "–"
    bs = sorted(med(random.choices(d, k=len(d))) for _ in range(2000))
    return f"{med(d) * 1000:+.0f} ms ({bs[100] * 1000:+.0f} .. {bs[1900] * 1000:+.0f})"
hdr = "| figure | qemu | " + " | ".join(f"{n} | difference | per-round difference (90 %)" for _, n in kinds) + " | runs |"
rows = []
def row(name, pick, src, unit, scale=1000, d=0, pair=True):
    q = {k: pick(v) if src is boot else v for k, v in src["qemu"].items()}
    cells = [f"{med(list(q.values())) * scale:.{d}f} {unit}"]
    runs = [str(len(q))]
    for b, _ in kinds:
        l = {k: pick(v) if src is boot else v for k, v in src[b].items()}
        cells += [f"{med(list(l.values())) * scale:.{d}f} {unit}" if l else "–",
                  f"{(med(list(l.values())) - med(list(q.values()))) * scale:+.{d}f} {unit}" if l else "–",
                  paired(q, l) if pair and l else "–"]
        runs.append(str(len(l)))
    rows.append(f"| {name} | " + " | ".join(cells) + f" | {'/'.join(runs)} |")
row("boot to first Ping (spawn to Ping)", lambda x: x[1], boot, "ms")
row("`runmctl vm start` (wall)", lambda x: x[0], boot, "ms")
row("cold `ctr run --rm /bin/true`", None, cold, "ms")
row("`runmctl vm stop` (wall)", lambda x: x[4], boot, "ms")
row("idle QEMU PSS, 2 s after Ping", lambda x: x[2], boot, "MiB", 1, 0, False)
row("idle PSS of QEMU's keeper (embed)", lambda x: x[3], boot, "MiB", 1, 1, False)
loads = [x[5] for b in boot.values() for x in b.values()]
with open(out, "w") as f:
    f.write("# libvirt backend vs qemu backend (medians; target: <= 150 ms added)\n\n")
    f.write(hdr + "\n|" + "---|" * (hdr.count("|") - 1) + "\n")
    f.write("\n".join(rows) + "\n")
    f.write("\nThe per-round difference pairs runs made seconds apart (one round runs each backend once,"
            " in rotating order); in brackets, a bootstrap 90 % interval of its median.\n")
    if loads:
        f.write(f"\n1-min load average during the boots: {min(loads):.1f}-{max(loads):.1f}\n")
print(open(out).read())
PY
}

#!/bin/bash
# runm-bindfs against the plain source directory and Debian's bindfs, side
# by side in one run: sequential write and read throughput and metadata op
# rates. Writes OUTDIR/bindfs.json and OUTDIR/bindfs.md; the ratio
# runm-bindfs/bindfs is in both (> 1: runm-bindfs is faster).
#
#   bash tools/bench-bindfs.sh OUTDIR
#
# Environment: BENCH_BINDFS_MIB (sequential file size, default 256),
# BENCH_BINDFS_FILES (small files, default 2000), BENCH_BINDFS_RUNS (best
# of N, default 3), RUNM_BIN (default build/bin); for tuning:
# BENCH_BINDFS_ARGS (extra runm-bindfs arguments, e.g. "-o no_splice") and
# BENCH_BINDFS_TARGETS (default "source runm-bindfs bindfs"; the report
# needs all three).
#
# What is measured, per target (source dir, runm-bindfs mount, bindfs mount):
#   write      a fresh SIZE MiB file in 1 MiB writes (no fsync: the page
#              cache below is the limit, so the FUSE path is what differs)
#   read       that file in 1 MiB reads on a fresh mount (FUSE page cache
#              cold, the source's pages cached): the FUSE round trips
#   reread     the same again without remounting (what the kernel keeps)
#   create     N files of 64 bytes (open O_CREAT, write, close)
#   stat       stat of each on a fresh mount (lookup + getattr)
#   readdir    listing the N-entry directory on a fresh mount
#   ls -l      scandir + lstat of each entry on a fresh mount
#   unlink     removing the N files
# Each figure is the best of RUNS runs (a shared machine adds only delays).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-}
[ -n "$OUT" ] || { echo "usage: bench-bindfs.sh OUTDIR" >&2; exit 2; }
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
RUNM_BIN=${RUNM_BIN:-$ROOT/build/bin}
case "$RUNM_BIN" in /*) ;; *) RUNM_BIN=$ROOT/$RUNM_BIN ;; esac
BINDFS=$RUNM_BIN/runm-bindfs
MIB=${BENCH_BINDFS_MIB:-256}
FILES=${BENCH_BINDFS_FILES:-2000}
RUNS=${BENCH_BINDFS_RUNS:-3}
PY=/usr/bin/python3

die() { echo "bench-bindfs: $*" >&2; exit 1; }
[ -x "$BINDFS" ] || die "$BINDFS is not built (make)"
command -v bindfs >/dev/null || die "Debian's bindfs is not installed (make deps)"
for v in "$MIB" "$FILES" "$RUNS"; do [[ $v =~ ^[1-9][0-9]*$ ]] || die "\`$v\`: want a positive integer"; done

W=$(mktemp -d /tmp/runm-bench-bindfs.XXXXXX)
mounts() { awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo; }
finish() {
  local m
  for m in $(mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf "$W"
}
trap finish EXIT
trap 'exit 130' INT TERM

# mount_target NAME: (re)mounts target NAME's FUSE view of its source.
mount_target() {
  local t=$1
  mkdir -p "$W/src-$t" "$W/mnt-$t"
  mountpoint -q "$W/mnt-$t" && { umount "$W/mnt-$t" || return 1; }
  case "$t" in
  source) return 0 ;;
  # shellcheck disable=SC2086
  runm-bindfs) "$BINDFS" "$W/src-$t" "$W/mnt-$t" ${BENCH_BINDFS_ARGS:-} ;;
  bindfs) bindfs "$W/src-$t" "$W/mnt-$t" ;;
  esac
}
dir_of() { if [ "$1" = source ]; then echo "$W/src-source"; else echo "$W/mnt-$1"; fi; }

# measure TARGET PHASE: one run of one phase; prints seconds (and count).
measure() {
  "$PY" - "$(dir_of "$1")" "$2" "$MIB" "$FILES" "$W/src-$1" <<'PY'
import os, sys, time
d, phase, mib, files, src = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
MiB = 1 << 20
buf = b"\xa5" * MiB
seq = os.path.join(d, "seq")
meta = os.path.join(d, "meta")
t = time.perf_counter
if phase == "write":
    if os.path.exists(seq):
        os.unlink(seq)
    s = t()
    fd = os.open(seq, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(mib):
        os.write(fd, buf)
    os.close(fd)
    print(t() - s)
elif phase in ("read", "reread"):
    # The source's pages stay cached: the FUSE path is what is timed.
    with open(os.path.join(src, "seq"), "rb") as f:
        while f.read(8 * MiB):
            pass
    s = t()
    fd = os.open(seq, os.O_RDONLY)
    n = 0
    while True:
        k = len(os.read(fd, MiB))
        if k == 0:
            break
        n += k
    os.close(fd)
    assert n == mib * MiB, n
    print(t() - s)
elif phase == "create":
    os.makedirs(meta, exist_ok=True)
    for n in os.listdir(meta):
        os.unlink(os.path.join(meta, n))
    payload = b"x" * 64
    s = t()
    for i in range(files):
        fd = os.open(os.path.join(meta, f"f{i:06d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, payload)
        os.close(fd)
    print(t() - s)
elif phase == "stat":
    names = [os.path.join(meta, f"f{i:06d}") for i in range(files)]
    s = t()
    for p in names:
        os.stat(p)
    print(t() - s)
elif phase == "readdir":
    s = t()
    n = len(os.listdir(meta))
    print(t() - s)
    assert n == files, n
elif phase == "lsl":
    s = t()
    n = 0
    for e in os.scandir(meta):
        e.stat(follow_symlinks=False)
        n += 1
    print(t() - s)
    assert n == files, n
elif phase == "unlink":
    names = [os.path.join(meta, f"f{i:06d}") for i in range(files)]
    s = t()
    for p in names:
        os.unlink(p)
    print(t() - s)
PY
}

# run_phase PHASE REMOUNT: RUNS rounds; in each, every target runs the
# phase once, so load from elsewhere on the machine hits all targets alike.
# Keeps each target's fastest run (seconds) in R[target.phase]. REMOUNT=1
# mounts afresh before each run (cold FUSE caches); unlink gets its files
# made again first.
run_phase() {
  local phase=$1 remount=$2 i t s
  for i in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      if [ "$phase" = unlink ]; then measure "$t" create >/dev/null || return 1; fi
      if [ "$remount" = 1 ]; then mount_target "$t" || return 1; fi
      s=$(measure "$t" "$phase") || { echo "bench-bindfs: $t: $phase failed" >&2; return 1; }
      R[$t.$phase]=$(awk -v a="${R[$t.$phase]:-$s}" -v c="$s" 'BEGIN { print (c < a ? c : a) }')
    done
  done
}

read -r -a TARGETS <<<"${BENCH_BINDFS_TARGETS:-source runm-bindfs bindfs}"
declare -A R
for t in "${TARGETS[@]}"; do mount_target "$t" || die "cannot mount $t"; done
for p in write:0 read:1 reread:0 create:0 stat:1 readdir:1 lsl:1 unlink:0; do
  echo "bench-bindfs: ${p%:*} ..." >&2
  run_phase "${p%:*}" "${p#*:}" || exit 1
done
for t in "${TARGETS[@]}"; do
  echo "  $t: $(for k in write read reread create stat readdir lsl unlink; do printf '%s=%.4f ' $k "${R[$t.$k]}"; done)" >&2
done
[ "${#TARGETS[@]}" -eq 3 ] || exit 0

args=()
for k in "${!R[@]}"; do args+=("$k=${R[$k]}"); done
"$PY" - "$OUT" "$MIB" "$FILES" "$RUNS" "$("$BINDFS" --version)" "$(bindfs --version 2>&1 | head -1)" "${args[@]}" <<'PY'
import json, sys, os, platform
out, mib, files, runs, ours, theirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
secs = {}
for a in sys.argv[7:]:
    k, v = a.split("=", 1)
    t, phase = k.rsplit(".", 1)
    secs.setdefault(t, {})[phase] = float(v)
targets = ["source", "runm-bindfs", "bindfs"]
# Figures: MiB/s for data, operations (entries) per second for metadata.
rows = [("write", "seq write", "MiB/s", mib), ("read", "seq read (cold FUSE cache)", "MiB/s", mib),
        ("reread", "seq re-read", "MiB/s", mib), ("create", "create 64 B files", "files/s", files),
        ("stat", "stat (cold)", "stats/s", files), ("readdir", "readdir (cold)", "entries/s", files),
        ("lsl", "ls -l: readdir + lstat (cold)", "entries/s", files), ("unlink", "unlink", "files/s", files)]
res = {t: {p: round(n / secs[t][p], 1) for p, _, _, n in rows} for t in targets}
ratio = {p: round(res["runm-bindfs"][p] / res["bindfs"][p], 2) for p, _, _, _ in rows}
doc = {
    "what": "runm-bindfs vs the source directory and Debian's bindfs (tools/bench-bindfs.sh)",
    "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
    "versions": {"runm-bindfs": ours, "bindfs": theirs},
    "params": {"seq_mib": mib, "files": files, "best_of": runs},
    "units": {p: u for p, _, u, _ in rows},
    "results": res,
    "seconds": secs,
    "ratio_runm_bindfs_over_bindfs": ratio,
    "runm_bindfs_not_slower": all(v >= 1.0 for v in ratio.values()),
}
with open(os.path.join(out, "bindfs.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
with open(os.path.join(out, "bindfs.md"), "w") as f:
    f.write(f"# runm-bindfs benchmark\n\n{ours} vs {theirs}, kernel {platform.release()}, "
            f"{os.cpu_count()} CPUs; {mib} MiB sequential file, {files} small files, best of {runs}.\n\n")
    f.write("| operation | unit | source dir | runm-bindfs | bindfs | runm-bindfs / bindfs |\n")
    f.write("|---|---|---:|---:|---:|---:|\n")
    for p, label, unit, _ in rows:
        f.write(f"| {label} | {unit} | {res['source'][p]:.0f} | {res['runm-bindfs'][p]:.0f} | "
                f"{res['bindfs'][p]:.0f} | {ratio[p]:.2f} |\n")
    f.write("\nHow each figure is measured: tools/bench-bindfs.sh; what it means: docs/bindfs.md.\n")
print(open(os.path.join(out, "bindfs.md")).read())
PY

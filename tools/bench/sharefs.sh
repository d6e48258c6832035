# shellcheck shell=bash
# The shares over 9p (share_fs = 9p) against virtio-fs (share_fs =
# virtiofs, Debian's virtiofsd), in the same run, interleaved (background
# load hits both alike). Sourced by tools/bench.sh. The virtio-fs runs use
# runtime io.containerd.runmvfs.v1: a wrapper shim in WORK/vfsbin that execs
# runm's with RUNM_SHARE_FS=virtiofs.
# Each run is one container (a fresh VM: the guest's caches are cold) with
# a read-only volume /data (made once on the host: 50 dirs x 100 files of a
# few bytes, a tar of 10 of those dirs, a 256 MiB file) and an empty rw volume /out; in it
# busybox times each step on the guest's /proc/uptime (10 ms):
#   ls -lR /data/tree      metadata, cold: readdir + lookup + getattr of 5000 files
#   find /data/tree        metadata, warm: the same walk again
#   tar xf tree1k.tar      untar 1000 files into /out (create, write,
#                          chmod, utimes, close: ~20 ms each under TCG)
#   rm -rf /out/tree       unlink those 1000 files
#   dd write 256 MiB       /dev/zero to /out/big, bs=1M, fsync
#   dd read 256 MiB        /data/big to /dev/null, bs=1M (cold in the guest)
# Also a cold `ctr run --rm /bin/true` per mode and the idle PSS of a
# `sleep` container's shim tree (QEMU, and virtiofsd for virtio-fs).
#   RAW/sharefs-MODE.txt       "STEP SECONDS" per step and run
#   RAW/sharefs-cold-MODE.txt  cold starts as cold.sh
#   RAW/sharefs-idle-MODE.json procs.py tree
#   OUT/sharefs.md             the medians side by side

SHAREFS_SCRIPT='t() { read u _ </proc/uptime; echo "$u"; }
step() { n=$1; shift; a=$(t); "$@" >/dev/null 2>&1 || { echo "FAIL $n"; exit 1; }; b=$(t); echo "$n $a $b"; }
step ls_lR ls -lR /data/tree
step find find /data/tree
step untar tar xf /data/tree1k.tar -C /out
step rm rm -rf /out/tree
step write dd if=/dev/zero of=/out/big bs=1M count=256 conv=fsync
step read dd if=/data/big of=/dev/null bs=1M
rm -f /out/big'

sharefs_data() { # DIR: the read-only volume's contents
  local d=$1 i j
  mkdir -p "$d/tree" || return 1
  for i in $(seq 1 50); do
    mkdir "$d/tree/d$i" || return 1
    for j in $(seq 1 100); do echo "file $i $j" >"$d/tree/d$i/f$j"; done
  done
  tar cf "$d/tree1k.tar" -C "$d" $(for i in $(seq 1 10); do echo "tree/d$i"; done) && dd if=/dev/zero of="$d/big" bs=1M count=256 status=none
}

sharefs_once() { # MODE RUN
  local m=$1 id="sfs-$1-$2" rt=runm out=$WORK/sharefs-out LIMIT=600 rc
  [ "$m" = virtiofs ] && rt=runmvfs
  rm -rf "$out" && mkdir -p "$out" || return 1
  CTR run --rm --runtime "$(runtime_of "$rt")" \
    --mount "type=bind,src=$WORK/sharefs-data,dst=/data,options=rbind:ro" \
    --mount "type=bind,src=$out,dst=/out,options=rbind:rw" \
    "$IMAGE" "$id" sh -c "$SHAREFS_SCRIPT" </dev/null >"$WORK/$id.out" 2>"$WORK/$id.err"
  rc=$?
  # The steps that finished count even when a later one did not.
  awk 'NF == 3 && $1 != "FAIL" { printf "%s %.2f\n", $1, $3 - $2 }' "$WORK/$id.out" >>"$RAW/sharefs-$m.txt"
  if [ $rc -ne 0 ] || grep -q FAIL "$WORK/$id.out"; then
    fail "sharefs: $m run $2 (limit ${LIMIT}s): $(tail -2 "$WORK/$id.out" "$WORK/$id.err" | tr '\n' ' ')"
    CTR task delete -f "$id" >/dev/null 2>&1
    CTR containers rm "$id" >/dev/null 2>&1
  fi
}

# bench_sharefs N: N runs of the steps, N cold starts, one idle container per mode.
bench_sharefs() {
  local n=$1 i m shim=$ROOT/build/bin/containerd-shim-runm-v1
  say "sharefs: 9p vs virtio-fs, $n runs each (metadata, untar, 256 MiB), cold starts, idle PSS"
  mkdir -p "$WORK/vfsbin" "$WORK/sharefs-data"
  sharefs_data "$WORK/sharefs-data" || { fail "sharefs: make the data"; return 0; }
  printf '#!/bin/sh\nRUNM_SHARE_FS=virtiofs exec "%s" "$@"\n' "$shim" >"$WORK/vfsbin/containerd-shim-runmvfs-v1"
  chmod +x "$WORK/vfsbin/containerd-shim-runmvfs-v1"
  ctrd_stop || return 1
  ctrd_start PATH="$WORK/vfsbin:$PATH" || return 1
  for m in 9p virtiofs; do : >"$RAW/sharefs-$m.txt"; : >"$RAW/sharefs-cold-$m.txt"; done
  cold_once runmvfs sfs-warmup /dev/null
  for i in $(seq 1 "$n"); do
    sharefs_once 9p "$i"
    sharefs_once virtiofs "$i"
    cold_once runm "sfsc-9p-$i" "$RAW/sharefs-cold-9p.txt"
    cold_once runmvfs "sfsc-virtiofs-$i" "$RAW/sharefs-cold-virtiofs.txt"
    printf '.' >&2
  done
  echo >&2
  for m in 9p virtiofs; do
    local rt=runm
    [ "$m" = virtiofs ] && rt=runmvfs
    if start_sleeper "$rt" "sfsi-$m"; then
      $PY "$PROCS" wait-idle --sock "$SOCK" --id "sfsi-$m" --max 30 >/dev/null || fail "sharefs: $m wait-idle"
      $PY "$PROCS" tree --sock "$SOCK" --id "sfsi-$m" >"$RAW/sharefs-idle-$m.json" || fail "sharefs: $m PSS"
    else
      fail "sharefs: $m idle container"
    fi
    remove_containers "sfsi-$m"
  done
  rm -rf "$WORK/sharefs-data" "$WORK/sharefs-out"
  ctrd_stop || return 1
  ctrd_start
  sharefs_report
}

sharefs_report() {
  $PY - "$RAW" "$OUT/sharefs.md" <<'PY'
import json, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
def med(xs): return statistics.median(xs) if xs else float("nan")
steps = [("ls_lR", "`ls -lR` 5000 files, cold (s)"), ("find", "`find` 5000 files, warm (s)"),
         ("untar", "untar 1000 files (s)"), ("rm", "`rm -rf` 1000 files (s)"),
         ("write", "write 256 MiB, fsync (s)"), ("read", "read 256 MiB, cold (s)")]
d = {}
for m in ("9p", "virtiofs"):
    d[m] = {}
    for line in open(f"{raw}/sharefs-{m}.txt"):
        f = line.split()
        if len(f) == 2: d[m].setdefault(f[0], []).append(float(f[1]))
    d[m]["cold"] = [float(l.split()[3]) for l in open(f"{raw}/sharefs-cold-{m}.txt") if len(l.split()) >= 4]
    try:
        d[m]["pss"] = [json.load(open(f"{raw}/sharefs-idle-{m}.json"))["total_kib"] / 1024]
    except (OSError, ValueError, KeyError):
        d[m]["pss"] = []
rows = []
for k, name in steps + [("cold", "cold `ctr run --rm /bin/true` (s)"), ("pss", "idle PSS, shim tree (MiB)")]:
    a, b = med(d["9p"].get(k, [])), med(d["virtiofs"].get(k, []))
    extra = ""
    if k in ("write", "read"): extra = f" ({256 / a:.1f} / {256 / b:.1f} MiB/s)"
    rows.append(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f}{extra} | {len(d['9p'].get(k, []))}/{len(d['virtiofs'].get(k, []))} |")
with open(out, "w") as f:
    f.write("# shares: 9p vs virtio-fs (medians; ratio = virtio-fs / 9p, < 1 is faster)\n\n")
    f.write("| figure | 9p | virtio-fs | ratio | runs |\n|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n")
print(open(out).read())
PY
}

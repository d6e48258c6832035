#!/bin/bash
# `make bench`: runc-v2 (io.containerd.runc.v2) and runm (io.containerd.runm.v1)
# side by side on this machine, through a private containerd, with the
# busybox image of test/fixtures/mkimage-busybox.sh. Writes, under BENCH_OUT:
#   results.json  every figure, with the raw runs
#   results.md    the table (figures, issue 6's targets, what dominates)
#   cold-start.png, timeline.png, many-memory.png   gnuplot plots
#   raw/          what each section measured; plot/  the plots' data
# What each figure means: docs/performance.md. Timed targets live here,
# never in `make test`.
#
# Environment:
#   BENCH_OUT=DIR        results folder (default bench-results)
#   BENCH_RUNS=N         cold starts and execs per runtime (default 20)
#   BENCH_QUICK=1        a short run: 5 runs, 2 boots, 200 pings, 32 MiB stdio,
#                        4 containers at once (explicit settings still win)
#   BENCH_BOOTS=N        standalone VM boots (default 5)
#   BENCH_PINGS=N        Ping round trips (default 1000)
#   BENCH_STDIO_MIB=N    stdout and stdin volume (default 256)
#   BENCH_MANY=N         containers started at once (default 10)
#   BENCH_PODS=N         CRI pods (2 containers each) started per runtime
#                        (default 5)
#   BENCH_TIMEOUT=S      limit for any one ctr command (default 180)
#   BENCH_STDIO_REPS=N   stdout and stdin runs per runtime (default 3)
#   BENCH_SECTIONS="..." only these sections (of boot cold running many pods
#                        warm recheck libvirt sharefs bindfs net; default all): to
#                        re-measure what a change touched, not for published
#                        figures
#   BENCH_LIBVIRT=N      boots and cold starts per VM backend in the libvirt
#                        section (default: BENCH_BOOTS; report OUT/libvirt.md)
#   BENCH_SHAREFS=N      runs per share mode (9p, virtio-fs) in the sharefs
#                        section (default 3; report OUT/sharefs.md)
#   RUNM_CTRD_DIR, RUNM_CTRD_NS   the private containerd (default
#                        /tmp/runm-ctrd-bench, namespace bench)
# Sections: tools/bench/{boot,cold,running,many}.sh, tools/bench-bindfs.sh,
# tools/bench-net.sh (networking: TAP vs user-mode NAT); numbers:
# tools/bench/report.py; plots: tools/bench/*.gp.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then d_runs=5 d_boots=2 d_pings=200 d_mib=32 d_many=4 d_pods=2; else
  d_runs=20 d_boots=5 d_pings=1000 d_mib=256 d_many=10 d_pods=5
fi
PODS=${BENCH_PODS:-$d_pods}
RUNS=${BENCH_RUNS:-$d_runs}
BOOTS=${BENCH_BOOTS:-$d_boots}
PINGS=${BENCH_PINGS:-$d_pings}
STDIO_MIB=${BENCH_STDIO_MIB:-$d_mib}
MANY=${BENCH_MANY:-$d_many}
SECTIONS=${BENCH_SECTIONS:-}
OUT=${BENCH_OUT:-bench-results}
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
CTRD_DIR=${RUNM_CTRD_DIR:-/tmp/runm-ctrd-bench}
NS=${RUNM_CTRD_NS:-bench}
RAW=$OUT/raw
WORK= # set once the prerequisites are checked
BODY= # pid of the measurements while they run
TIMING=

. "$ROOT/tools/bench/lib.sh"
. "$ROOT/tools/bench/boot.sh"
. "$ROOT/tools/bench/cold.sh"
. "$ROOT/tools/bench/running.sh"
. "$ROOT/tools/bench/many.sh"
. "$ROOT/tools/bench/pods.sh"
. "$ROOT/tools/bench/libvirt.sh"
. "$ROOT/tools/bench/sharefs.sh"

# ---- prerequisites ----------------------------------------------------------
for v in PODS:"$PODS" RUNS:"$RUNS" BOOTS:"$BOOTS" PINGS:"$PINGS" STDIO_MIB:"$STDIO_MIB" MANY:"$MANY" TIMEOUT:"$LIMIT"; do
  [[ ${v#*:} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v%%:*}=${v#*:}: want a positive integer"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (containerd, runc and the rootfs mounts need it)"
missing=()
for c in containerd ctr runc qemu-system-x86_64 umoci gnuplot flock timeout; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[ -x /usr/bin/python3 ] || missing+=(/usr/bin/python3)
[ -x /bin/busybox ] || missing+=(/bin/busybox)
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run \`make deps\` (tools/deps.sh) first"
for f in build/bin/runmctl build/bin/containerd-shim-runm-v1 build/share/runm/vmlinux \
  build/share/runm/initrd.cpio build/share/runm/mbin.squashfs; do
  [ -e "$f" ] || die "$f is missing: run \`make\` first (\`make bench\` builds)"
done
[ -x tools/containerd-env.sh ] || [ -f tools/containerd-env.sh ] || die "tools/containerd-env.sh is missing"
case "$CTRD_DIR" in /tmp/* | /run/* | /var/tmp/*) ;; *) die "RUNM_CTRD_DIR=$CTRD_DIR: want a dir under /tmp, /run or /var/tmp (it is removed afterwards)" ;; esac
# One bench per containerd dir at a time.
# fd 9 holds the lock; 7 and 8 keep our stdout and stderr for the traps
# (a trap runs inside the redirections of the command it interrupted).
# Long-lived children (containerd, VM supervisors) get none of them.
exec 9>"$CTRD_DIR.lock" 7>&1 8>&2 || die "cannot create $CTRD_DIR.lock"
flock -n 9 || die "another bench holds $CTRD_DIR.lock"

WORK=$(mktemp -d /tmp/runm-bench.XXXXXX) || die "mktemp failed"
TIMING=$WORK/timing
mkdir -p "$TIMING"
export RUNM_CTRD_DIR=$CTRD_DIR RUNM_CTRD_NS=$NS

ctrd_stop() { bash "$ENV_SH" stop; }
# ctrd_start [VAR=VALUE...]: the private containerd (with CRI, for the pods
# section), its shims' environment (runm state under the containerd dir,
# timing records on, no VM pool unless asked: see docs/pool.md), and the
# busybox image.
ctrd_start() {
  env RUNM_CTRD_CRI=1 RUNM_POOL_SIZE=0 RUNM_STATE_DIR="$CTRD_DIR/runm" RUNM_TIMING_DIR="$TIMING" "$@" \
    bash "$ENV_SH" start 7>&- 8>&- 9>&- || { fail "containerd did not start"; return 1; }
  bash "$ENV_SH" ctr images import --base-name docker.io/library/busybox "$WORK/busybox.tar" >/dev/null ||
    { fail "image import failed"; return 1; }
}

cleanup() {
  local rc=$? left
  trap - EXIT INT TERM HUP
  exec 1>&7 2>&8
  # The measurements' process tree first (ctr, timeout, samplers), so that
  # nothing starts anything while the rest is stopped.
  if [ -n "$BODY" ]; then
    exec 2>/dev/null # not bash's "Killed measure"
    $PY "$PROCS" kill-tree "$BODY"
    wait "$BODY"
    exec 2>&8
  fi
  boot_cleanup
  ctrd_stop || rc=1
  # The libvirt section's private daemon (its QEMUs, its namespace's mounts).
  if [ -d "$WORK/lvd" ]; then bash "$ROOT/tools/libvirtd-env.sh" stop "$WORK/lvd" || rc=1; fi
  # Anything of ours still alive (argv naming our dirs) is a bug: say it, end it.
  left=$($PY "$PROCS" left --mention "$CTRD_DIR/" "$WORK/" 2>/dev/null)
  if [ -n "$left" ]; then
    say "left behind, killing: $(tr '\n' ' ' <<<"$left")"
    # shellcheck disable=SC2086 # one pid a word
    kill -KILL $left 2>/dev/null
    rc=1
  fi
  awk -v a="$CTRD_DIR/" -v b="$WORK/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts |
    sort -r | while read -r m; do say "left mounted: $m"; umount -l "$m"; done
  rm -rf "$WORK" "$CTRD_DIR.lock"
  exit $rc
}
trap cleanup EXIT
# On a signal, freeze the measurements at once (cleanup then ends them).
freeze() { [ -z "$BODY" ] || kill -STOP "$BODY" 2>/dev/null; }
trap 'freeze; say interrupted 2>&8; exit 130' INT
trap 'freeze; say terminated 2>&8; exit 143' TERM
trap 'freeze; exit 129' HUP

# ---- run ----------------------------------------------------------------------
mkdir -p "$OUT" || die "cannot create $OUT"
rm -rf "$RAW" "$OUT/plot" "$OUT"/results.{json,md} "$OUT"/*.png "$OUT"/bindfs.{json,md} "$OUT"/net.{json,md} "$OUT/net-raw"
mkdir -p "$RAW"
T_START=$SECONDS
meta() { echo "$1=$2" >>"$RAW/meta.txt"; }
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta host "$(hostname)"
meta cpus "$(nproc)"
meta mem_mib "$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
meta host_kernel "$(uname -r)"
meta containerd "$(containerd --version | awk '{ print "containerd " $3 }')"
meta runc "$(runc --version | head -1)"
meta qemu "$(qemu-system-x86_64 --version | head -1 | sed 's/ (.*//')"
meta commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +changes)"
meta namespace "$NS"
meta quick "$QUICK"
meta runs "$RUNS"
meta boots "$BOOTS"
meta pings "$PINGS"
meta stdio_mib "$STDIO_MIB"
meta many "$MANY"
meta sections "${SECTIONS:-all}"
meta pods "$PODS"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta foreign_vms "$($PY "$PROCS" left --mention qemu-system | wc -l)"
say "results in $OUT (runs $RUNS, boots $BOOTS, pings $PINGS, stdio $STDIO_MIB MiB, $MANY at once)"

section() { # NAME CMD...: timed, with the load average, in meta; returns CMD's status
  local name=$1 t=$SECONDS rc
  shift
  case " ${SECTIONS:-$name} " in *" ${name%%_*} "*) ;; *) return 0 ;; esac
  meta "section_${name}_load_start" "$(cut -d' ' -f1 /proc/loadavg)"
  "$@"
  rc=$?
  meta "section_${name}_s" $((SECONDS - t))
  meta "section_${name}_load_end" "$(cut -d' ' -f1 /proc/loadavg)"
  return $rc
}

# Every measurement; a failed one is recorded (RAW/failed.txt) and the
# rest carry on. It runs in the background so that a signal reaches the
# traps at once, not after the ctr command it interrupted.
measure() {
  # ^C reaches the whole process group: only the main shell acts on it
  # (its trap stops this tree from the top, so nothing is orphaned).
  trap '' INT
  bash test/fixtures/mkimage-busybox.sh "$WORK/busybox.tar" || die "building the busybox image failed"
  ctrd_stop >/dev/null 2>&1 # what an earlier, killed run may have left
  ctrd_start || die "the private containerd did not start (see above)"

  section boot bench_boot "$BOOTS" "$PINGS"
  section cold bench_cold "$RUNS"
  section running bench_running "$RUNS" $((STDIO_MIB << 20))
  for rt in runc runm; do
    section "many_$rt" bench_many "$rt" "$MANY"
  done
  case " ${SECTIONS:-pods} " in
    *" pods "*)
      if pods_setup; then
        for rt in runc runm; do
          section "pods_$rt" bench_pods "$rt" "$PODS"
        done
      fi ;;
  esac
  section warm bench_warm "$RUNS"
  section libvirt bench_libvirt "${BENCH_LIBVIRT:-$BOOTS}"
  section sharefs bench_sharefs "${BENCH_SHAREFS:-3}"
  # Last: the runc-v2 baseline again, to see whether the load drifted.
  section recheck bench_recheck "$RUNS"
  ctrd_stop || fail "containerd-env.sh stop left something behind"
  mkdir -p "$RAW/timing"
  cp "$TIMING"/*.timing "$RAW/timing/" 2>/dev/null || fail "no shim timing records in $TIMING"

  # Shared directories: another tool measures them; its table is folded in.
  if [ -n "$SECTIONS" ] && [[ " $SECTIONS " != *" bindfs "* ]]; then
    echo "not in BENCH_SECTIONS" >"$RAW/bindfs.na"
  elif [ -f tools/bench-bindfs.sh ]; then
    say "bindfs: tools/bench-bindfs.sh"
    section bindfs bash tools/bench-bindfs.sh "$OUT" || fail "bindfs: tools/bench-bindfs.sh failed"
  else
    echo "tools/bench-bindfs.sh is not there yet" >"$RAW/bindfs.na"
  fi

  # Networking (issue 12): TAP mode vs user-mode NAT, in a test-host
  # network namespace of its own; its table is folded in too.
  say "net: tools/bench-net.sh"
  section net bash tools/bench-net.sh "$OUT" 7>&- 8>&- 9>&- || fail "net: tools/bench-net.sh failed (see $OUT/net-raw/failed.txt)"
}
: >"$RAW/failed.txt"
measure &
BODY=$!
wait $BODY || die "measurements aborted"
BODY=

meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta foreign_vms_end "$($PY "$PROCS" left --mention qemu-system | wc -l)"
meta elapsed_s $((SECONDS - T_START))
$PY tools/bench/report.py "$OUT" || die "report.py failed"
for gp in cold timeline many; do
  [ -z "$SECTIONS" ] || break # a partial run has not the data of every plot
  gnuplot -e "dir='$OUT'" "tools/bench/$gp.gp" 2>"$WORK/gnuplot.err" ||
    fail "plot $gp: $(head -3 "$WORK/gnuplot.err" | tr '\n' ' ')"
done
cat "$OUT/results.md"
if grep -q '^## WARNING' "$OUT/results.md"; then
  say "WARNING: the load changed or was high during this run: its ratios are unreliable (see the top of results.md)"
fi
nfail=$(grep -c . "$RAW/failed.txt")
if [ "$nfail" -gt 0 ]; then
  say "$nfail measurement(s) failed (listed in results.md)"
  exit 1
fi
say "done in $((SECONDS - T_START)) s: $OUT/results.md"

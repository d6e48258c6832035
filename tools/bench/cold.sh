# shellcheck shell=bash
# Cold start: `ctr run --rm IMAGE ID /bin/true`, timed from ctr's start to
# its exit, runc-v2 and runm interleaved (so that background load hits both
# alike). Sourced by tools/bench.sh.
#   RAW/cold-RUNTIME.txt   "ID T0_US T1_US SECONDS" per successful run
#   TIMING/NS-ID.timing    runm's shim records for the run (host/shim timing.c)

# cold_once RUNTIME ID FILE: one timed run, appended to FILE.
cold_once() {
  local rt=$1 id=$2 file=$3 t0 t1 rc
  t0=$(now_us)
  CTR run --rm --runtime "$(runtime_of "$rt")" "$IMAGE" "$id" /bin/true \
    </dev/null >"$WORK/$id.out" 2>"$WORK/$id.err"
  rc=$?
  t1=$(now_us)
  if [ $rc -ne 0 ]; then
    fail "cold: $rt run $id exited $rc: $(tail -2 "$WORK/$id.err" | tr '\n' ' ')"
    CTR task delete -f "$id" >/dev/null 2>&1
    CTR containers rm "$id" >/dev/null 2>&1
    return 0
  fi
  echo "$id $t0 $t1 $(secs "$t0" "$t1")" >>"$file"
}

# bench_cold N: N runs per runtime.
bench_cold() {
  local n=$1 i
  : >"$RAW/cold-runc.txt"
  : >"$RAW/cold-runm.txt"
  say "cold start: $n x ctr run --rm /bin/true per runtime (interleaved)"
  # One unmeasured run each: the first run pays for cold page caches.
  cold_once runc cold-warmup-runc "$WORK/warmup.txt"
  cold_once runm cold-warmup-runm "$WORK/warmup.txt"
  for i in $(seq 1 "$n"); do
    cold_once runm "cold-runm-$i" "$RAW/cold-runm.txt"
    cold_once runc "cold-runc-$i" "$RAW/cold-runc.txt"
    printf '.' >&2
  done
  echo >&2
}

# ---- warm start ---------------------------------------------------------------
# A warm start is a `ctr run --rm` whose VM was booted beforehand by the VM pool
# (docs/pool.md): containerd is restarted with RUNM_POOL_SIZE=BENCH_POOL_SIZE
# (default 1) in its environment (its shims inherit it); one unmeasured start
# fills the pool, then each measured run waits for a ready spare, into
# RAW/warm-runm.txt. A shim without a pool: RAW/warm.na says why, "n/a".
bench_warm() {
  local n=$1 i spare
  local usage
  # (The shim exits 2 after its usage: read it first, pipefail is on.)
  usage=$("$ROOT/build/bin/containerd-shim-runm-v1" --help 2>&1)
  if ! grep -qi pool <<<"$usage"; then
    echo "containerd-shim-runm-v1 --help does not mention a pool" >"$RAW/warm.na"
    say "warm start: n/a (no VM pool in this shim)"
    return 0
  fi
  say "warm start: $n x ctr run --rm /bin/true with RUNM_POOL_SIZE=${BENCH_POOL_SIZE:-1} (docs/pool.md)"
  ctrd_stop || return 1
  ctrd_start RUNM_POOL_SIZE="${BENCH_POOL_SIZE:-1}" || return 1
  : >"$RAW/warm-runm.txt"
  # The first start finds the pool empty (it fills it): not measured.
  cold_once runm warm-runm-0 /dev/null
  for i in $(seq 1 "$n"); do
    # A warm start is one that finds a booted spare: wait for it (its boot
    # runs at nice 19 and is not part of the figure).
    spare=0
    for _ in $(seq 1 600); do
      if compgen -G "$CTRD_DIR/runm/pool/*/*.sock" >/dev/null; then spare=1; break; fi
      sleep 0.1
    done
    [ "$spare" = 1 ] || { say "warm start: no spare VM became ready in 60 s"; break; }
    cold_once runm "warm-runm-$i" "$RAW/warm-runm.txt"
    printf '.' >&2
  done
  echo >&2
  ctrd_stop || return 1
  ctrd_start
}

# ---- baseline re-check ----------------------------------------------------------
# bench_recheck N: at the end of the run, N more runc-v2 cold starts
# (RAW/recheck-runc.txt), interleaved with N plain `ctr run --rm` that name
# no runtime (containerd's default, RAW/plain-ctr.txt). report.py compares
# the first with the cold-start baseline measured at the start: if the load
# changed between the two, the ratios of this run are unreliable and it
# says so loudly. The second checks that the baseline is what a runc-v2
# user sees (our runc-v2 runs are no slower than a plain `ctr run --rm`).
bench_recheck() {
  local n=$1 i
  : >"$RAW/recheck-runc.txt"
  : >"$RAW/plain-ctr.txt"
  say "baseline re-check: $n x runc-v2 and plain ctr run --rm (interleaved)"
  for i in $(seq 1 "$n"); do
    cold_once runc "recheck-runc-$i" "$RAW/recheck-runc.txt"
    plain_once "plain-ctr-$i" "$RAW/plain-ctr.txt"
    printf '.' >&2
  done
  echo >&2
}

# plain_once ID FILE: `ctr run --rm IMAGE ID /bin/true`, no --runtime.
plain_once() {
  local id=$1 file=$2 t0 t1 rc
  t0=$(now_us)
  CTR run --rm "$IMAGE" "$id" /bin/true </dev/null >"$WORK/$id.out" 2>"$WORK/$id.err"
  rc=$?
  t1=$(now_us)
  if [ $rc -ne 0 ]; then
    fail "plain ctr run $id exited $rc: $(tail -2 "$WORK/$id.err" | tr '\n' ' ')"
    CTR task delete -f "$id" >/dev/null 2>&1
    CTR containers rm "$id" >/dev/null 2>&1
    return 0
  fi
  echo "$id $t0 $t1 $(secs "$t0" "$t1")" >>"$file"
}

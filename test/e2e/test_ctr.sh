#!/bin/bash
# End to end with the real containerd and ctr: every case runs under runc-v2
# and under runm, and stdout, stderr and exit code must be identical. Then
# hygiene (nothing left behind) and crash cases (shim or QEMU killed).
. "$(dirname "$0")/../integration/lib.sh"

export RUNM_CTRD_DIR=$TMP/ctrd
export RUNM_BIN
ENV="$ROOT/tools/containerd-env.sh"
IMG=docker.io/library/busybox:runm
RUNTIMES=${RUNM_E2E_RUNTIMES:-runc runm}
trap 'bash "$ENV" stop; cleanup' EXIT

if ! bash "$ENV" start; then not_ok "private containerd starts"; finish; fi
ok "private containerd starts"
bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" &&
  bash "$ENV" ctr images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null
check "busybox image imported" bash -c "bash '$ENV' ctr images ls -q | grep -qx '$IMG'"
C() { bash "$ENV" ctr "$@"; }
rt_name() { [ "$1" = runc ] && echo io.containerd.runc.v2 || echo io.containerd.runm.v1; }

n=0
# same NAME [ctr run options...] -- ARGS...: run under each runtime, compare.
same() {
  local name=$1; shift
  local opts=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  args=("$@")
  local first="" firstrt=""
  for rt in $RUNTIMES; do
    n=$((n + 1))
    local t0=$SECONDS
    C run --rm --runtime "$(rt_name $rt)" "${opts[@]}" "$IMG" "e2e-$n" "${args[@]}" \
      >"$TMP/$rt.out" 2>"$TMP/$rt.err" </dev/null
    echo $? >"$TMP/$rt.rc"
    echo "# $name [$rt] $((SECONDS - t0)) s"
    if [ -z "$first" ]; then first=$rt; continue; fi
    if cmp -s "$TMP/$first.out" "$TMP/$rt.out" && cmp -s "$TMP/$first.err" "$TMP/$rt.err" &&
      cmp -s "$TMP/$first.rc" "$TMP/$rt.rc"; then
      ok "$name ($rt == $first, exit $(cat "$TMP/$rt.rc"))"
    else
      not_ok "$name ($rt == $first)" "exit $(cat "$TMP/$first.rc") vs $(cat "$TMP/$rt.rc")" \
        "stdout $(head -c 200 "$TMP/$first.out" | cat -v) vs $(head -c 200 "$TMP/$rt.out" | cat -v)" \
        "stderr $(head -c 300 "$TMP/$first.err") vs $(head -c 300 "$TMP/$rt.err")"
    fi
  done
  [ "$RUNTIMES" = "${RUNTIMES%% *}" ] && ok "$name ($first alone, exit $(cat "$TMP/$first.rc"))"
}

same echo -- echo hello world
same "exit 42" -- sh -c 'exit 42'
same "exit 1" -- false
same "exit 127" -- sh -c nosuchcommand
same "stderr split" -- sh -c 'echo out; echo err >&2; echo out2'
same env --env FOO=bar --env "SP=a b" -- sh -c 'echo "$FOO|$SP"'
same cwd --cwd /tmp -- pwd
same "argument quoting" -- sh -c 'printf "[%s]" "$@"' x "a b" "" "c  d" "'q'" '"dq"'
same "user" --user 65534 -- id
same "32 MiB of output" -- sh -c 'head -c 33554432 /dev/zero | tr "\0" a; echo; exit 3'
same "binary output" -- awk 'BEGIN { for (i = 0; i < 200000; i++) printf "%c", (i * 7) % 256 }'
same "read-only rootfs" --read-only -- sh -c 'touch /x; echo $?'
same "native snapshotter" --snapshotter native -- sh -c 'echo native; ls /bin/busybox'
mkdir -p "$TMP/vol"
echo from-host >"$TMP/vol/f"
same "bind mount ro" --mount "type=bind,src=$TMP/vol,dst=/vol,options=rbind:ro" -- \
  sh -c 'cat /vol/f; touch /vol/new 2>/dev/null && echo writable || echo read-only'
same "bind mount rw" --mount "type=bind,src=$TMP/vol,dst=/vol,options=rbind:rw" -- \
  sh -c 'cat /vol/f; echo written >/vol/rw.txt && cat /vol/rw.txt'
check "rw bind writes reach the host" grep -qx written "$TMP/vol/rw.txt"

# -d, exec with its own exit code, kill, delete.
for rt in $RUNTIMES; do
  id=bg-$rt
  C run -d --runtime "$(rt_name $rt)" "$IMG" $id sleep 1000 >/dev/null 2>"$TMP/bg.err"
  C task exec --exec-id e1 $id sh -c 'echo in-exec; exit 7' >"$TMP/ex-$rt.out" 2>&1
  echo $? >>"$TMP/ex-$rt.out"
  C task kill -s KILL $id
  for _ in $(seq 1 100); do C task ls | grep -q "^$id .*STOPPED" && break; sleep 0.1; done
  C task ls | grep "^$id " | awk '{print $3}' >"$TMP/st-$rt"
  C task delete $id >/dev/null 2>&1
  C containers rm $id >/dev/null 2>&1
done
first=${RUNTIMES%% *}
for rt in $RUNTIMES; do
  [ "$rt" = "$first" ] && continue
  if cmp -s "$TMP/ex-$first.out" "$TMP/ex-$rt.out"; then ok "exec exit code and output ($rt == $first: $(tr '\n' ' ' <"$TMP/ex-$rt.out"))"; else not_ok "exec ($rt == $first)" "$(cat "$TMP/ex-$first.out") vs $(cat "$TMP/ex-$rt.out")"; fi
  if cmp -s "$TMP/st-$first" "$TMP/st-$rt"; then ok "-d, kill -s KILL: task STOPPED ($rt == $first)"; else not_ok "-d then kill ($rt == $first)" "$(cat "$TMP/st-$first") vs $(cat "$TMP/st-$rt")"; fi
done

# A signal death seen by an attached ctr run: exit 137.
for rt in $RUNTIMES; do
  C run --rm --runtime "$(rt_name $rt)" "$IMG" sig-$rt sleep 1000 >/dev/null 2>&1 &
  p=$!
  for _ in $(seq 1 100); do C task ls | grep -q "^sig-$rt .*RUNNING" && break; sleep 0.1; done
  C task kill -s KILL sig-$rt
  wait $p
  echo $? >"$TMP/sig-$rt"
done
for rt in $RUNTIMES; do
  [ "$rt" = "$first" ] && continue
  if cmp -s "$TMP/sig-$first" "$TMP/sig-$rt"; then ok "signal death exit code ($rt == $first: $(cat "$TMP/sig-$rt"))"; else not_ok "signal death ($rt == $first)" "$(cat "$TMP/sig-$first") vs $(cat "$TMP/sig-$rt")"; fi
done

# tty with a given size.
for rt in $RUNTIMES; do
  script -qec "stty rows 33 cols 101; bash '$ENV' ctr run --rm -t --runtime $(rt_name $rt) $IMG tty-$rt sh -c 'tty; stty size </dev/tty; exit 4'" /dev/null </dev/null >"$TMP/tty-$rt" 2>&1
  echo "rc=$?" >>"$TMP/tty-$rt"
done
for rt in $RUNTIMES; do
  [ "$rt" = "$first" ] && continue
  if cmp -s "$TMP/tty-$first" "$TMP/tty-$rt"; then ok "tty with a given size ($rt == $first)"; else not_ok "tty with a given size ($rt == $first)" "$(cat -v "$TMP/tty-$first" | tr '\n' ' ')" "$(cat -v "$TMP/tty-$rt" | tr '\n' ' ')"; fi
done

if [[ " $RUNTIMES " == *" runm "* ]]; then
  # The shim dies: containerd runs `shim delete`, which must leave nothing.
  C run -d --runtime io.containerd.runm.v1 "$IMG" crash1 sleep 1000 >/dev/null
  shim=$(pgrep -f "containerd-shim-runm-v1 .*-id crash1")
  kill -9 $shim
  for _ in $(seq 1 100); do C task ls | grep -q "^crash1 " || break; C task ls | grep -q "^crash1 .*STOPPED" && break; sleep 0.1; done
  C task delete crash1 >/dev/null 2>&1
  C containers rm crash1 >/dev/null 2>&1
  check "after the shim's SIGKILL, its VM is gone" wait_until 10 bash -c "! pgrep -f '[q]emu-system.*runm-test-crash1' >/dev/null"
  check "after the shim's SIGKILL, its state is gone" wait_until 10 test ! -e "$RUNM_CTRD_DIR/runm/vm/runm-test-crash1"

  # QEMU dies: the attached ctr run ends with an error within seconds.
  C run --rm --runtime io.containerd.runm.v1 "$IMG" crash2 sleep 1000 >/dev/null 2>&1 &
  p=$!
  for _ in $(seq 1 100); do C task ls | grep -q "^crash2 .*RUNNING" && break; sleep 0.1; done
  pkill -9 -f "qemu-system.*runm-test-crash2"
  t0=$SECONDS
  wait_until 10 bash -c "! kill -0 $p 2>/dev/null"
  wait $p
  rc=$?
  if [ $rc -ne 0 ] && [ $((SECONDS - t0)) -le 10 ]; then ok "QEMU killed: the task exits with an error within 10 s (exit $rc)"; else not_ok "QEMU killed: task exits within 10 s" "exit $rc after $((SECONDS - t0)) s"; kill $p 2>/dev/null; fi
fi

# Hygiene.
check "ctr task ls is empty" bash -c "[ -z \"\$(bash '$ENV' ctr task ls -q)\" ]"
check "no QEMU of this containerd is left" bash -c "! pgrep -f '[q]emu-system.*$RUNM_CTRD_DIR' >/dev/null"
check "no runm shim is left" bash -c "! pgrep -f '[c]ontainerd-shim-runm-v1 .*$RUNM_CTRD_DIR' >/dev/null"
check "no runm VM state is left" bash -c "[ -z \"\$(ls -A '$RUNM_CTRD_DIR/runm/vm' 2>/dev/null)\" ]"
check "no runm shim socket is left" bash -c "[ -z \"\$(ls -A '$RUNM_CTRD_DIR/runm/s' 2>/dev/null)\" ]"
check "no rootfs mount is left in task bundles" bash -c "! grep -F '$RUNM_CTRD_DIR/state' /proc/mounts"
bash "$ENV" stop
check "containerd stopped, nothing mounted" bash -c "! grep -F '$RUNM_CTRD_DIR' /proc/mounts"
finish

#!/bin/bash
# End to end with the real containerd 1.6 and ctr: every case runs under each
# runtime of $RUNM_E2E_RUNTIMES (default "runc runm"; runc is
# io.containerd.runc.v2, runm is io.containerd.runm.v1) through
# `ctr run` / `ctr task ...`, and stdout, stderr and exit codes must be
# byte-identical to the first runtime's, which must also be what the case
# expects. With a single runtime, it is compared with a second run of itself.
# Then: nothing left behind (tasks, containers, snapshots, shims, QEMU,
# mounts, sockets, state), and the crash cases (shim SIGKILL, VM SIGKILL).
#
#   bash test/e2e/test_ctr.sh                         # runc-v2 vs runm
#   RUNM_E2E_RUNTIMES=runc bash test/e2e/test_ctr.sh  # the harness alone
#   RUNM_E2E_CASES='echo|tty' bash test/e2e/test_ctr.sh  # a subset (regex)
#   RUNM_E2E_BIND_MODE=fuse RUNM_E2E_CASES='native|bind_|fuse' bash test/e2e/test_ctr.sh
#       the shim's bind_mode (RUNM_BIND_MODE through containerd's
#       environment): with fuse, the native rootfs and bind volumes go
#       through runm-bindfs, and case `fuse` checks that they did
#   RUNM_E2E_VM_BACKEND=libvirt bash test/e2e/test_ctr.sh
#       the shims boot each VM as a libvirt domain (docs/libvirt.md) through
#       a private embed-driver root made here (RUNM_LIBVIRT_URI); hygiene
#       also checks that libvirt knows no domain of ours
#   RUNM_E2E_VM_BACKEND=libvirtd bash test/e2e/test_ctr.sh
#       the same through a private libvirt daemon (tools/libvirtd-env.sh),
#       stopped at the end: it must leave nothing
# Output is TAP; `# ...` lines give each case's time per runtime. On a
# failure every case's results are kept in /tmp/runm-e2e-results.*.
#
# What ctr 1.6.20 does (and the shim must match):
# - `ctr run` exits with the task's exit_status; a signal death is 128+N
#   (137 for KILL), for the init (Wait/TaskExit) and for exec alike.
# - There is no `ctr task wait`: a detached task's status is `ctr task ls`,
#   and `ctr task delete` reports a non-zero exit status only as a log line
#   on stderr (`level=warning msg="task ID exit with non-zero exit code N"`),
#   exiting 0.
# - Without -t, the container's stdout/stderr arrive on ctr's stdout/stderr
#   (ctr's own errors are mixed into stderr); with -t both go to the
#   terminal, with onlcr (\r\n, then \r\r\n through script(1)).
# - -t: ctr sets the size with Resize only after Start returns, so the
#   process may briefly see 0x0; SIGTERM/INT to `ctr run` (no -t) are
#   forwarded to the task once Start has returned.
# - ctr closes the task's stdin (CloseIO) when its own stdin ends.
# - After a shim is SIGKILLed, containerd runs `SHIM delete` at once and
#   forgets the task (`ctr task delete` then says not found); runc-v2
#   leaves its /run/containerd/s socket behind in that case.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rc runm-test 60
# containerd hands its environment to the shims it starts.
if [ -n "${RUNM_E2E_BIND_MODE:-}" ]; then export RUNM_BIND_MODE=$RUNM_E2E_BIND_MODE; fi
LV_ROOT="" LVD_DIR=""
if [ "${RUNM_E2E_VM_BACKEND:-qemu}" = libvirt ]; then
  LV_ROOT=$(mktemp -d /tmp/lv.XXXXXX)
  export RUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI="qemu:///embed?root=$LV_ROOT"
elif [ "${RUNM_E2E_VM_BACKEND:-qemu}" = libvirtd ]; then
  # A private libvirtd (tools/libvirtd-env.sh), the default kind of URI;
  # runm's state dir shared with its mount namespace (the rootfs binds).
  LV_ROOT=$(mktemp -d /tmp/lvd.XXXXXX) LVD_DIR=$LV_ROOT
  RUNM_LIBVIRT_URI=$(bash "$ROOT/tools/libvirtd-env.sh" start "$LVD_DIR" "$RUNM_STATE_DIR") ||
    { not_ok "a private libvirtd starts"; finish; }
  export RUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI
fi
# The domains libvirt knows (running or not) under our embed root or daemon.
. "$ROOT/test/e2e/lib_libvirt.sh"
lv_domains() {
  [ -n "$LV_ROOT" ] || return 0
  lv_list "$RUNM_LIBVIRT_URI" --all
}
STEP_WAIT=${RUNM_E2E_WAIT:-30}   # seconds for a task to reach a state
IDS=()                           # every container id used (leak checks)
SUITE_START=$(date +%s%N)

e2e_cleanup() {
  local id
  exec 9<&- 2>/dev/null
  bash "$ENV" stop >/dev/null 2>&1
  # runc-v2 leaves its socket behind when its shim is SIGKILLed.
  for id in "${IDS[@]}"; do rm -f "$(runc_sock "$id")"; done
  [ -z "$LVD_DIR" ] || bash "$ROOT/tools/libvirtd-env.sh" stop "$LVD_DIR" >/dev/null 2>&1
  cleanup
  [ -z "$LV_ROOT" ] || rm -rf "$LV_ROOT"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# lib.sh's TCTR, which also records a ctr that hit LIMIT (timeout's 124, or
# 137 once it had to SIGKILL ctr, 5 s later; a ctr run whose task was
# SIGKILLed also exits 137, sooner) in $TMP/timed-out: run_case then fails
# the case for it and ends what the case left running, so that one slow
# case does not also fail every hygiene check after it.
TCTR() {
  local t0 rc ms
  t0=$(now_ms)
  timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" "$@"
  rc=$?
  ms=$(($(now_ms) - t0))
  if [ $rc -eq 124 ] || { [ $rc -eq 137 ] && [ $ms -ge $(((LIMIT + 5) * 1000)) ]; }; then
    echo "ctr $1 $2 (exit $rc after $ms ms)" >>"$TMP/timed-out"
  fi
  return $rc
}
# end_task ID: SIGKILL, wait, delete a container whatever state it is in.
end_task() {
  CTR task kill -s KILL "$1" >/dev/null 2>&1
  wait_until "$STEP_WAIT" eval "! status_is $1 RUNNING"
  CTR task delete -f "$1" >/dev/null 2>&1
  CTR containers rm "$1" >/dev/null 2>&1
}
runc_sock() { echo "/run/containerd/s/$(printf '%s' "$SOCK/$NS/$1" | sha256sum | cut -d' ' -f1)"; }

runtime_of() {
  case "$1" in
  runc*) echo io.containerd.runc.v2 ;;
  runm*) echo io.containerd.runm.v1 ;;
  *) echo "$1" ;;
  esac
}

# ---- process and state probes (argv_of, pids_mentioning, shim_pid: lib.sh)

all_shims() {
  local p
  for p in $(pids_mentioning "$SOCK"); do
    argv_of "$p" | head -1 | grep -q 'containerd-shim-' && echo "$p"
  done
}

# QEMUs of this suite (their command line names our runm state dir or
# containerd dir); with $1, only the one whose command line names that id.
our_qemus() {
  local p
  for p in $(pids_mentioning qemu-system); do
    argv_of "$p" | head -1 | grep -q 'qemu-system' || continue
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null || continue
    [ -z "${1:-}" ] || grep -qaF -- "$1" "/proc/$p/cmdline" || continue
    echo "$p"
  done
}

our_mounts() {
  awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" \
    'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts
}

task_pid() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
task_gone() { [ -z "$(task_status "$1")" ]; }

# runm state that is not an empty top-level dir.
runm_state_left() {
  find "$RUNM_STATE_DIR" -mindepth 1 \
    -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null
}

# ---- the case runner --------------------------------------------------------

# Inside a case function: $RT (runtime), $ID (container id), $D (output dir),
# and SNAP (an array: --snapshotter NAME).
#
# crun NAME [ctr run options] -- [ARGS...]: `ctr run --rm` of the image,
# stdin from /dev/null unless $STDIN names a file; NAME.out, NAME.err,
# NAME.rc in $D.
crun() {
  local name=$1; shift
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  TCTR run --rm --runtime "$RT" "${SNAP[@]}" "${opts[@]}" "$IMAGE" "$ID" "$@" \
    <"${STDIN:-/dev/null}" >"$D/$name.out" 2>"$D/$name.err"
  echo $? >"$D/$name.rc"
}

# step NAME CMD...: any command, recorded the same way.
step() {
  local name=$1; shift
  "$@" </dev/null >"$D/$name.out" 2>"$D/$name.err"
  echo $? >"$D/$name.rc"
}

# A detached container running ARGS, up and RUNNING (status in $D/up).
detached() {
  TCTR run -d --runtime "$RT" "${SNAP[@]}" "$IMAGE" "$ID" "$@" </dev/null >"$D/run-d.out" 2>"$D/run-d.err"
  echo $? >"$D/run-d.rc"
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  task_status "$ID" >"$D/up"
}

# Stops and removes a detached container, recording each step: kill with
# signal $1, wait for STOPPED, `ctr task delete` (which reports the exit
# status on its stderr), `ctr containers rm`.
finish_detached() {
  step kill TCTR task kill -s "$1" "$ID"
  wait_until "$STEP_WAIT" status_is "$ID" STOPPED
  task_status "$ID" >"$D/down"
  step delete TCTR task delete "$ID"
  step rm TCTR containers rm "$ID"
}

# Runs a shell command line under script(1): a real terminal of the given
# size for `ctr ... -t`. stdin is fd 9, a FIFO that never ends: script(1)
# turns its own stdin's EOF into bytes on the terminal.
in_tty() { # ROWS COLS CMDLINE
  script -qec "stty rows $1 cols $2; $3" /dev/null <&9
}

# In a container on a terminal: wait (bounded) until ctr has set the size,
# which it does only after the task started.
# (busybox's in-process stty can fail with status 0: test what it printed.)
WAIT_SIZE='i=0; until s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ]; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.05; done'

normalize() { # DIR ID: ids and ctr log timestamps out of the small files
  local f
  find "$1" -type f -size -1024k | while read -r f; do
    sed -i -e "s/$2/<ID>/g" -e 's/time="[^"]*" //g' "$f"
  done
}

# The differences between two result dirs (up to 4 files; files *.raw are
# not compared); fails when there is one.
compare_dirs() {
  local a=$1 b=$2 f n=0
  for f in $( (cd "$a" && find . -type f; cd "$b" && find . -type f) | grep -v '\.raw$' | sort -u); do
    f=${f#./}
    if [ ! -f "$a/$f" ] || [ ! -f "$b/$f" ]; then
      echo "$f: only in one runtime's results"
    elif ! cmp -s "$a/$f" "$b/$f"; then
      echo "$f differs: $(cmp "$a/$f" "$b/$f" 2>&1 | head -1 | sed "s|$TMP/cases/||g")"
      if [ "$(stat -c %s "$a/$f")" -lt 4096 ] && [ "$(stat -c %s "$b/$f")" -lt 4096 ]; then
        diff -a <(cat -A "$a/$f") <(cat -A "$b/$f") | grep '^[<>]' | head -8
      fi
    else
      continue
    fi
    n=$((n + 1))
    [ $n -ge 4 ] && break
  done
  [ $n -eq 0 ]
}

# Expectation helpers (run in the reference result dir as cwd).
E_MSG=""
want() { # FILE TEXT: exact content (TEXT gets a trailing newline unless empty)
  local exp
  if [ -z "$2" ]; then exp=""; else exp="$2"$'\n'; fi
  if [ "$(cat "$1"; echo x)" != "${exp}x" ]; then
    E_MSG+="$1 is $(cat -A "$1" | head -5 | tr '\n' '|'), wanted $(printf '%s' "$exp" | cat -A | tr '\n' '|')"$'\n'
    return 1
  fi
}
want_exact() { # FILE TEXT: exact content, no newline added
  if [ "$(cat "$1"; echo x)" != "$2x" ]; then
    E_MSG+="$1 is $(cat -A "$1" | head -5 | tr '\n' '|'), wanted $(printf '%s' "$2" | cat -A | tr '\n' '|')"$'\n'
    return 1
  fi
}
want_rc() { want "$1.rc" "$2"; }
want_has() { # FILE FIXED-STRING
  grep -qaF -- "$2" "$1" || { E_MSG+="$1 lacks \`$2\`: $(head -c 300 "$1" | cat -A | tr '\n' '|')"$'\n'; return 1; }
}
want_same() { # FILE EXPECTED-FILE
  cmp -s "$1" "$2" || { E_MSG+="$1: $(cmp "$1" "$2" 2>&1 | head -1)"$'\n'; return 1; }
}

LABELS=()
SNAP=()
# run_case NAME SNAPSHOTTER TITLE: c_NAME runs the case, x_NAME checks it.
run_case() {
  local name=$1 snap=$2 title=$3 key l ref="" t0 times=() rc lines
  key=$name${snap:+-$snap}
  [[ "$key" =~ $CASES ]] || return 0
  SNAP=(--snapshotter "$snap")
  for l in "${LABELS[@]}"; do
    RT=$(runtime_of "$l") ID=e2e-$key-${l//#/}
    D=$TMP/cases/$key/${l//#/}
    IDS+=("$ID" "$ID-2")
    mkdir -p "$D"
    t0=$(now_ms)
    rm -f "$TMP/timed-out"
    "c_$name"
    if [ -s "$TMP/timed-out" ]; then
      # The comparison below fails too (an exit code 124 or 137 differs).
      mapfile -t lines <"$TMP/timed-out"
      not_ok "$title: $l: every ctr within the $LIMIT s limit (its containers then ended)" "${lines[@]}"
      rm -f "$TMP/timed-out"
      end_task "$ID"
      end_task "$ID-2"
    fi
    times+=("$l $(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.2f", ms / 1000 }') s")
    normalize "$D" "$ID"
    if [ -z "$ref" ]; then
      ref=$l
      E_MSG=$(cd "$D" && E_MSG="" && { "x_$name"; rc=$?; printf '%s' "$E_MSG"; exit $rc; })
      rc=$?
      if [ $rc -eq 0 ]; then ok "$title: $l as expected"; else
        mapfile -t lines <<<"${E_MSG:-the expectation failed}"
        not_ok "$title: $l as expected" "${lines[@]}"
      fi
    else
      local d
      if d=$(compare_dirs "$TMP/cases/$key/${ref//#/}" "$D"); then
        ok "$title ($l == $ref)"
      else
        mapfile -t lines <<<"$d"
        not_ok "$title ($l == $ref)" "${lines[@]}"
      fi
    fi
  done
  local IFS=,
  echo "# $key:${times[*]/#/ }"
}

# ---- the cases --------------------------------------------------------------

c_echo() { crun echo -- echo hello world; }
x_echo() { want echo.out "hello world" && want echo.err "" && want_rc echo 0; }

c_exit() {
  local n
  for n in 1 42 255 300; do crun "exit$n" -- sh -c "exit $n"; done
  crun exit127 -- sh -c no-such-command
}
x_exit() { want_rc exit1 1 && want_rc exit42 42 && want_rc exit255 255 && want_rc exit300 44 &&
  want exit42.out "" && want exit42.err "" && want_rc exit127 127 && want exit127.err 'sh: no-such-command: not found'; }

# The runtimes' error texts differ: compare the exit code and that the
# error names the command, not the words.
c_notfound() {
  crun nf -- no-such-command-xyz
  mv "$D/nf.err" "$D/nf.err.raw"
  grep -c 'no-such-command-xyz' "$D/nf.err.raw" | sed 's/^[1-9][0-9]*$/mentioned/' >"$D/nf.err-names-command"
}
x_notfound() { want_rc nf 1 && want nf.out "" && want nf.err-names-command mentioned; }

c_stderr() {
  crun split -- sh -c 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf "no newline" >&2; exit 3'
}
x_stderr() { want split.out $'out1\nout2' && want_exact split.err $'err1\nerr2\nno newline' && want_rc split 3; }

c_env() {
  crun env --env FOO=bar --env 'SPACED=a b  c' --env 'EQ=x=y' --env EMPTY= --env 'UNI=ünï' \
    -- sh -c 'env | sort'
}
x_env() { want_has env.out $'\nFOO=bar\n' && want_has env.out 'SPACED=a b  c' && want_has env.out 'EQ=x=y' &&
  want_has env.out $'\nEMPTY=\n' && want_has env.out 'UNI=ünï' && want_has env.out 'HOME=/root' &&
  want_has env.out 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' && want_rc env 0; }

c_cwd() {
  crun tmp --cwd /tmp -- pwd
  crun made --cwd /var/made/by/runtime -- sh -c 'pwd; ls -d "$PWD"'
}
x_cwd() { want tmp.out /tmp && want made.out $'/var/made/by/runtime\n/var/made/by/runtime' && want_rc made 0; }

ARGS=("a b" "" "  lead and trail  " "'single'" '"double"' '$HOME' '*' 'back\slash' $'new\nline'
  $'tab\there' 'ünïcödé ✓' '--flag' '-n' ';' '|' '$(echo no)' '`echo no`')
c_args() { crun args -- printf '[%s]\n' "${ARGS[@]}"; }
x_args() { want args.out "$(printf '[%s]\n' "${ARGS[@]}")" && want args.err "" && want_rc args 0; }

# Signal deaths seen by a foreground `ctr run`: SIGKILL from `ctr task kill`.
c_sigkill() {
  TCTR run --rm --runtime "$RT" "${SNAP[@]}" "$IMAGE" "$ID" sleep 1000 </dev/null >"$D/run.out" 2>"$D/run.err" &
  local p=$!
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  step kill TCTR task kill -s KILL "$ID"
  wait "$p"
  echo $? >"$D/run.rc"
}
x_sigkill() { want_rc run 137 && want run.out "" && want run.err "" && want_rc kill 0; }

# SIGTERM to ctr run is forwarded to the task (pid 1 with a handler).
c_sigfwd() {
  timeout -k 5 "$LIMIT" ctr --address "$SOCK" --namespace "$NS" run --rm --runtime "$RT" "${SNAP[@]}" "$IMAGE" "$ID" \
    sh -c 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done' \
    </dev/null >"$D/run.out" 2>"$D/run.err" &
  local p=$! c
  wait_until "$STEP_WAIT" grep -q ready "$D/run.out"
  # ctr forwards signals only once Start has returned to it, which under
  # runm comes after the process printed (runc start in the guest, then the
  # reply): wait until containerd says RUNNING (Start answered), then give
  # ctr a moment. Signal ctr itself, not timeout(1).
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  sleep 0.5
  c=$(pgrep -P "$p" -x ctr)
  kill -TERM "${c:-$p}"
  wait "$p"
  echo $? >"$D/run.rc"
}
x_sigfwd() { want run.out $'ready\ngot TERM' && want run.err "" && want_rc run 5; }

BIG=33554432
BIG_LINE=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/
c_big() {
  crun big -- sh -c "(yes E | head -c 4194304 >&2) & yes $BIG_LINE | head -c $BIG; wait"
}
x_big() {
  [ -f "$TMP/big.expected" ] || yes "$BIG_LINE" | head -c "$BIG" >"$TMP/big.expected"
  want_same big.out "$TMP/big.expected" && want_same big.err <(yes E | head -c 4194304) && want_rc big 0
}

BYTES=$(for i in $(seq 0 255); do printf '\\%03o' "$i"; done)
c_binary() {
  crun bin -- sh -c 'i=0; while [ $i -lt 4096 ]; do printf "$1"; i=$((i+1)); done' sh "$BYTES"
}
x_binary() {
  want_same bin.out <(for _ in $(seq 4096); do printf "$BYTES"; done) && want bin.err "" && want_rc bin 0
}

c_stdin() { STDIN=$TMP/stdin.bin crun cat -- cat; }
x_stdin() { want_same cat.out "$TMP/stdin.bin" && want cat.err "" && want_rc cat 0; }

c_rootfs() {
  crun write -- sh -c 'echo data >/etc/newfile && cat /etc/newfile; rm /bin/vi && ls /bin/vi;
    mkdir -p /opt/a/b && ls -d /opt/a/b; echo x >/tmp/t && cat /tmp/t'
  ID=$ID-2 crun fresh -- sh -c 'ls /etc/newfile; ls /bin/vi; ls /opt'
}
x_rootfs() { want write.out $'data\n/opt/a/b\nx' && want write.err 'ls: /bin/vi: No such file or directory' &&
  want fresh.out '/bin/vi' && want_has fresh.err '/etc/newfile' && want_has fresh.err '/opt'; }

c_readonly() {
  crun ro --read-only -- sh -c 'touch /x; echo "rc=$?"; touch /tmp/x; echo "rc=$?";
    echo ok >/dev/null; echo "devnull=$?"; awk "\$2 == \"/\" { split(\$4, o, \",\"); print o[1] }" /proc/mounts'
}
x_readonly() { want ro.out $'rc=1\nrc=1\ndevnull=0\nro' &&
  want ro.err $'touch: /x: Read-only file system\ntouch: /tmp/x: Read-only file system' && want_rc ro 0; }

c_bind_ro() {
  crun ro --mount "type=bind,src=$TMP/ro,dst=/mnt/ro,options=rbind:ro" -- \
    sh -c 'cat /mnt/ro/hello.txt /mnt/ro/sub/inner.txt; touch /mnt/ro/new; echo "rc=$?"; ls /mnt/ro;
      awk "\$2 == \"/mnt/ro\" { split(\$4, o, \",\"); print o[1] }" /proc/mounts'
  ls "$TMP/ro" >"$D/host-view"
}
x_bind_ro() { want ro.out $'hello from host\ninner\nrc=1\nhello.txt\nsub\nro' &&
  want ro.err 'touch: /mnt/ro/new: Read-only file system' && want host-view $'hello.txt\nsub'; }

c_bind_rw() {
  local h=$TMP/rw-$ID
  mkdir -p "$h"
  echo "from host" >"$h/in.txt"
  echo "delete me" >"$h/gone.txt"
  crun rw --mount "type=bind,src=$h,dst=/mnt/rw,options=rbind:rw" -- \
    sh -c 'cat /mnt/rw/in.txt; echo from-container >/mnt/rw/out.txt; mkdir /mnt/rw/sub;
      printf abc >/mnt/rw/sub/f; chmod 600 /mnt/rw/sub/f; rm /mnt/rw/gone.txt; ls /mnt/rw'
  (cd "$h" && cat out.txt && ls && stat -c '%n %u:%g %a %s' out.txt sub sub/f) >"$D/host-view" 2>&1
}
x_bind_rw() { want rw.out $'from host\nin.txt\nout.txt\nsub' && want rw.err "" && want_rc rw 0 &&
  want host-view $'from-container\nin.txt\nout.txt\nsub\nout.txt 0:0 644 15\nsub 0:0 755 4096\nsub/f 0:0 600 3'; }

c_bind_file() {
  crun file --mount "type=bind,src=$TMP/ro/hello.txt,dst=/etc/hello.txt,options=rbind:ro" -- \
    sh -c 'cat /etc/hello.txt; echo x >>/etc/hello.txt; echo "rc=$?"'
}
x_bind_file() { want file.out $'hello from host\nrc=1' && want_has file.err 'Read-only file system'; }

# `ctr run -d`, output to a file:// log, then kill (TERM), wait, delete.
c_detach() {
  rm -f "$D/log"
  TCTR run -d --runtime "$RT" "${SNAP[@]}" --log-uri "file://$D/log" "$IMAGE" "$ID" \
    sh -c 'trap "echo got TERM; exit 5" TERM; echo started; echo to-stderr >&2; while :; do sleep 0.1; done' \
    </dev/null >"$D/run-d.out" 2>"$D/run-d.err"
  echo $? >"$D/run-d.rc"
  wait_until "$STEP_WAIT" grep -q to-stderr "$D/log"
  task_status "$ID" >"$D/up"
  finish_detached TERM
  # stdout and stderr reach the file through separate pipes: no order.
  sort "$D/log" >"$D/log.sorted" && mv "$D/log" "$D/log.raw"
}
x_detach() { want run-d.out "" && want_rc run-d 0 && want up RUNNING && want log.sorted $'got TERM\nstarted\nto-stderr' &&
  want_rc kill 0 && want down STOPPED && want_rc delete 0 && want_has delete.err 'exit code 5' && want_rc rm 0; }

# Signal death of a detached task: `ctr task delete` reports 137.
c_killd() { detached sleep 1000; finish_detached KILL; }
x_killd() { want up RUNNING && want down STOPPED && want delete.err 'level=warning msg="task <ID> exit with non-zero exit code 137"' &&
  want_rc delete 0 && want_rc rm 0; }

c_exec() {
  detached sleep 1000
  step e1 TCTR task exec --exec-id e1 "$ID" sh -c 'echo eo; echo ee >&2; exit 7'
  step e2 TCTR task exec --exec-id e2 --cwd /etc --user nobody "$ID" sh -c 'pwd; id'
  step e3 TCTR task exec --exec-id e3 "$ID" sh -c 'kill -SEGV $$'
  printf 'line1\nline2' | TCTR task exec --exec-id e4 "$ID" sh -c 'cat; echo; echo done' >"$D/e4.out" 2>"$D/e4.err"
  echo $? >"$D/e4.rc"
  step e5 in_tty 20 70 "ctr --address $SOCK --namespace $NS task exec -t --exec-id e5 $ID sh -c '$WAIT_SIZE; stty size; tty; exit 6'"
  finish_detached KILL
}
x_exec() { want e1.out eo && want e1.err ee && want_rc e1 7 &&
  want e2.out $'/etc\nuid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)' && want_rc e2 0 &&
  want_rc e3 139 && want e3.out "" && want e4.out $'line1\nline2\ndone' && want_rc e4 0 &&
  want e5.out $'20 70\r\r\n/dev/pts/0\r\r' && want_rc e5 6 && want down STOPPED && want_rc delete 0; }

c_tty() {
  step tty in_tty 33 101 "ctr --address $SOCK --namespace $NS run --rm -t --runtime $RT ${SNAP[*]} $IMAGE $ID \
    sh -c '$WAIT_SIZE; stty size; tty; [ -t 0 ] && echo stdin-is-tty; echo to-stderr >&2; printf \"a\\tb\\n\"; exit 4'"
}
x_tty() { want tty.out $'33 101\r\r\n/dev/pts/0\r\r\nstdin-is-tty\r\r\nto-stderr\r\r\na\tb\r\r' && want_rc tty 4; }

# ---- setup ------------------------------------------------------------------

setup() {
  local l
  read -r -a LABELS <<<"${RUNM_E2E_RUNTIMES:-runc runm}"
  for l in "${LABELS[@]}"; do
    if [ "$(runtime_of "$l")" = io.containerd.runm.v1 ] && [ ! -x "$RUNM_BIN/containerd-shim-runm-v1" ]; then
      not_ok "containerd-shim-runm-v1 is built" "missing: $RUNM_BIN/containerd-shim-runm-v1"
      finish
    fi
  done
  [ ${#LABELS[@]} -eq 1 ] && LABELS+=("${LABELS[0]}#2")
  mkfifo "$TMP/hold" && exec 9<>"$TMP/hold"
  mkdir -p "$TMP/ro/sub"
  echo "hello from host" >"$TMP/ro/hello.txt"
  echo inner >"$TMP/ro/sub/inner.txt"
  head -c 1048576 /dev/urandom >"$TMP/stdin.bin"
  local t0
  t0=$(now_ms)
  if ! bash "$ENV" start; then not_ok "private containerd starts"; finish; fi
  ok "private containerd starts ($((($(now_ms) - t0))) ms)"
  if bash "$ROOT/test/fixtures/mkimage-busybox.sh" "$TMP/busybox.tar" &&
    CTR images import --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null &&
    CTR images import --snapshotter native --base-name docker.io/library/busybox "$TMP/busybox.tar" >/dev/null; then
    ok "busybox image built and imported for overlayfs and native"
  else
    not_ok "busybox image built and imported for overlayfs and native"
    finish
  fi
  echo "# runtimes: ${LABELS[*]}"
}

# ---- leak checks ------------------------------------------------------------

hygiene() {
  local what=$1 x s
  x=$(CTR task ls -q 2>&1)
  if [ -z "$x" ]; then ok "$what: ctr task ls is empty"; else not_ok "$what: ctr task ls is empty" $x; fi
  x=$(CTR containers ls -q 2>&1)
  if [ -z "$x" ]; then ok "$what: ctr containers ls is empty"; else not_ok "$what: ctr containers ls is empty" $x; fi
  x=""
  for s in overlayfs native; do
    x+=$(CTR snapshots --snapshotter "$s" ls 2>&1 | awk -v s=$s 'NR > 1 && $NF != "Committed" { print s ": " $0 }')
  done
  if [ -z "$x" ]; then ok "$what: no active snapshot"; else not_ok "$what: no active snapshot" "$x"; fi
  x=$(our_qemus)
  if [ -z "$x" ]; then ok "$what: no QEMU process"; else not_ok "$what: no QEMU process" "pids: $x"; fi
  if [ -n "$LV_ROOT" ]; then
    # A libvirt shim destroys its dead domain after Delete's reply and
    # exits once that is done (bounded: 15 s): nothing may be left after.
    no_shims() { [ -z "$(all_shims)" ]; }
    wait_until 20 no_shims
    x=$(lv_domains)
    if [ -z "$x" ]; then ok "$what: libvirt knows no domain"; else not_ok "$what: libvirt knows no domain" "$x"; fi
  fi
  x=$(all_shims)
  if [ -z "$x" ]; then ok "$what: no shim process"; else
    not_ok "$what: no shim process" "$(for p in $x; do argv_of "$p" | tr '\n' ' '; echo; done)"; fi
  x=$(our_mounts)
  if [ -z "$x" ]; then ok "$what: no mount under containerd's or runm's dirs"; else not_ok "$what: no mount under containerd's or runm's dirs" $x; fi
  x=$(runm_state_left)
  if [ -z "$x" ]; then ok "$what: runm state dir empty (no socket, no VM dir)"; else not_ok "$what: runm state dir empty (no socket, no VM dir)" $x; fi
  x=$(ls -A "/run/containerd/runc/$NS" 2>/dev/null)
  for s in "${IDS[@]}"; do [ -e "$(runc_sock "$s")" ] && x+=" socket of $s"; done
  if [ -z "$x" ]; then ok "$what: no runc-v2 state or socket"; else not_ok "$what: no runc-v2 state or socket" "$x"; fi
}

# ---- crash cases ------------------------------------------------------------

# What one container may leave: "" when nothing.
leftovers_of() { # ID
  local x="" id=$1
  [ -n "$(task_status "$id")" ] && x+=" task"
  [ -n "$(shim_pid "$id")" ] && x+=" shim"
  [ -n "$(our_qemus "$id")" ] && x+=" qemu"
  [ -n "$LV_ROOT" ] && lv_domains | grep -qF -- "$id" && x+=" domain"
  our_mounts | grep -qF "/$id/" && x+=" mount"
  compgen -G "$RUNM_STATE_DIR/vm/*$id*" >/dev/null && x+=" vm-dir"
  [ -n "$(runm_socks | comm -13 <(printf '%s\n' "$SOCKS_BEFORE") -)" ] && x+=" runm-socket"
  [ -e "/run/containerd/runc/$NS/$id" ] && x+=" runc-state"
  [ -d "$RUNM_CTRD_DIR/state/io.containerd.runtime.v2.task/$NS/$id" ] && x+=" bundle"
  echo "$x"
}
# Shim sockets in runm's state dir; SOCKS_BEFORE holds those there before a
# crash case started (its own is the one that appears).
runm_socks() { ls "$RUNM_STATE_DIR/s" 2>/dev/null | sort; }
SOCKS_BEFORE=""
nothing_left() { [ -z "$(leftovers_of "$1")" ]; }

crash_shim() { # LABEL
  local l=$1 RT ID t0 sp x
  RT=$(runtime_of "$l") ID=e2e-crash-shim-$l
  IDS+=("$ID")
  SOCKS_BEFORE=$(runm_socks)
  TCTR run -d --runtime "$RT" "$IMAGE" "$ID" sleep 1000 </dev/null >/dev/null 2>"$TMP/crash.err"
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  sp=$(shim_pid "$ID")
  if [ -z "$sp" ] || ! status_is "$ID" RUNNING; then
    not_ok "shim SIGKILL ($l): container up" "status: $(task_status "$ID"), shim: $sp" "$(cat "$TMP/crash.err")"
  else
    t0=$(now_ms)
    kill -KILL "$sp"
    # containerd sees the shim go, runs `SHIM delete`, and forgets the task.
    if wait_until 10 task_gone "$ID"; then
      ok "shim SIGKILL ($l): containerd drops the task ($(($(now_ms) - t0)) ms)"
    else
      not_ok "shim SIGKILL ($l): containerd drops the task" "status: $(task_status "$ID")"
    fi
  fi
  TCTR task delete "$ID" >/dev/null 2>&1
  x=$(TCTR containers rm "$ID" 2>&1) && ok "shim SIGKILL ($l): ctr containers rm" ||
    not_ok "shim SIGKILL ($l): ctr containers rm" "$x"
  # runc-v2 (1.6) leaves its socket when SIGKILLed: not a runm matter.
  [ "$RT" = io.containerd.runc.v2 ] && rm -f "$(runc_sock "$ID")"
  if wait_until 10 nothing_left "$ID"; then ok "shim SIGKILL ($l): nothing left"; else
    not_ok "shim SIGKILL ($l): nothing left" "left:$(leftovers_of "$ID")"; fi
}

# The VM dies under a foreground `ctr run`: it must end with an error
# within 10 s. Under runc the analogue is SIGKILL to the container's init.
crash_vm() { # LABEL
  local l=$1 RT ID t0 p victim rc
  RT=$(runtime_of "$l") ID=e2e-crash-vm-$l
  IDS+=("$ID")
  SOCKS_BEFORE=$(runm_socks)
  TCTR run --rm --runtime "$RT" "$IMAGE" "$ID" sleep 1000 </dev/null >"$TMP/crash.out" 2>"$TMP/crash.err" &
  p=$!
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  if [ "$RT" = io.containerd.runm.v1 ]; then victim=$(our_qemus "$ID"); else victim=$(task_pid "$ID"); fi
  if [ -z "$victim" ]; then
    not_ok "VM SIGKILL ($l): container up" "status: $(task_status "$ID")" "$(cat "$TMP/crash.err")"
    kill "$p" 2>/dev/null
  else
    t0=$(now_ms)
    kill -KILL $victim
    wait_until 10 eval "! kill -0 $p 2>/dev/null"
    if kill -0 "$p" 2>/dev/null; then
      not_ok "VM SIGKILL ($l): ctr run ends within 10 s" "still running after 10 s"
      kill "$p"
    else
      wait "$p"
      rc=$?
      if [ "$rc" -ne 0 ]; then
        ok "VM SIGKILL ($l): ctr run ends with an error within 10 s ($(($(now_ms) - t0)) ms, exit $rc)"
      else
        not_ok "VM SIGKILL ($l): ctr run ends with an error within 10 s" "exit 0"
      fi
      sed 's/^/# stderr: /' "$TMP/crash.err" | head -3
    fi
  fi
  wait "$p" 2>/dev/null
  if wait_until 10 nothing_left "$ID"; then ok "VM SIGKILL ($l): nothing left"; else
    not_ok "VM SIGKILL ($l): nothing left" "left:$(leftovers_of "$ID")"; fi
}

# ---- bind_mode fuse -----------------------------------------------------------

# runm-bindfs mounts under containerd's or runm's dirs, and their daemons.
fuse_mounts() {
  awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" '(index($5, a) == 1 || index($5, b) == 1) {
    for (i = 7; $i != "-"; i++); if ($(i + 1) == "fuse.runm-bindfs") print $5 }' /proc/self/mountinfo
}
bindfs_daemons() {
  local p
  for p in $(pids_mentioning "$RUNM_CTRD_DIR/") $(pids_mentioning "$RUNM_STATE_DIR/"); do
    argv_of "$p" | head -1 | grep -q 'runm-bindfs$' && echo "$p"
  done | sort -u
}
no_fuse_left() { [ -z "$(fuse_mounts)" ] && [ -z "$(bindfs_daemons)" ] && [ ! -e "$RUNM_STATE_DIR/fuse" ]; }
fuse_left() { echo "mounts: $(fuse_mounts | tr '\n' ' ') daemons: $(bindfs_daemons | tr '\n' ' ') dir: $(ls -A "$RUNM_STATE_DIR/fuse" 2>&1)"; }

# A native-snapshotter container with a bind volume: both reach the VM
# through runm-bindfs, and are unmounted by Delete, and by the `delete` that
# containerd runs after the shim is SIGKILLed (from the shim's record).
fuse_checks() {
  local RT=io.containerd.runm.v1 ID=e2e-fuse-runm h=$TMP/fusevol x sp
  IDS+=("$ID" "$ID-crash")
  mkdir -p "$h" && echo "from host" >"$h/in"
  TCTR run -d --runtime "$RT" --snapshotter native --mount "type=bind,src=$h,dst=/mnt/v,options=rbind:rw" \
    "$IMAGE" "$ID" sh -c 'cat /mnt/v/in >/mnt/v/copy; echo guest >/mnt/v/out; sleep 1000' \
    </dev/null >"$TMP/fuse.out" 2>&1
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  x=$(fuse_mounts)
  if echo "$x" | grep -q "/$ID/rootfs\$"; then ok "fuse: the native rootfs is a runm-bindfs mount"; else
    not_ok "fuse: the native rootfs is a runm-bindfs mount" "runm-bindfs mounts: $x" "$(cat "$TMP/fuse.out")"; fi
  if echo "$x" | grep -q "^$RUNM_STATE_DIR/fuse/.*/v0\$"; then ok "fuse: the bind volume is shared through a runm-bindfs mount"; else
    not_ok "fuse: the bind volume is shared through a runm-bindfs mount" "runm-bindfs mounts: $x"; fi
  if wait_until 10 grep -qx guest "$h/out" && cmp -s "$h/in" "$h/copy"; then
    ok "fuse: the container reads and writes the volume"
  else
    not_ok "fuse: the container reads and writes the volume" "$(ls -l "$h")"
  fi
  if compgen -G "$RUNM_STATE_DIR/fuse/*/mounts" >/dev/null; then ok "fuse: the shim recorded its mounts"; else
    not_ok "fuse: the shim recorded its mounts" "$(ls -R "$RUNM_STATE_DIR" 2>&1 | head -5)"; fi
  TCTR task kill -s KILL "$ID" >/dev/null 2>&1
  wait_until "$STEP_WAIT" status_is "$ID" STOPPED
  TCTR task delete "$ID" >/dev/null 2>&1
  TCTR containers rm "$ID" >/dev/null 2>&1
  if wait_until 10 no_fuse_left; then ok "fuse: task delete unmounts every runm-bindfs mount"; else
    not_ok "fuse: task delete unmounts every runm-bindfs mount" "$(fuse_left)"; fi

  ID=$ID-crash
  TCTR run -d --runtime "$RT" --snapshotter native --mount "type=bind,src=$h,dst=/mnt/v,options=rbind:ro" \
    "$IMAGE" "$ID" sleep 1000 </dev/null >"$TMP/fuse.out" 2>&1
  wait_until "$STEP_WAIT" status_is "$ID" RUNNING
  sp=$(shim_pid "$ID")
  if [ -z "$sp" ] || [ -z "$(fuse_mounts)" ]; then
    not_ok "fuse: crash case is up with runm-bindfs mounts" "shim: $sp; $(fuse_left)" "$(cat "$TMP/fuse.out")"
  else
    kill -KILL "$sp"
    wait_until 10 task_gone "$ID"
    if wait_until 10 no_fuse_left; then ok "fuse: after a shim SIGKILL, \`delete\` unmounts them (by the record)"; else
      not_ok "fuse: after a shim SIGKILL, \`delete\` unmounts them (by the record)" "$(fuse_left)"; fi
  fi
  TCTR task delete "$ID" >/dev/null 2>&1
  TCTR containers rm "$ID" >/dev/null 2>&1
}

# ---- main -------------------------------------------------------------------

setup
# RUNM_E2E_SNAPSHOTTER=native runs the whole suite on the native snapshotter
# (with RUNM_E2E_BIND_MODE=fuse: every rootfs and volume through runm-bindfs).
snap=${RUNM_E2E_SNAPSHOTTER:-overlayfs}
{
  run_case echo "$snap" "echo"
  run_case exit "$snap" "exit codes 1 42 255 300 127"
  run_case notfound "$snap" "missing executable: exit code"
  run_case stderr "$snap" "stdout/stderr split"
  run_case env "$snap" "env"
  run_case cwd "$snap" "cwd (existing, created)"
  run_case args "$snap" "argument quoting"
  run_case sigkill "$snap" "signal death: ctr task kill -s KILL under ctr run"
  run_case sigfwd "$snap" "SIGTERM to ctr run reaches the task"
  run_case big "$snap" "32 MiB stdout with 4 MiB stderr"
  run_case binary "$snap" "binary output (all 256 bytes)"
  run_case stdin "$snap" "binary stdin"
  run_case rootfs "$snap" "rootfs writes, deletes, fresh next time"
  run_case readonly "$snap" "read-only rootfs"
  run_case bind_ro "$snap" "bind mount ro"
  run_case bind_rw "$snap" "bind mount rw"
  run_case bind_file "$snap" "bind mount of a file, ro"
  run_case exec "$snap" "exec: exit code, cwd/user, signal death, stdin, tty"
  run_case tty "$snap" "tty 33x101"
  run_case detach "$snap" "-d, log file, task kill/delete"
  run_case killd "$snap" "-d, SIGKILL, delete reports 137"
}
if [ "$snap" != native ]; then
  snap=native
  run_case echo "$snap" "echo (native)"
  run_case rootfs "$snap" "rootfs writes, deletes, fresh next time (native)"
  run_case readonly "$snap" "read-only rootfs (native)"
  run_case bind_rw "$snap" "bind mount rw (native)"
fi

if [ "${RUNM_BIND_MODE:-}" = fuse ] && [[ "fuse" =~ $CASES || "$CASES" = . ]] &&
  printf '%s\n' "${LABELS[@]}" | grep -q '^runm'; then
  t0=$(now_ms); fuse_checks; echo "# fuse: $(($(now_ms) - t0)) ms"
fi
if [[ "crash" =~ $CASES ]] || [ "$CASES" = . ]; then
  hygiene "after the cases"
  for l in $(printf '%s\n' "${LABELS[@]}" | grep -v '#' | sort -u); do
    t0=$(now_ms); crash_shim "$l"; echo "# crash-shim $l: $(($(now_ms) - t0)) ms"
    t0=$(now_ms); crash_vm "$l"; echo "# crash-vm $l: $(($(now_ms) - t0)) ms"
  done
fi
hygiene "at the end"
e2e_stop_check
[ ! -e "$RUNM_CTRD_DIR" ] || not_ok "containerd dir removed" "$RUNM_CTRD_DIR"
if [ -n "$LVD_DIR" ]; then
  if bash "$ROOT/tools/libvirtd-env.sh" stop "$LVD_DIR"; then ok "libvirtd-env.sh stop leaves no process, mount or dir"; else
    not_ok "libvirtd-env.sh stop leaves no process, mount or dir"; fi
fi
if [ "$T_FAILED" -gt 0 ] && [ -d "$TMP/cases" ]; then
  keep=$(mktemp -d /tmp/runm-e2e-results.XXXXXX)
  cp -a "$TMP/cases/." "$keep/" && echo "# results of every case kept in $keep"
fi
echo "# whole suite: $((($(date +%s%N) - SUITE_START) / 1000000000)) s"
finish

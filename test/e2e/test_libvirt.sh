#!/bin/bash
# The libvirt VM backend (docs/libvirt.md) on a private libvirt: the embed
# driver (qemu:///embed?root=DIR, no daemon) with a root made here and
# removed at the end.
#   unreachable  a libvirt that is not there: a clear error naming the URI,
#                within the connect deadline, nothing left
#   specials     `runmctl vm start --backend libvirt` with XML-special
#                characters (& < > ') in the state dir: boots, answers Ping,
#                the domain's <metadata> carries runm's id, `virsh list`
#                shows it while it runs and not after `runmctl vm stop`;
#                its vCPU has the CPUID words of the qemu backend's
#   ctr          through containerd: `virsh list` shows the task's domain
#                while the task runs and not after `ctr task delete` (the
#                shim destroys the dead domain after Delete's reply, before
#                it exits: once the shim has exited, within 20 s, no domain,
#                no keeper, no cgroup is left); the shim's reported pid is
#                the domain's QEMU; two `ctr run --rm` back to back on the
#                same root (the second's create while the first's tidy may
#                still hold the root) both run, and leave nothing; so do
#                two at once
#   tidy         with the embed root's lock held by another process (as
#                a libvirt helper holds it), `ctr task delete` still answers
#                in time, QEMU gone; the shim waits for its tidy; kill -9 of
#                the shim then, lock released: the helper alone destroys the
#                domain and removes its cgroup
#   crash        kill -9 of the shim: containerd's `shim delete` leaves no
#                domain, no QEMU
# Then: nothing left (QEMU, domains, runm state, containerd, shims).
#   bash test/e2e/test_libvirt.sh
#   RUNM_E2E_CASES='specials|crash' bash test/e2e/test_libvirt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_libvirt.sh"

e2e_init rl "${RUNM_CTRD_NS:-runm-libvirt}" 90
LV_ROOT=$(mktemp -d /tmp/lv.XXXXXX)
URI="qemu:///embed?root=$LV_ROOT"
# containerd hands its environment to the shims it starts.
export RUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI=$URI

lv_cleanup() {
  local d
  bash "$ENV" stop >/dev/null 2>&1
  for d in $(virsh -q -c "$URI" list --name 2>/dev/null); do virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1; done
  cleanup
  rm -rf "$LV_ROOT"
}
trap lv_cleanup EXIT
trap 'exit 130' INT TERM HUP

want() { [[ "$1" =~ $CASES ]] || [ "$CASES" = . ]; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Our libvirt helpers (a create's keeper, a destroy) still running.
lv_helpers() { pgrep -af -- __runm-libvirt-helper | grep -F -- " $URI " | awk '{ printf "%s ", $1 }'; }
# The dirs of cgroup $1 (relative, as vm.info's cgroup=) in any hierarchy.
cgroup_dirs() { [ -n "$1" ] && ls -d /sys/fs/cgroup/*"$1" /sys/fs/cgroup"$1" 2>/dev/null; }
# The vCPU's CPUID words (QEMU's QOM feature-words) as sorted JSON, from a
# QMP reply on stdin.
cpu_words() { python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l).get("return") if l.startswith("{") else None
    if isinstance(r, list): print(json.dumps(sorted(r, key=lambda w: json.dumps(w, sort_keys=True)), sort_keys=True))'; }
QOM_WORDS='{"execute":"qom-get","arguments":{"path":"/machine/unattached/device[0]","property":"feature-words"}}'
# Those of a paused QEMU given the CPU-shaping options (-machine, -accel,
# -cpu) of the running QEMU with pid $1 (the qemu backend's).
cpu_words_like() {
  local a=() prev=""
  while IFS= read -r -d '' x; do
    case "$prev" in -machine | -M | -accel | -cpu) a+=("$prev" "$x") ;; esac
    prev=$x
  done <"/proc/$1/cmdline"
  printf '%s\n' '{"execute":"qmp_capabilities"}' "$QOM_WORDS" '{"execute":"quit"}' |
    timeout 30 qemu-system-x86_64 -S -nodefaults -display none -qmp stdio "${a[@]}" 2>/dev/null | cpu_words
}

# ---- unreachable --------------------------------------------------------------
if want unreachable; then
  bad="qemu:///system?socket=$TMP/no-such-daemon.sock"
  t0=$(now_ms)
  if out=$(timeout 60 "$RUNMCTL" vm start --id lv-unreach --backend libvirt --libvirt-uri "$bad" 2>&1); then
    not_ok "unreachable libvirt: start fails" "it started: $out"
  else
    t=$(($(now_ms) - t0))
    if grep -qF -- "libvirt \`$bad\`" <<<"$out" && [ "$t" -lt 35000 ]; then
      ok "unreachable libvirt: a clear error naming the URI in $t ms"
    else
      not_ok "unreachable libvirt: a clear error naming the URI within 35 s" "after $t ms: $out"
    fi
  fi
  if [ ! -e "$RUNM_STATE_DIR/vm/lv-unreach" ]; then ok "unreachable libvirt: no VM dir left"; else
    not_ok "unreachable libvirt: no VM dir left" "$(ls -A "$RUNM_STATE_DIR/vm/lv-unreach")"; fi
fi

# ---- specials: runmctl, a state dir with XML-special characters ----------------
if want specials; then
  sd="$RUNM_STATE_DIR/x&<'>"
  mkdir -m 0700 "$sd"
  if out=$("$RUNMCTL" --state-dir "$sd" vm start --id lv.s_1 --backend libvirt --libvirt-uri "$URI" \
    --timeout 90 2>&1); then
    ok "specials: a VM boots as a libvirt domain (state dir with & < > ')"
    x=$("$RUNMCTL" --state-dir "$sd" ping lv.s_1 2>&1) && ok "specials: the guest answers Ping" ||
      not_ok "specials: the guest answers Ping" "$x"
    if has_domain runm-lv.s_1; then ok "specials: virsh list shows domain runm-lv.s_1 while it runs"; else
      not_ok "specials: virsh list shows domain runm-lv.s_1 while it runs" "$(domains)"; fi
    x=$(virsh -q -c "$URI" dumpxml runm-lv.s_1 2>&1)
    if grep -qF '<runm:id>lv.s_1</runm:id>' <<<"$x" && grep -qF "x&amp;&lt;&apos;&gt;" <<<"$x"; then
      ok "specials: the domain's metadata names the VM and its state dir, escaped"
    else
      not_ok "specials: the domain's metadata names the VM and its state dir, escaped" "$(grep -A3 metadata <<<"$x")"
    fi
    pid=$(awk -F= '$1 == "qemu_pid" { print $2 }' "$sd/vm/lv.s_1/vm.info")
    if [ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx -- 'guest=runm-lv.s_1,debug-threads=on'; then
      ok "specials: vm.info's pid is the domain's QEMU"
    else
      not_ok "specials: vm.info's pid is the domain's QEMU" "pid $pid"
    fi
    # What confines it (docs/security.md, "The libvirt backend"): libvirt's, measured.
    st=$(cat "/proc/$pid/status" 2>/dev/null)
    if grep -qP '^NoNewPrivs:\t1$' <<<"$st" && grep -qP '^Seccomp:\t2$' <<<"$st" &&
      tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' &&
      [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; then
      ok "specials: the domain's QEMU has no_new_privs, seccomp (-sandbox) and its own mount namespace"
    else
      not_ok "specials: the domain's QEMU has no_new_privs, seccomp (-sandbox) and its own mount namespace" \
        "$(grep -E 'NoNewPrivs|Seccomp' <<<"$st")"
    fi
    echo "# the domain's QEMU: $(grep -E '^CapEff' <<<"$st" | tr '\t' ' ') (qemu backend: 000000000000001b)"
    # A qemu-backend VM beside it: `vm ls` lists both.
    "$RUNMCTL" --state-dir "$sd" vm start --id lv.q_1 --backend qemu --timeout 90 >/dev/null 2>"$TMP/q.err" ||
      not_ok "specials: a qemu-backend VM boots beside it" "$(cat "$TMP/q.err")"
    # The guest's CPU is the qemu backend's: the same CPUID words (QEMU's
    # default qemu64 under TCG; the domain's XML drops libvirt's
    # cpu-unavailable-features, which changes only how libvirt reads it).
    lw=$(virsh -q -c "$URI" qemu-monitor-command runm-lv.s_1 "$QOM_WORDS" 2>&1 | cpu_words)
    qw=$(cpu_words_like "$(awk -F= '$1 == "qemu_pid" { print $2 }' "$sd/vm/lv.q_1/vm.info")")
    if [ -n "$lw" ] && [ "$lw" = "$qw" ]; then
      ok "specials: the guest's CPUID words are the qemu backend's ($(grep -o cpuid-register <<<"$lw" | wc -l) words)"
    else
      not_ok "specials: the guest's CPUID words are the qemu backend's" "libvirt: ${lw:0:200}" "qemu: ${qw:0:200}"
    fi
    x=$("$RUNMCTL" --state-dir "$sd" vm ls 2>&1)
    if grep -qE '^lv\.s_1 +running +[0-9]+ +[a-z]+ +[a-z]+ +libvirt ' <<<"$x" &&
      grep -qE '^lv\.q_1 +running +[0-9]+ +[a-z]+ +[a-z]+ +qemu ' <<<"$x"; then
      ok "specials: runmctl vm ls shows both VMs running, each with its backend"
    else
      not_ok "specials: runmctl vm ls shows both VMs running, each with its backend" "$x"
    fi
    "$RUNMCTL" --state-dir "$sd" vm stop lv.q_1 >/dev/null 2>&1
    x=$("$RUNMCTL" --state-dir "$sd" vm stop lv.s_1 2>&1) && ok "specials: runmctl vm stop" ||
      not_ok "specials: runmctl vm stop" "$x"
    if wait_until 10 no_domain; then ok "specials: no domain after stop"; else
      not_ok "specials: no domain after stop" "$(all_domains)"; fi
  else
    not_ok "specials: a VM boots as a libvirt domain (state dir with & < > ')" "$out"
  fi
  rmdir "$sd/vm" "$sd" 2>/dev/null
fi

# ---- through containerd ----------------------------------------------------------
if want 'ctr|tidy|crash'; then
  e2e_start
fi
if want ctr; then
  ID=lv-ctr
  t0=$(now_ms)
  TCTR run -d --runtime io.containerd.runm.v1 "$IMAGE" "$ID" sleep 1000 </dev/null >/dev/null 2>"$TMP/ctr.err"
  if wait_until 30 status_is "$ID" RUNNING; then
    ok "ctr: task runs on the libvirt backend ($(($(now_ms) - t0)) ms)"
    lv_domain_checks "$ID"
    sp=$(shim_of "$ID")
    cg=$(awk -F= '$1 == "cgroup" { print $2 }' "$RUNM_STATE_DIR/vm/$(vm_id_of "$ID")/vm.info" 2>/dev/null)
    if [ -n "$cg" ] && [ -n "$(cgroup_dirs "$cg")" ]; then ok "ctr: vm.info records the domain's cgroup"; else
      not_ok "ctr: vm.info records the domain's cgroup" "cgroup=$cg"; fi
    TCTR task kill -s KILL "$ID" >/dev/null 2>&1
    wait_until 30 status_is "$ID" STOPPED
    TCTR task delete "$ID" >/dev/null 2>&1
    # Delete answers once QEMU is gone; libvirt's tidy (the dead domain's
    # destroy, the keeper, the cgroup) ends before the shim exits, which
    # waits for it (bounded by 15 s). After that, nothing may be left.
    if [ -n "$sp" ] && wait_until 20 pid_gone "$sp"; then ok "ctr: the shim exits after ctr task delete"; else
      not_ok "ctr: the shim exits after ctr task delete" "shim: ${sp:-not found}"; fi
    x="$(all_domains)$(lv_helpers)$(cgroup_dirs "$cg")"
    if [ -z "$x" ]; then ok "ctr: once the shim exited, no domain, keeper or cgroup is left"; else
      not_ok "ctr: once the shim exited, no domain, keeper or cgroup is left" "$x"; fi
  else
    not_ok "ctr: task runs on the libvirt backend" "status: $(task_status "$ID")" "$(cat "$TMP/ctr.err")"
  fi
  TCTR containers rm "$ID" >/dev/null 2>&1
  # Back to back on one root: the first's tidy may still run (and hold
  # the embed root) while the second creates its domain.
  for i in 1 2; do
    t0=$(now_ms)
    out=$(TCTR run --rm --runtime io.containerd.runm.v1 "$IMAGE" "lv-rm$i" echo "run $i" 2>&1 </dev/null)
    if [ "$out" = "run $i" ]; then ok "ctr: ctr run --rm #$i ($(($(now_ms) - t0)) ms)"; else
      not_ok "ctr: ctr run --rm #$i" "$out"; fi
  done
  # And two at once: their create helpers meet at the root's lock.
  t0=$(now_ms)
  for i in 3 4; do
    TCTR run --rm --runtime io.containerd.runm.v1 "$IMAGE" "lv-rm$i" echo "run $i" >"$TMP/rm$i.out" 2>&1 </dev/null &
  done
  wait
  for i in 3 4; do
    if [ "$(cat "$TMP/rm$i.out")" = "run $i" ]; then ok "ctr: concurrent ctr run --rm #$i ($(($(now_ms) - t0)) ms for both)"; else
      not_ok "ctr: concurrent ctr run --rm #$i" "$(cat "$TMP/rm$i.out")"; fi
  done
  no_shims() { [ -z "$(shim_of lv-rm1)$(shim_of lv-rm2)$(shim_of lv-rm3)$(shim_of lv-rm4)" ]; }
  wait_until 20 no_shims
  x="$(shim_of lv-rm1)$(shim_of lv-rm2)$(shim_of lv-rm3)$(shim_of lv-rm4)$(all_domains)$(lv_helpers)"
  if [ -z "$x" ]; then ok "ctr: after all four, no shim, domain or helper is left"; else
    not_ok "ctr: after all four, no shim, domain or helper is left" "$x"; fi
fi
if want tidy; then
  ID=lv-tidy
  TCTR run -d --runtime io.containerd.runm.v1 "$IMAGE" "$ID" sleep 1000 </dev/null >/dev/null 2>"$TMP/tidy.err"
  if wait_until 30 status_is "$ID" RUNNING && sp=$(shim_of "$ID") && [ -n "$sp" ]; then
    vmid=$(vm_id_of "$ID")
    dom="runm-$vmid"
    qpid=$(task_pid "$ID")
    cg=$(awk -F= '$1 == "cgroup" { print $2 }' "$RUNM_STATE_DIR/vm/$vmid/vm.info" 2>/dev/null)
    TCTR task kill -s KILL "$ID" >/dev/null 2>&1
    wait_until 30 status_is "$ID" STOPPED
    # libvirt's pid file lock (fcntl, byte 0), held as a running libvirt
    # process of the root holds it: every helper waits its turn.
    coproc LOCKER { python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)
print("locked", flush=True)
sys.stdin.read()' "$LV_ROOT/run/qemu/driver.pid"; }
    line=""
    read -r -t 30 line <&"${LOCKER[0]}"
    t0=$(now_ms)
    TCTR task delete "$ID" >/dev/null 2>"$TMP/tidy.del"
    rc=$?
    x=$(cat "$TMP/tidy.del")
    t=$(($(now_ms) - t0))
    if [ "$line" = locked ] && [ "$rc" -eq 0 ] && [ "$t" -lt 10000 ] && [ -n "$qpid" ] && pid_gone "$qpid"; then
      ok "tidy: ctr task delete answers in $t ms with the root locked, QEMU gone"
    else
      not_ok "tidy: ctr task delete answers within 10 s with the root locked, QEMU gone" \
        "lock: $line, $t ms, status $rc: $x, QEMU $qpid: $(pid_gone "$qpid" && echo gone || echo running)"
    fi
    if [ -e "$LV_ROOT/run/qemu/$dom.xml" ] && ! pid_gone "$sp" && [ -n "$(lv_helpers)" ]; then
      ok "tidy: meanwhile the domain's destroy waits for the root, and the shim for it"
    else
      not_ok "tidy: meanwhile the domain's destroy waits for the root, and the shim for it" \
        "status file: $(ls "$LV_ROOT/run/qemu/"), shim $sp: $(pid_gone "$sp" && echo gone), helpers: $(lv_helpers)"
    fi
    kill -KILL "$sp" 2>/dev/null
    exec {LOCKER[1]}>&-
    wait "$LOCKER_PID" 2>/dev/null
    # The helper goes on alone (its own bound: 20 s).
    tidy_done() { [ -z "$(lv_helpers)" ] && [ ! -e "$LV_ROOT/run/qemu/$dom.xml" ]; }
    wait_until 25 tidy_done
    x="$(lv_helpers)$(all_domains)$(cgroup_dirs "$cg")"
    [ -n "$cg" ] || x+="vm.info had no cgroup"
    if [ -z "$x" ]; then ok "tidy: the shim killed meanwhile, its helper leaves no domain, keeper or cgroup"; else
      not_ok "tidy: the shim killed meanwhile, its helper leaves no domain, keeper or cgroup" "$x"; fi
  else
    not_ok "tidy: task runs, its shim found" "status: $(task_status "$ID")" "$(cat "$TMP/tidy.err")"
  fi
  TCTR task delete "$ID" >/dev/null 2>&1
  TCTR containers rm "$ID" >/dev/null 2>&1
fi
if want crash; then
  lv_crash_case lv-crash "shim delete leaves no domain"
fi

if want 'ctr|tidy|crash'; then
  e2e_stop_check
fi
x=$(all_domains)
if [ -z "$x" ]; then ok "libvirt knows no domain at the end"; else not_ok "libvirt knows no domain at the end" "$x"; fi
# libvirt's per-domain cgroups go with their domains. Only this test's
# (its VM ids all start `lv`): other suites' libvirt VMs may run meanwhile.
x=$(ls -d /sys/fs/cgroup/*/machine/qemu-embed-*-runm-*lv[.-]* /sys/fs/cgroup/machine/qemu-embed-*-runm-*lv[.-]* 2>/dev/null)
if [ -z "$x" ]; then ok "no libvirt cgroup of ours left"; else not_ok "no libvirt cgroup of ours left" $x; fi
# The shims' top-level dirs (s/, exports/, ...) stay, empty, as in test_ctr.
find "$RUNM_STATE_DIR" -mindepth 1 -maxdepth 1 -type d -empty -delete
leak_checks
finish

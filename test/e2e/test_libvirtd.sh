#!/bin/bash
# The libvirt VM backend (docs/libvirt.md) on a libvirt *daemon*, the kind
# of URI `libvirt_uri` defaults to (qemu:///system): a private libvirtd
# (tools/libvirtd-env.sh: its own mount and network namespaces, its socket
# under a dir made here), reached as qemu:///system?socket=DIR/sock/...
# test_libvirt.sh covers the embed driver (no daemon).
#   daemon   the private libvirtd starts and answers
#   vm       `runmctl vm start --backend libvirt` through the daemon: boots,
#            answers Ping, `virsh list` shows the domain while it runs and
#            not after `runmctl vm stop`
#   ctr      through containerd: the task runs, `virsh list` shows its
#            domain, its pid is the domain's QEMU, `ctr task exec` works;
#            after kill and delete the shim exits and the daemon knows no
#            domain (AUTODESTROY: the shim's connection closed); `ctr run
#            --rm` prints its output and leaves no domain
#   netns    a task in a network namespace of its own (CNI's namespace
#            mode: here a path, as CRI gives) is refused with an error that
#            names the reason (a daemon's QEMU runs in the daemon's
#            namespace); nothing is left: no domain, no TAP in the
#            namespace, no network record
#   crash    kill -9 of the shim: the domain ends with its connection
#            (AUTODESTROY), containerd's `shim delete` leaves no QEMU and
#            no VM state
# Then: the daemon stops leaving nothing (no process in its namespace, no
# mount, no cgroup of ours), nor containerd, nor runm state.
#   bash test/e2e/test_libvirtd.sh
#   RUNM_E2E_CASES='vm|crash' bash test/e2e/test_libvirtd.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_libvirt.sh"

e2e_init ld "${RUNM_CTRD_NS:-runm-libvirtd}" 90
LVD_DIR=$(mktemp -d /tmp/lvd.XXXXXX)
LVD=$ROOT/tools/libvirtd-env.sh
URI=

ld_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  bash "$LVD" stop "$LVD_DIR" >/dev/null 2>&1
  cleanup
}
trap ld_cleanup EXIT
trap 'exit 130' INT TERM HUP

want() { [[ "$1" =~ $CASES ]] || [ "$CASES" = . ]; }

# ---- the daemon -------------------------------------------------------------
# runm's state dir is shared with the daemon's mount namespace: the shim's
# rootfs binds under exports/ are made after the daemon started.
if URI=$(bash "$LVD" start "$LVD_DIR" "$RUNM_STATE_DIR" 2>"$TMP/lvd.err"); then
  ok "daemon: a private libvirtd answers at $URI"
else
  not_ok "daemon: a private libvirtd answers" "$(cat "$TMP/lvd.err")"
  finish
fi
export RUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI=$URI

# ---- runmctl ------------------------------------------------------------------
if want vm; then
  if out=$(timeout 120 "$RUNMCTL" vm start --id ld-vm --backend libvirt --libvirt-uri "$URI" 2>&1) &&
    timeout 30 "$RUNMCTL" ping ld-vm >/dev/null 2>&1; then
    ok "vm: boots through the daemon and answers Ping"
    if has_domain runm-ld-vm; then ok "vm: virsh list shows the domain while it runs"; else
      not_ok "vm: virsh list shows the domain while it runs" "$(domains)"; fi
    timeout 60 "$RUNMCTL" vm stop ld-vm >/dev/null 2>&1
    if wait_until 10 no_domain; then ok "vm: no domain after runmctl vm stop"; else
      not_ok "vm: no domain after runmctl vm stop" "$(all_domains)"; fi
  else
    not_ok "vm: boots through the daemon and answers Ping" "$out"
    timeout 60 "$RUNMCTL" vm stop ld-vm >/dev/null 2>&1
  fi
fi

# ---- through containerd ----------------------------------------------------------
if want 'ctr|netns|crash'; then
  e2e_start
fi
if want ctr; then
  ID=ld-ctr
  TCTR run -d --runtime io.containerd.runm.v1 "$IMAGE" "$ID" sleep 1000 </dev/null >/dev/null 2>"$TMP/ctr.err"
  if wait_until 30 status_is "$ID" RUNNING; then
    ok "ctr: task runs on the daemon's domain"
    lv_domain_checks "$ID"
    out=$(TCTR task exec --exec-id e1 "$ID" echo exec-ok 2>&1 </dev/null)
    if [ "$out" = exec-ok ]; then ok "ctr: task exec in the domain's container"; else
      not_ok "ctr: task exec in the domain's container" "$out"; fi
    sp=$(shim_of "$ID")
    TCTR task kill -s KILL "$ID" >/dev/null 2>&1
    wait_until 30 status_is "$ID" STOPPED
    TCTR task delete "$ID" >/dev/null 2>&1
    if [ -n "$sp" ] && wait_until 20 pid_gone "$sp"; then ok "ctr: the shim exits after ctr task delete"; else
      not_ok "ctr: the shim exits after ctr task delete" "shim: ${sp:-not found}"; fi
    if wait_until 10 no_domain; then ok "ctr: then the daemon knows no domain"; else
      not_ok "ctr: then the daemon knows no domain" "$(all_domains)"; fi
  else
    not_ok "ctr: task runs on the daemon's domain" "status: $(task_status "$ID")" "$(cat "$TMP/ctr.err")"
  fi
  TCTR containers rm "$ID" >/dev/null 2>&1
  out=$(TCTR run --rm --runtime io.containerd.runm.v1 "$IMAGE" ld-rm echo hello 2>&1 </dev/null)
  if [ "$out" = hello ]; then ok "ctr: ctr run --rm through the daemon"; else not_ok "ctr: ctr run --rm through the daemon" "$out"; fi
  if wait_until 10 no_domain; then ok "ctr: no domain after ctr run --rm"; else
    not_ok "ctr: no domain after ctr run --rm" "$(all_domains)"; fi
fi
if want netns; then
  touch "$TMP/podns" && unshare --net="$TMP/podns" true
  out=$(TCTR run --rm --runtime io.containerd.runm.v1 --with-ns "network:$TMP/podns" "$IMAGE" ld-ns echo hello 2>&1 </dev/null)
  if [ $? -ne 0 ] && grep -q "starts QEMU in its daemon's" <<<"$out"; then
    ok "netns: the namespace mode is refused through a daemon, naming the reason"
  else
    not_ok "netns: the namespace mode is refused through a daemon, naming the reason" "$out"
  fi
  x=$(all_domains; nsenter --net="$TMP/podns" ip -o link 2>&1 | awk -F': ' '$2 != "lo" { print $2 }'
      find "$RUNM_STATE_DIR/net" -mindepth 1 2>/dev/null)
  if [ -z "$x" ]; then ok "netns: nothing left (domain, TAP, network record)"; else
    not_ok "netns: nothing left (domain, TAP, network record)" "$x"; fi
  TCTR containers rm ld-ns >/dev/null 2>&1
  umount "$TMP/podns" 2>/dev/null
  rm -f "$TMP/podns"
fi
if want crash; then
  lv_crash_case ld-crash "the domain ended with the shim's connection"
fi

if want 'ctr|netns|crash'; then
  e2e_stop_check
fi
x=$(all_domains)
if [ -z "$x" ]; then ok "the daemon knows no domain at the end"; else not_ok "the daemon knows no domain at the end" "$x"; fi
if bash "$LVD" stop "$LVD_DIR" 2>"$TMP/lvd-stop.err"; then
  ok "libvirtd-env.sh stop leaves no process, mount or dir"
else
  not_ok "libvirtd-env.sh stop leaves no process, mount or dir" "$(cat "$TMP/lvd-stop.err")"
fi
if ! grep -qF " $RUNM_STATE_DIR " /proc/self/mountinfo; then ok "the state dir is no mount point any more"; else
  not_ok "the state dir is no mount point any more"; fi
# The daemon's per-domain cgroups go with their domains (this test's VM ids
# all start `ld`).
x=$(ls -d /sys/fs/cgroup/*/machine/qemu-*-runm-*ld[.-]* /sys/fs/cgroup/machine/qemu-*-runm-*ld[.-]* 2>/dev/null)
if [ -z "$x" ]; then ok "no libvirt cgroup of ours left"; else not_ok "no libvirt cgroup of ours left" $x; fi
find "$RUNM_STATE_DIR" -mindepth 1 -maxdepth 1 -type d -empty -delete
leak_checks
finish

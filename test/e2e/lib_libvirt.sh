# shellcheck shell=bash
# Shared by test_libvirt.sh (the embed driver) and test_libvirtd.sh (a
# daemon): virsh probes of the libvirt at $URI, task probes, and the crash
# case. Sourced after lib.sh.

# lv_list URI [--all]: the domains' names, one a line; "virsh failed" when
# virsh fails. Debian's virsh 9.0 on an embed root now and then dies of a
# SIGSEGV while its embedded driver starts or ends (seen once in ~40 runs of
# the suites, before it printed anything): a virsh killed by a signal is
# asked again (3 tries), an error it reports is not.
lv_list() {
  local out rc try
  for try in 1 2 3; do
    out=$(virsh -q -c "$1" list ${2:+"$2"} --name 2>/dev/null)
    rc=$?
    [ $rc -lt 128 ] && break
  done
  if [ $rc -ne 0 ]; then echo "virsh failed (exit $rc)"; return 0; fi
  grep -v '^$' <<<"$out"
  return 0
}
# Running domains (names), and all of them, at $URI.
domains() { lv_list "$URI"; }
all_domains() { lv_list "$URI" --all; }
has_domain() { domains | grep -qx -- "$1"; }
no_domain() { [ -z "$(all_domains)" ]; }
task_pid() { CTR task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
task_gone() { [ -z "$(task_status "$1")" ]; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
no_qemu() { [ -z "$(our_qemus)" ]; }
vm_id_of() { "$RUNM_BIN/containerd-shim-runm-v1" -namespace "$NS" -id "$1" vm-id; }

# lv_crash_case ID DOMAIN_GONE: kill -9 of a running task's shim; containerd
# drops the task, no domain is left (DOMAIN_GONE says by whose doing), no
# QEMU, and `shim delete` removes the VM's state dir and exports.
lv_crash_case() {
  local ID=$1 gone=$2 sp vmid q
  TCTR run -d --runtime io.containerd.runm.v1 "$IMAGE" "$ID" sleep 1000 </dev/null >/dev/null 2>"$TMP/crash.err"
  wait_until 30 status_is "$ID" RUNNING
  sp=$(shim_of "$ID")
  if status_is "$ID" RUNNING && [ -n "$sp" ]; then
    vmid=$(vm_id_of "$ID")
    # virsh on an embed root waits its turn behind the shim's libvirt helper.
    wait_until 15 has_domain "runm-$vmid" || not_ok "crash: the domain runs before the crash" "$(domains)"
    kill -KILL "$sp"
    if wait_until 15 task_gone "$ID"; then ok "crash: containerd drops the task after kill -9 of the shim"; else
      not_ok "crash: containerd drops the task after kill -9 of the shim" "status: $(task_status "$ID")"; fi
    if wait_until 15 no_domain; then ok "crash: $gone"; else not_ok "crash: $gone" "$(all_domains)"; fi
    # QEMU may take a moment after libvirt forgot the domain (containerd
    # runs shim delete on its own: SIGKILLed, then waited for).
    wait_until 15 no_qemu
    q=$(our_qemus)
    if [ -z "$q" ]; then ok "crash: no QEMU left"; else not_ok "crash: no QEMU left" "pids: $q"; fi
    # containerd runs `shim delete` in the background: its last steps
    # (state, exports) come after the domain is gone.
    if wait_until 20 eval '[ ! -e "$RUNM_STATE_DIR/vm/$vmid" ] && [ ! -e "$RUNM_STATE_DIR/exports/$vmid" ]'; then
      ok "crash: shim delete removes the VM's state dir and exports"
    else
      not_ok "crash: shim delete removes the VM's state dir and exports" "$(ls -d "$RUNM_STATE_DIR"/*/"$vmid" 2>&1)"
    fi
  else
    not_ok "crash: task runs, its shim found" "status: $(task_status "$ID"), shim: $sp" "$(cat "$TMP/crash.err")"
  fi
  TCTR task delete "$ID" >/dev/null 2>&1
  TCTR containers rm "$ID" >/dev/null 2>&1
}

# lv_domain_checks ID: for a running task, `virsh list` shows its domain
# (runm-<vm id>) and the task's pid is the domain's QEMU.
lv_domain_checks() {
  local dom pid
  dom="runm-$(vm_id_of "$1")"
  if has_domain "$dom"; then ok "ctr: virsh list shows the task's domain while it runs"; else
    not_ok "ctr: virsh list shows the task's domain while it runs" "want $dom, have: $(domains)"; fi
  pid=$(task_pid "$1")
  if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx -- "guest=$dom,debug-threads=on"; then
    ok "ctr: the task's pid is the domain's QEMU"
  else
    not_ok "ctr: the task's pid is the domain's QEMU" "pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | head -c 200)"
  fi
}

# RUNM_E2E_VM_BACKEND=libvirt in a suite that runs on either backend: runm's
# VMs become libvirt domains on a private embed root, LV_ROOT (the shims get
# it through containerd's environment). LV_ROOT is "" otherwise. The suite
# removes LV_ROOT in its cleanup, after containerd stopped.
lv_embed_from_env() { # TAG
  LV_ROOT=""
  [ "${RUNM_E2E_VM_BACKEND:-qemu}" = libvirt ] || return 0
  LV_ROOT=$(mktemp -d "/tmp/lv$1.XXXXXX")
  export RUNM_VM_BACKEND=libvirt RUNM_LIBVIRT_URI="qemu:///embed?root=$LV_ROOT"
}
# One check at a suite's end on the embed root: no domain left.
lv_embed_end_check() {
  local x
  [ -n "$LV_ROOT" ] || return 0
  x=$(lv_list "$RUNM_LIBVIRT_URI" --all)
  if [ -z "$x" ]; then ok "libvirt: no domain left on the embed root"; else
    not_ok "libvirt: no domain left on the embed root" "$x"; fi
}

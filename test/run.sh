#!/bin/bash
# runm's test driver: C unit tests (TAP), then black-box integration tests
# against real VMs, then end-to-end tests through containerd and ctr, each
# under the normal and the ASan/UBSan build of the host binaries. The last
# line is always `N passed, N failed`.
#
#   test/run.sh                       everything (what `make test` runs)
#   test/run.sh --unit-only           unit tests and fuzzers; builds the host binaries only
#   test/run.sh --integration-only    integration tests (real VMs)
#   test/run.sh --e2e-only            end-to-end tests (containerd + ctr)
#   test/run.sh NAME...               only the named tests, e.g. `test_ttrpc test_ctr`
#                                     (a unit test, a test/unit/*.sh script, or an
#                                     integration or e2e script, without .sh)
set -uo pipefail
cd "$(dirname "$0")/.."

PHASES="unit integration e2e"
NAMES=()
for arg in "$@"; do
  case "$arg" in
    --unit-only) PHASES=unit ;;
    --integration-only) PHASES=integration ;;
    --e2e-only) PHASES=e2e ;;
    -*) echo "usage: test/run.sh [--unit-only|--integration-only|--e2e-only] [NAME...]" >&2; exit 2 ;;
    *) NAMES+=("${arg%.sh}") ;;
  esac
done
if [ ${#NAMES[@]} -gt 0 ]; then
  # Each name must be some test: a typo is an error, not an empty green run.
  PHASES=
  for n in "${NAMES[@]}"; do
    found=
    if [ -f "test/unit/$n.c" ] || [ -f "test/unit/$n.sh" ]; then found=unit; fi
    [ -f "test/integration/$n.sh" ] && found="$found integration"
    [ -f "test/e2e/$n.sh" ] && found="$found e2e"
    if [ -z "$found" ]; then
      echo "test/run.sh: no test named \`$n\` (looked in test/unit, test/integration, test/e2e)" >&2
      exit 2
    fi
    PHASES="$PHASES $found"
  done
fi
# wanted NAME: true when NAME was asked for (or no names were given).
wanted() {
  [ ${#NAMES[@]} -eq 0 ] && return 0
  local n
  for n in "${NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
JOBS=$(nproc)
passed=0
failed=0
failures=()
LOG_DIR=$(mktemp -d /tmp/runm-test-logs.XXXXXX)

# Runs one TAP producer; counts its ok/not ok lines. A program that exits
# non-zero without a `not ok` line still counts as one failure.
run_tap() {
  local name=$1; shift
  local log="$LOG_DIR/$(echo "$name" | tr '/ ' '__').log"
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local ok nok
  ok=$(grep -c '^ok ' "$log")
  nok=$(grep -c '^not ok ' "$log")
  passed=$((passed + ok))
  failed=$((failed + nok))
  if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
    failed=$((failed + 1))
    nok=1
  fi
  if [ "$nok" -gt 0 ]; then
    failures+=("$name")
    echo "FAIL $name ($ok ok, $nok failed, exit $rc, $((SECONDS - start)) s)"
    grep -E '^not ok|^#' "$log" | head -40 | sed 's/^/    /'
    tail -5 "$log" | sed 's/^/    | /'
  else
    echo "ok   $name ($ok checks, $((SECONDS - start)) s)"
  fi
}

# Unit tests need only the host binaries; VMs need the kernel and image too.
build() {
  local target=host
  if has_phase integration || has_phase e2e; then target=all; fi
  echo "== build ($target)"
  if ! make -j"$JOBS" "$target" >"$LOG_DIR/build.log" 2>&1; then
    tail -30 "$LOG_DIR/build.log"
    failed=$((failed + 1)); failures+=("build")
    return 1
  fi
  if ! make -j"$JOBS" SANITIZE=1 host >"$LOG_DIR/build-san.log" 2>&1; then
    tail -30 "$LOG_DIR/build-san.log"
    failed=$((failed + 1)); failures+=("build (SANITIZE=1)")
    return 1
  fi
  passed=$((passed + 2))
  echo "ok   build (normal and SANITIZE=1)"
}

unit_tests() {
  local dir=$1 label=$2
  for t in "$dir"/test/test_*; do
    [ -x "$t" ] || continue
    wanted "$(basename "$t")" || continue
    run_tap "unit$label $(basename "$t")" "$t"
  done
}

# Script-level unit tests (the Makefile's shape); run once, not per build.
script_tests() {
  for t in test/unit/test_*.sh; do
    [ -f "$t" ] || continue
    wanted "$(basename "$t" .sh)" || continue
    run_tap "unit $(basename "$t" .sh)" bash "$t"
  done
}

integration_tests() {
  local bin=$1 label=$2
  for t in test/integration/test_*.sh; do
    [ -f "$t" ] || continue
    wanted "$(basename "$t" .sh)" || continue
    if [ -n "$label" ] && [ ${#NAMES[@]} -eq 0 ] &&
      [[ "$ASAN_ONCE_INTEGRATION" == *" $(basename "$t" .sh) "* ]]; then continue; fi
    run_tap "integration$label $(basename "$t" .sh)" env RUNM_BIN="$bin" BUILD=build bash "$t"
  done
}

# The ASan passes, within the 45-minute budget of `make test` on 2 cores
# (a full run measured 49 min with every suite in both builds). Run once,
# with the normal build, are the suites whose subject is not the host
# binaries' own memory handling, or whose host code another suite runs
# under ASan: test_cni (nerdctl's CNI contract; the namespace-mode code runs
# under ASan in test_netns), test_hostile_confine (QEMU's confinement),
# test_net (QEMU's user networking; the frame filter runs under ASan in the
# integration test_net), test_limits (rlimits, a copy), and the integration
# test_guest_python (the guest's API; the guest is never an ASan build).
# test_stdio_exit makes 30 execs, not 100, under ASan. Named on the command
# line, a suite runs in both builds in full.
ASAN_ONCE=" test_cni test_hostile_confine test_net test_limits test_sharefs "
ASAN_ONCE_INTEGRATION=" test_guest_python "
e2e_tests() {
  local bin=$1 label=$2 name
  for t in test/e2e/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    wanted "$name" || continue
    if [ -n "$label" ] && [ ${#NAMES[@]} -eq 0 ]; then
      [[ "$ASAN_ONCE" == *" $name "* ]] && continue
      case $name in
        test_stdio_exit)
          run_tap "e2e$label $name" env RUNM_BIN="$bin" BUILD=build RUNM_STDIO_EXECS=30 bash "$t"
          continue ;;
      esac
    fi
    run_tap "e2e$label $name" env RUNM_BIN="$bin" BUILD=build bash "$t"
  done
}

if build; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  if has_phase unit; then
    echo "== unit tests"
    script_tests
    unit_tests build ""
    unit_tests build-san " [asan]"
    if [ ${#NAMES[@]} -eq 0 ]; then
      echo "== fuzz (ttrpc frames, ${FUZZ_TIME:-20} s)"
      run_tap "fuzz ttrpc" bash -c 'make -s fuzz FUZZ_TIME=${FUZZ_TIME:-20} >/tmp/runm-fuzz.log 2>&1 && echo "ok 1 - fuzz_ttrpc found no crash" || { tail -20 /tmp/runm-fuzz.log; echo "not ok 1 - fuzz_ttrpc"; exit 1; }'
      run_tap "fuzz ports" bash -c 'make -s fuzz-ports FUZZ_TIME=${FUZZ_PORTS_TIME:-10} >/tmp/runm-fuzz-ports.log 2>&1 && echo "ok 1 - fuzz_ports found no crash" || { tail -20 /tmp/runm-fuzz-ports.log; echo "not ok 1 - fuzz_ports"; exit 1; }'
      # What the guest sends the host (issue 11): ${FUZZ_GUEST_TIME:-10} s each.
      for f in replies hookreq claim cmdline netconfig; do
        run_tap "fuzz $f" bash -c "make -s fuzz-$f FUZZ_GUEST_TIME=\${FUZZ_GUEST_TIME:-10} >/tmp/runm-fuzz-$f.log 2>&1 && echo 'ok 1 - fuzz-$f found no crash' || { tail -20 /tmp/runm-fuzz-$f.log; echo 'not ok 1 - fuzz-$f'; exit 1; }"
      done
    fi
  fi
  if has_phase integration; then
    echo "== integration tests"
    integration_tests build/bin ""
    integration_tests build-san/bin " [asan]"
  fi
  if has_phase e2e; then
    echo "== end-to-end tests (containerd + ctr)"
    e2e_tests build/bin ""
    e2e_tests build-san/bin " [asan]"
    # bind_mode fuse: on the native snapshotter, every rootfs and bind volume
    # through runm-bindfs (docs/bindfs.md): the cases that read and write
    # files, under runm against runc-v2 (which bind_mode does not touch; one
    # runm run, where a runm-only run would compare two).
    if wanted test_ctr; then
      run_tap "e2e [native, bind_mode fuse] test_ctr" env RUNM_BIN=build/bin BUILD=build \
        RUNM_E2E_SNAPSHOTTER=native RUNM_E2E_BIND_MODE=fuse RUNM_E2E_RUNTIMES='runc runm' \
        RUNM_E2E_CASES='^(echo|cwd|rootfs|readonly|bind_ro|bind_rw|bind_file|exec)-native$|fuse|crash' \
        bash test/e2e/test_ctr.sh
    fi
    # vm_backend = libvirt (docs/libvirt.md) on a private embed root: the
    # whole suite (runc-v2 against runm on libvirt domains; 145-175 s at
    # load 1.5-3, once: not under the ASan shim).
    if wanted test_ctr; then
      run_tap "e2e [libvirt] test_ctr" env RUNM_BIN=build/bin BUILD=build RUNM_E2E_VM_BACKEND=libvirt \
        bash test/e2e/test_ctr.sh
      # And through a private libvirt daemon (the default kind of URI).
      run_tap "e2e [libvirtd] test_ctr" env RUNM_BIN=build/bin BUILD=build RUNM_E2E_VM_BACKEND=libvirtd \
        bash test/e2e/test_ctr.sh
    fi
    # The suites that run on either backend, again on libvirt domains (a
    # private embed root each; docs/libvirt.md): CNI's namespace mode
    # (test_cni: runm's half only, as test_cri's: runc-v2's and the
    # runc<->runm case ran above; test_netns: the namespace's TAP, redirects and teardown), the
    # pool and pods (claims and a pod's later containers bind into a
    # running domain's share), virtio-fs shares. ~3 min together.
    for t in test_cni test_netns test_pool test_cri test_sharefs; do
      wanted "$t" || continue
      run_tap "e2e [libvirt] $t" env RUNM_BIN=build/bin BUILD=build RUNM_E2E_VM_BACKEND=libvirt \
        RUNM_E2E_RUNTIMES="$(case $t in test_cni | test_cri) echo runm ;; *) echo 'runc runm' ;; esac)" \
        bash "test/e2e/$t.sh"
    done
  fi
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "failed: ${failures[*]}"
  echo "logs: $LOG_DIR"
else
  rm -rf "$LOG_DIR"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# The Makefile's shape on a fresh machine (TAP). make reads the packages'
# .pc files ($(shell pkg-config ...)) and /usr/include/google/protobuf when
# it starts, before any recipe runs: a goal that runs `deps` and then builds
# in the same make process cannot see what deps installed, and stops at
# "No rule to make target build/obj/lib/...". So:
#   - demo, test, bench: deps first, and no build command in this make
#     process (the build is a fresh make: $(MAKE) or test/run.sh);
#   - every other building goal, without the packages: a clear error that
#     names `make deps`, not make's "No rule to make target";
#   - with the packages (this machine), every goal dry-runs cleanly, and
#     `make unit` neither builds the guest kernel nor the image.
# A fresh machine is simulated with `make -n` in a copy of the tree without
# build output, PKG_CONFIG pointing to a stub that prints nothing and fails
# (as pkg-config does for a missing module, or a missing pkg-config), and
# PROTO_SYS an empty directory. $(MAKE) becomes `echo SUBMAKE:` so a
# recursive make shows up as a line instead of running.
# RUNM_TEST_MAKEFILE=FILE / RUNM_TEST_RUNSH=FILE check another Makefile or
# test/run.sh (e.g. old ones).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/runm-test-makefile.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)); failed=$((failed + 1))
  echo "not ok $n - $1"
  [ -n "${2:-}" ] && sed 's/^/#   /' <<<"$2" | head -15
}
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

mkdir -p "$TMP/tree" "$TMP/empty"
tar -C "$ROOT" --exclude=./build --exclude=./build-san --exclude=./.git --exclude=./bench-results \
  -cf - . | tar -C "$TMP/tree" -xf -
[ -n "${RUNM_TEST_MAKEFILE:-}" ] && cp "$RUNM_TEST_MAKEFILE" "$TMP/tree/Makefile"
[ -n "${RUNM_TEST_RUNSH:-}" ] && cp "$RUNM_TEST_RUNSH" "$TMP/tree/test/run.sh"
printf '#!/bin/sh\nexit 1\n' >"$TMP/pkg-config"
chmod +x "$TMP/pkg-config"

# CC and protoc-c get names no recipe line has otherwise.
STUBS=(CC=__cc__ PROTOC_C=__protoc_c__ "MAKE=echo SUBMAKE:")
FRESH=(PKG_CONFIG="$TMP/pkg-config" PROTO_SYS="$TMP/empty")
dry() { # dry OUT GOAL VARS...: make -n in the copy; output in $TMP/OUT, exit code returned
  local out=$1 goal=$2; shift 2
  make -n --no-print-directory -C "$TMP/tree" "$goal" "${STUBS[@]}" "$@" >"$TMP/$out" 2>&1
}
BUILD_CMD='__cc__|__protoc_c__|ar rcs|linux/kernel/build.sh|runm-mkimage|^strip '

for goal in demo test bench; do
  dry "$goal.fresh" "$goal" "${FRESH[@]}"
  rc=$?
  out=$(cat "$TMP/$goal.fresh")
  check "make $goal on a fresh machine: the first make needs nothing deps installs (exit 0)" \
    '[ $rc -eq 0 ]' "$out"
  first=$(grep -v '^SUBMAKE:' "$TMP/$goal.fresh" | head -1)
  check "make $goal runs deps first" '[ "$first" = "bash tools/deps.sh" ]' "first command: $first"
  check "make $goal runs no build command in the make that started before deps" \
    '! grep -Eq "$BUILD_CMD" "$TMP/$goal.fresh"' "$(grep -E "$BUILD_CMD" "$TMP/$goal.fresh")"
  case $goal in
    test) fresh_line='^bash test/run.sh$' ;;
    *) fresh_line='^echo SUBMAKE: .* all$' ;;
  esac
  check "make $goal builds in a fresh make after deps" \
    'sed -n "/^bash tools\/deps.sh$/,\$p" "$TMP/$goal.fresh" | grep -q "$fresh_line"' "$out"
done

for goal in all unit integration e2e install fuzz; do
  dry "$goal.fresh" "$goal" "${FRESH[@]}"
  rc=$?
  out=$(cat "$TMP/$goal.fresh")
  check "make $goal without the packages fails, naming make deps" \
    '[ $rc -ne 0 ] && grep -q "run \`make deps\` first" "$TMP/$goal.fresh"' "$out"
  check "make $goal without the packages does not end in make's \"No rule to make target\"" \
    '! grep -q "No rule to make target" "$TMP/$goal.fresh"' "$out"
done

# With the packages (this machine has them: the build ran before the tests).
for goal in all unit demo test bench integration e2e; do
  dry "$goal.real" "$goal"
  rc=$?
  check "make $goal dry-runs with the packages present" '[ $rc -eq 0 ]' "$(tail -5 "$TMP/$goal.real")"
done
check "make unit builds neither the guest kernel nor the image" \
  '! grep -Eq "linux/kernel/build.sh|runm-mkimage (mbin|initramfs)|guest/init/|guest/mounter/" "$TMP/unit.real"' \
  "$(grep -E 'linux/kernel/build.sh|runm-mkimage (mbin|initramfs)|guest/init/|guest/mounter/' "$TMP/unit.real")"
check "make unit builds the unit tests and runs only them" \
  'grep -q "__cc__.* -o build/test/test_cmdline " "$TMP/unit.real" && grep -qx "bash test/run.sh --unit-only" "$TMP/unit.real"' \
  "$(tail -5 "$TMP/unit.real")"
check "make integration runs the integration tests" \
  'grep -qx "bash test/run.sh --integration-only" "$TMP/integration.real"' "$(cat "$TMP/integration.real")"
check "make e2e runs the end-to-end tests" \
  'grep -qx "bash test/run.sh --e2e-only" "$TMP/e2e.real"' "$(cat "$TMP/e2e.real")"

# test/run.sh picks what it builds from what it runs: a `make` stub on PATH
# records the build goal and fails, which ends the run before any test.
mkdir -p "$TMP/bin"
printf '#!/bin/sh\necho "$*" >>"%s/make.log"\nexit 1\n' "$TMP" >"$TMP/bin/make"
chmod +x "$TMP/bin/make"
run_sh() {
  local rc logs
  rm -f "$TMP/make.log"
  PATH="$TMP/bin:$PATH" bash "$TMP/tree/test/run.sh" "$@" >"$TMP/run.out" 2>&1
  rc=$?
  logs=$(sed -n 's/^logs: //p' "$TMP/run.out") # the failed build's log dir
  case "$logs" in /tmp/runm-test-logs.*) rm -rf "$logs" ;; esac
  return $rc
}
goal_of() { head -1 "$TMP/make.log" 2>/dev/null | awk '{print $NF}'; }
run_sh --unit-only
check "test/run.sh --unit-only builds the host binaries only (no kernel, no image)" '[ "$(goal_of)" = host ]' \
  "make $(head -1 "$TMP/make.log" 2>/dev/null)"
run_sh test_ttrpc
check "test/run.sh test_ttrpc (a unit test) builds the host binaries only" '[ "$(goal_of)" = host ]' \
  "make $(head -1 "$TMP/make.log" 2>/dev/null)"
run_sh test_ttrpc test_ctr
check "test/run.sh test_ttrpc test_ctr (an e2e test) builds everything" '[ "$(goal_of)" = all ]' \
  "make $(head -1 "$TMP/make.log" 2>/dev/null)"
run_sh test_no_such_test
rc=$?
check "test/run.sh with an unknown test name fails before building, naming it" \
  '[ $rc -eq 2 ] && [ ! -e "$TMP/make.log" ] && grep -q "no test named \`test_no_such_test\`" "$TMP/run.out"' \
  "exit $rc: $(cat "$TMP/run.out")"

echo "1..$n"
[ "$failed" -eq 0 ]

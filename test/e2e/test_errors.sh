#!/bin/bash
# Errors that read like runc-v2's (issue 16): the same failures under
# io.containerd.runc.v2 and io.containerd.runm.v1, through the real
# containerd 1.6 and ctr; ctr's exit code and error line must be the same
# words (container ids normalised), with no RPC path and no errno text the
# failure did not have. Cases (RUNM_E2E_CASES selects them by regex):
#   create    `ctr run` of a command that does not exist
#   cwd       `ctr run --cwd` of a regular file (runc's chdir fails)
#   exec      `ctr task exec` of a command that does not exist
#   bundle    (runm) create with a root that does not exist: NotFound
# Then: nothing left (tasks, containers, shims, QEMU, runm state, mounts).
#   bash test/e2e/test_errors.sh
#   RUNM_E2E_CASES='create|exec' bash test/e2e/test_errors.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init re runm-errors 120
PY=/usr/bin/python3

re_cleanup() {
  bash "$ENV" stop >/dev/null 2>&1
  cleanup
}
trap re_cleanup EXIT
trap 'exit 130' INT TERM HUP

rt() { case "$1" in runc) echo io.containerd.runc.v2 ;; *) echo io.containerd.runm.v1 ;; esac; }

# ctr's error line, ids and timestamps out: `ctr: ...` only.
errline() { # FILE ID
  grep -a '^ctr: ' "$1" | sed -e "s/$2/<ID>/g" | head -1
}

# same NAME: the runc and runm results of case NAME agree.
same() {
  local n=$1 a b
  a=$(cat "$TMP/$n-runc.line") b=$(cat "$TMP/$n-runm.line")
  echo "# runc: $a"
  echo "# runm: $b"
  if [ "$(cat "$TMP/$n-runc.rc")" != "$(cat "$TMP/$n-runm.rc")" ]; then
    not_ok "$n: same exit code" "runc $(cat "$TMP/$n-runc.rc"), runm $(cat "$TMP/$n-runm.rc")"
  else
    ok "$n: same exit code ($(cat "$TMP/$n-runm.rc"))"
  fi
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "$n: the same error words as runc-v2"; else
    not_ok "$n: the same error words as runc-v2" "runc: $a" "runm: $b"
  fi
  case "$b" in
  *runm.v1*|*INVALID_ARGUMENT*|*NOT_FOUND*) not_ok "$n: no RPC path or gRPC code name in runm's error" "$b" ;;
  *) ok "$n: no RPC path or gRPC code name in runm's error" ;;
  esac
}

case_create() {
  local l id
  for l in runc runm; do
    id=err-create-$l
    TCTR run --rm --runtime "$(rt $l)" "$IMAGE" "$id" no-such-command-xyz </dev/null \
      >"$TMP/create-$l.out" 2>"$TMP/create-$l.err"
    echo $? >"$TMP/create-$l.rc"
    errline "$TMP/create-$l.err" "$id" >"$TMP/create-$l.line"
    TCTR task delete "$id" >/dev/null 2>&1
    TCTR containers rm "$id" >/dev/null 2>&1
  done
  same create
  check "create: runm's error starts with runc-v2's \`OCI runtime create failed\`" \
    grep -q 'failed to create shim task: OCI runtime create failed: runc create failed: ' "$TMP/create-runm.line"
}

case_cwd() {
  local l id
  for l in runc runm; do
    id=err-cwd-$l
    TCTR run --rm --runtime "$(rt $l)" --cwd /etc/passwd "$IMAGE" "$id" true </dev/null \
      >"$TMP/cwd-$l.out" 2>"$TMP/cwd-$l.err"
    echo $? >"$TMP/cwd-$l.rc"
    errline "$TMP/cwd-$l.err" "$id" >"$TMP/cwd-$l.line"
    TCTR task delete "$id" >/dev/null 2>&1
    TCTR containers rm "$id" >/dev/null 2>&1
  done
  same cwd
}

case_exec() {
  local l id
  for l in runc runm; do
    id=err-exec-$l
    TCTR run -d --runtime "$(rt $l)" "$IMAGE" "$id" sleep 1000 </dev/null >/dev/null 2>&1
    if ! wait_until 120 status_is "$id" RUNNING; then
      not_ok "exec: $l task runs"
      continue
    fi
    TCTR task exec --exec-id x "$id" no-such-command-xyz </dev/null >"$TMP/exec-$l.out" 2>"$TMP/exec-$l.err"
    echo $? >"$TMP/exec-$l.rc"
    errline "$TMP/exec-$l.err" "$id" >"$TMP/exec-$l.line"
    TCTR task kill -s KILL "$id" >/dev/null 2>&1
    wait_until 60 status_is "$id" STOPPED
    TCTR task delete "$id" >/dev/null 2>&1
    TCTR containers rm "$id" >/dev/null 2>&1
  done
  same exec
}

# runm only: runc-v2 fails a missing root.path in its shim before runc runs
# (other words); runm's guest runc reports the chdir, which must read as a
# missing file (NotFound) and not end in another errno's text.
case_bundle() {
  local id=err-bundle line
  READONLY=1 bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" true >/dev/null 2>&1
  $PY - "$TMP/bb/config.json" "$TMP/spec.json" "$TMP/nowhere" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"] = {"path": sys.argv[3], "readonly": True}
json.dump(c, open(sys.argv[2], "w"))
PY
  TCTR run --rm --runtime io.containerd.runm.v1 --config "$TMP/spec.json" "$id" </dev/null \
    >"$TMP/bundle.out" 2>"$TMP/bundle.err"
  line=$(errline "$TMP/bundle.err" "$id")
  echo "# runm: $line"
  # The guest's runc says it in lower case, the host's strerror capitalised.
  case "${line,,}" in
  *"no such file or directory: not found") ok "bundle: a missing root reads as NotFound (\`...: not found\`)" ;;
  *) not_ok "bundle: a missing root reads as NotFound (\`...: not found\`)" "$line" ;;
  esac
  case "$line" in
  *[Ii]nvalid\ argument*|*runm.v1*) not_ok "bundle: no other errno's text, no RPC path" "$line" ;;
  *) ok "bundle: no other errno's text, no RPC path" ;;
  esac
  TCTR task delete "$id" >/dev/null 2>&1
  TCTR containers rm "$id" >/dev/null 2>&1
}

hygiene() {
  local x p
  x=$(CTR task ls -q; CTR containers ls -q)
  if [ -z "$x" ]; then ok "no task or container left"; else not_ok "no task or container left" $x; fi
  x=""
  for p in $(pgrep -f qemu-system) $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null &&
      tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -1 | grep -qE 'qemu-system|containerd-shim' && x+=" $p"
  done
  if [ -z "$x" ]; then ok "no QEMU or shim process left"; else not_ok "no QEMU or shim process left" "pids:$x"; fi
  x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
  if [ -z "$x" ]; then ok "runm state dir empty"; else not_ok "runm state dir empty" $x; fi
}

e2e_start
[[ create =~ $CASES ]] && case_create
[[ cwd =~ $CASES ]] && case_cwd
[[ exec =~ $CASES ]] && case_exec
[[ bundle =~ $CASES ]] && case_bundle
hygiene
finish

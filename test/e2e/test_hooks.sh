#!/bin/bash
# OCI hooks end to end, through the real containerd 1.6 and ctr: runc-v2 is
# the reference, runm must give the same results (docs/hooks.md).
#
# ctr 1.6.20 has no hook flags, but `ctr run --config SPEC ID` takes a whole
# OCI spec (root.path absolute, no image, no snapshot): every case writes
# one. Cases (RUNM_E2E_CASES selects them by regex):
#   all      every hook kind records what it got on the host: the state JSON
#            (id, bundle = the host bundle, status per kind, annotations),
#            env, cwd, hostname; runm's must equal runc-v2's but for pid
#            and, on the host, nerdctl/network-namespace (the spec's hooks
#            put runm in its namespace mode: docs/networking.md)
#   fail     a failing createRuntime hook fails the create with its output
#   timeout  (runm) a hanging hook is killed, with what it started, at its
#            timeout; the error says so
#   crash    (runm) a hook still running when its shim is SIGKILLed is
#            killed, with what it started, by `shim delete`
#   refuse   (runm) a "guest" (a gRPC client on the shim's host socket)
#            asking for a hook the spec does not list, or with other args,
#            path, index, kind or state, is refused and nothing runs; a
#            refusal does not use a hook up
# Then: nothing left (tasks, containers, shims, QEMU, runm state, mounts,
# hook processes).
#   bash test/e2e/test_hooks.sh
#   RUNM_E2E_RUNTIMES=runm RUNM_E2E_CASES='all|refuse' bash test/e2e/test_hooks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_init rh ${RUNM_CTRD_NS:-runm-hooks} 120
PY=/usr/bin/python3
read -r -a RUNTIMES <<<"${RUNM_E2E_RUNTIMES:-runc runm}"
# The hanging hook's processes carry this in their argv: found by it, and
# by nothing else on the machine.
HANG=$((900000000 + $$))
HOST=$(hostname)

hooks_cleanup() {
  local p
  exec 8<&- 2>/dev/null
  bash "$ENV" stop >/dev/null 2>&1
  for p in $(hang_pids); do kill -KILL "$p" 2>/dev/null; done
  cleanup
}
trap hooks_cleanup EXIT
trap 'exit 130' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
runtime_of() { case "$1" in runc) echo io.containerd.runc.v2 ;; *) echo io.containerd.runm.v1 ;; esac; }
bundle_of() { echo "$RUNM_CTRD_DIR/state/io.containerd.runtime.v2.task/$NS/$1"; }
# The state dir of task $1's VM (its name is the shim's to choose).
vm_dir_of() { echo "$RUNM_STATE_DIR/vm/$("$RUNM_BIN/containerd-shim-runm-v1" -namespace "$NS" -id "$1" vm-id)"; }
# (A bracket in the pattern keeps grep from finding itself.)
hang_pids() { grep -lsa -- "${HANG:0:1}[${HANG:1:1}]${HANG:2}" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'; }
# A state's annotations without runm's nerdctl/network-namespace, and that one.
ann_of() {
  $PY -c 'import json,sys
a = json.load(open(sys.argv[1])).get("annotations", {})
a.pop("nerdctl/network-namespace", None)
print(json.dumps(a, sort_keys=True))' "$1" 2>/dev/null
}
netns_of() {
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("annotations", {}).get("nerdctl/network-namespace", ""))' "$1" 2>/dev/null
}
jget() { # FILE KEY: a top-level member of a JSON file ("" when absent)
  $PY -c 'import json,sys
v = json.load(open(sys.argv[1])).get(sys.argv[2], "")
print(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)' "$1" "$2" 2>/dev/null
}
# One result line per failed expectation, nothing when all hold.
expect() { # NAME CMD...
  local n=$1; shift
  "$@" || echo "$n"
}

# ---- the spec ----------------------------------------------------------------

# spec.py OUT KIND... writes an OCI spec (from `runc spec`, via
# mkbundle.sh) running `sh -c 'echo hello from the container'` on the shared
# busybox rootfs, with the hooks the case asks for. Hooks get only their
# spec env: HOOK_OUT (where they write) and PATH.
cat >"$TMP/spec.py" <<'PY'
import json, os, sys
base, out, case, outdir, tmp, hang = sys.argv[1:7]
c = json.load(open(base))
c["root"] = {"path": os.path.join(os.path.dirname(base), "rootfs"), "readonly": True}
c["hostname"] = "hooks-ctr"
c["process"]["args"] = ["sh", "-c", "echo hello from the container"]
c["annotations"] = {"test.runm/case": case}
env = ["HOOK_OUT=" + outdir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
rec = lambda kind, **kw: dict({"path": tmp + "/hook.sh", "args": ["hook.sh", kind], "env": env}, **kw)
if case == "all":
    h = {k: [rec(k)] for k in ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]}
    # A hook without args runs as argv = [path].
    h["createRuntime"].append({"path": tmp + "/noargs.sh", "env": env})
    # startContainer's path resolves in the container: busybox's sh, which
    # writes through a bind mount of the host dir at the same path.
    h["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c",
        "cat >%s/startContainer.json; hostname >%s/startContainer.host" % (outdir, outdir)]}]
    c["mounts"].append({"destination": outdir, "type": "bind", "source": outdir,
                        "options": ["rbind", "rw"]})
elif case == "fail":
    h = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c",
            "echo partial output; echo 'createRuntime says no' >&2; exit 3"]}],
         "poststop": [rec("poststop")]}
elif case == "timeout":
    h = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c",
            "sleep %s & sleep %s" % (hang, hang)], "timeout": 2}]}
elif case == "crash":
    h = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c",
            "sleep %s & sleep %s" % (hang, hang)]}]}
elif case == "refuse":
    c["process"]["args"] = ["sleep", "1000"]
    h = {"prestart": [rec("prestart")],
         # Blocks until the test opens the gate: the shim stays in Create.
         "createRuntime": [rec("createRuntime", args=["hook.sh", "createRuntime", "gate"])],
         "poststart": [rec("poststart")], "poststop": [rec("poststop")],
         "startContainer": [{"path": "/bin/true"}]}
c["hooks"] = h
json.dump(c, open(out, "w"), indent=1)
PY

setup() {
  if ! $PY -c 'import grpc, grpc_tools' 2>"$TMP/py.err"; then
    not_ok "python3-grpcio and python3-grpc-tools are installed" "$(cat "$TMP/py.err")"
    finish
  fi
  if ! bash "$ROOT/test/fixtures/mkbundle.sh" "$TMP/bb" >/dev/null 2>"$TMP/mkbundle.err"; then
    not_ok "busybox rootfs and base spec" "$(cat "$TMP/mkbundle.err")"
    finish
  fi
  # The hook every case uses: records its stdin, env, cwd and hostname.
  cat >"$TMP/hook.sh" <<'SH'
#!/bin/sh
kind=$1
cat >"$HOOK_OUT/$kind.json"
env | sort >"$HOOK_OUT/$kind.env"
pwd >"$HOOK_OUT/$kind.cwd"
hostname >"$HOOK_OUT/$kind.host"
echo "stdout of $kind"
echo "stderr of $kind" >&2
if [ "${2:-}" = gate ]; then read -r _ <"$HOOK_OUT/../gate"; fi
SH
  cat >"$TMP/noargs.sh" <<'SH'
#!/bin/sh
echo "$0 $#" >"$HOOK_OUT/noargs"
SH
  chmod 0755 "$TMP/hook.sh" "$TMP/noargs.sh"
  local t0
  t0=$(now_ms)
  if bash "$ENV" start; then ok "private containerd starts ($(($(now_ms) - t0)) ms)"; else
    not_ok "private containerd starts"
    finish
  fi
}

# mkspec CASE LABEL: $D (the case's dir), $OUT (where hooks write), $SPEC.
mkspec() {
  D=$TMP/$1-$2
  OUT=$D/out
  SPEC=$D/spec.json
  mkdir -p "$OUT"
  $PY "$TMP/spec.py" "$TMP/bb/config.json" "$SPEC" "$1" "$OUT" "$TMP" "$HANG"
}

# ---- case: all -------------------------------------------------------------

declare -A WANT_STATUS=([prestart]=creating [createRuntime]=creating [createContainer]=creating
  [startContainer]=created [poststart]=created [poststop]=stopped)
HOST_KINDS="prestart createRuntime createContainer poststart poststop"
ALL_KINDS="$HOST_KINDS startContainer"

check_all() { # LABEL: the expectations on one runtime's results
  local l=$1 k f id=hooks-all cwd
  expect "ctr run exits 0 (got $(cat "$D/rc"))" [ "$(cat "$D/rc")" = 0 ]
  expect "the container ran (stdout: $(head -c 200 "$D/stdout"))" \
    [ "$(cat "$D/stdout")" = "hello from the container" ]
  for k in $ALL_KINDS; do
    f=$OUT/$k.json
    if [ ! -s "$f" ]; then echo "$k: no state recorded"; continue; fi
    expect "$k: id is $(jget "$f" id)" [ "$(jget "$f" id)" = "$id" ]
    expect "$k: bundle is $(jget "$f" bundle), not the host bundle" [ "$(jget "$f" bundle)" = "$(bundle_of $id)" ]
    expect "$k: status is $(jget "$f" status), wanted ${WANT_STATUS[$k]}" [ "$(jget "$f" status)" = "${WANT_STATUS[$k]}" ]
    expect "$k: annotations $(ann_of "$f")" [ "$(ann_of "$f")" = '{"test.runm/case": "all"}' ]
    # runm's namespace mode (the spec has network hooks): host hooks also
    # get the task's network namespace, as nerdctl >= 2.0 reads it.
    if [ "$l" = runm ] && [ "$k" != startContainer ]; then
      expect "$k: nerdctl/network-namespace is $(netns_of "$f"), not the task's" \
        [ "$(netns_of "$f")" = "$RUNM_STATE_DIR/net/$(basename "$(vm_dir_of $id)")/netns" ]
    else
      expect "$k: nerdctl/network-namespace is $(netns_of "$f")" [ -z "$(netns_of "$f")" ]
    fi
  done
  for k in $HOST_KINDS; do
    [ -s "$OUT/$k.json" ] || continue
    expect "$k: ran on $(cat "$OUT/$k.host"), not on the host ($HOST)" [ "$(cat "$OUT/$k.host")" = "$HOST" ]
    # runc runs createContainer hooks in the rootfs, the others in the bundle.
    if [ "$k" = createContainer ]; then cwd=$TMP/bb/rootfs; else cwd=$(bundle_of $id); fi
    expect "$k: cwd $(cat "$OUT/$k.cwd"), not $cwd" [ "$(cat "$OUT/$k.cwd")" = "$cwd" ]
    expect "$k: env is not the spec's: $(grep -v '^PWD=' "$OUT/$k.env" | tr '\n' ' ')" \
      [ "$(grep -v '^PWD=' "$OUT/$k.env")" = "$(printf 'HOOK_OUT=%s\nPATH=/usr/sbin:/usr/bin:/sbin:/bin' "$OUT")" ]
  done
  expect "startContainer ran on $(cat "$OUT/startContainer.host" 2>/dev/null), not in the container" \
    [ "$(cat "$OUT/startContainer.host" 2>/dev/null)" = hooks-ctr ]
  expect "a hook without args got argv $(cat "$OUT/noargs" 2>/dev/null)" \
    [ "$(cat "$OUT/noargs" 2>/dev/null)" = "$TMP/noargs.sh 0" ]
}

# The state each hook saw, pid aside: what runm must match.
states() {
  local k
  for k in $ALL_KINDS; do
    echo "$k: $($PY -c 'import json,sys; s = json.load(open(sys.argv[1])); s.pop("pid", None); s.get("annotations", {}).pop("nerdctl/network-namespace", None); print(json.dumps(s, sort_keys=True))' "$1/$k.json" 2>&1)"
  done
}

case_all() {
  local l ref="" msgs
  for l in "${RUNTIMES[@]}"; do
    mkspec all "$l"
    TCTR run --rm --runtime "$(runtime_of "$l")" --config "$SPEC" hooks-all </dev/null \
      >"$D/stdout" 2>"$D/stderr"
    echo $? >"$D/rc"
    msgs=$(check_all "$l")
    if [ -z "$msgs" ]; then ok "all: every hook kind ran as the spec says, with the right state ($l)"; else
      mapfile -t lines <<<"$msgs"
      not_ok "all: every hook kind ran as the spec says, with the right state ($l)" "${lines[@]}" \
        "stderr: $(head -c 300 "$D/stderr")"
    fi
    states "$OUT" >"$D/states"
    if [ -z "$ref" ]; then ref=$D; continue; fi
    if cmp -s "$ref/states" "$D/states"; then ok "all: $l's hooks saw the same states as $(basename "$ref" | cut -d- -f2)'s"; else
      mapfile -t lines < <(diff "$ref/states" "$D/states" | grep '^[<>]' | head -6)
      not_ok "all: $l's hooks saw the same states as the reference's" "${lines[@]}"
    fi
  done
}

# ---- case: fail ------------------------------------------------------------

case_fail() {
  local l msgs
  for l in "${RUNTIMES[@]}"; do
    mkspec fail "$l"
    TCTR run --rm --runtime "$(runtime_of "$l")" --config "$SPEC" hooks-fail </dev/null \
      >"$D/stdout" 2>"$D/stderr"
    echo $? >"$D/rc"
    msgs=$(
      expect "ctr run should fail (exit $(cat "$D/rc"))" [ "$(cat "$D/rc")" = 1 ]
      expect "the error lacks the hook's stderr" grep -qF 'createRuntime says no' "$D/stderr"
      expect "the error lacks the hook's stdout" grep -qF 'partial output' "$D/stderr"
      expect "the error lacks the exit status" grep -qF 'exit status 3' "$D/stderr"
      expect "poststop did not run after the failed create (as runc does)" [ -s "$OUT/poststop.json" ]
      expect "the container stayed: $(CTR containers ls -q)" [ -z "$(CTR containers ls -q)" ]
    )
    if [ -z "$msgs" ]; then ok "fail: a failing createRuntime hook fails the create with its message ($l)"; else
      mapfile -t lines <<<"$msgs"
      not_ok "fail: a failing createRuntime hook fails the create with its message ($l)" "${lines[@]}" \
        "stderr: $(head -c 400 "$D/stderr")"
    fi
    echo "# fail ($l): $(tr '\n' ' ' <"$D/stderr" | head -c 300)"
  done
}

# ---- case: timeout (runm) --------------------------------------------------

case_timeout() {
  local t0 ms msgs
  mkspec timeout runm
  t0=$(now_ms)
  TCTR run --rm --runtime io.containerd.runm.v1 --config "$SPEC" hooks-timeout </dev/null \
    >"$D/stdout" 2>"$D/stderr"
  echo $? >"$D/rc"
  ms=$(($(now_ms) - t0))
  msgs=$(
    expect "ctr run should fail (exit $(cat "$D/rc"))" [ "$(cat "$D/rc")" = 1 ]
    expect "the error does not say it timed out" grep -qF 'ran past its timeout' "$D/stderr"
    expect "the error lacks the exit status (137)" grep -qF 'exit status 137' "$D/stderr"
    expect "took ${ms} ms: the 2 s timeout was not enforced" [ "$ms" -lt 40000 ]
    expect "hook processes left: $(hang_pids | tr '\n' ' ')" [ -z "$(hang_pids)" ]
    expect "the shim did not log the kill" grep -qF 'ran past its timeout of 2 s' "$RUNM_CTRD_DIR/containerd.log"
  )
  if [ -z "$msgs" ]; then ok "timeout: a hanging hook and its child are killed at its timeout (runm, ${ms} ms in all)"; else
    mapfile -t lines <<<"$msgs"
    not_ok "timeout: a hanging hook and its child are killed at its timeout (runm)" "${lines[@]}" \
      "stderr: $(head -c 400 "$D/stderr")"
  fi
  echo "# timeout: $(tr '\n' ' ' <"$D/stderr" | head -c 300)"
}

# ---- case: crash (runm) ----------------------------------------------------

hang_running() { [ -n "$(hang_pids)" ]; }
hang_gone() { [ -z "$(hang_pids)" ]; }

case_crash() {
  local id=hooks-crash p sp rc t0
  mkspec crash runm
  TCTR run --rm --runtime io.containerd.runm.v1 --config "$SPEC" "$id" </dev/null >"$D/stdout" 2>"$D/stderr" &
  p=$!
  if ! wait_until 60 hang_running; then
    not_ok "crash: the hanging hook started" "stderr: $(head -c 300 "$D/stderr")"
    kill "$p" 2>/dev/null
    return
  fi
  sp=$(shim_of "$id")
  if [ -z "$sp" ]; then
    not_ok "crash: found the shim of $id"
    kill "$p" 2>/dev/null
    return
  fi
  t0=$(now_ms)
  kill -KILL "$sp"
  if wait_until 20 hang_gone; then ok "crash: shim SIGKILLed mid-hook: shim delete killed the hook and its child ($(($(now_ms) - t0)) ms)"; else
    not_ok "crash: shim SIGKILLed mid-hook: shim delete killed the hook and its child" "left: $(hang_pids | tr '\n' ' ')"
  fi
  wait "$p"
  rc=$?
  if [ "$rc" -ne 0 ]; then ok "crash: ctr run ends with an error (exit $rc)"; else not_ok "crash: ctr run ends with an error" "exit 0"; fi
  TCTR containers rm "$id" >/dev/null 2>&1
}

# ---- case: refuse (runm) ---------------------------------------------------

# The "guest": Python's grpcio with stubs generated from host.proto, on the
# shim's per-VM host socket. Prints `ok - ...` / `not ok - ...`.
cat >"$TMP/evil.py" <<'PY'
import importlib, json, os, subprocess, sys
import grpc
root, stubs, sock, phase, cid, tmp, outdir = sys.argv[1:8]
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(root, "proto"),
                "--python_out=" + stubs, "--grpc_python_out=" + stubs,
                os.path.join(root, "proto", "runm", "v1", "host.proto")], check=True)
sys.path.insert(0, stubs)
pb = importlib.import_module("runm.v1.host_pb2")
pb_grpc = importlib.import_module("runm.v1.host_pb2_grpc")
stub = pb_grpc.HostStub(grpc.insecure_channel("unix:" + sock))
hook = tmp + "/hook.sh"
state = json.dumps({"ociVersion": "1.0.2", "id": cid, "status": "creating", "pid": 1}).encode()

def ask(name, want_code, want_text, **kw):
    kw.setdefault("state", state)
    try:
        r = stub.RunHook(pb.RunHookRequest(**kw), timeout=30)
        print("not ok - %s: it ran (exit %d)" % (name, r.exit_code))
    except grpc.RpcError as e:
        if e.code() == want_code and want_text in e.details():
            print("ok - %s: %s" % (name, e.code().name))
        else:
            print("not ok - %s: %s %s" % (name, e.code().name, e.details()))

P = grpc.StatusCode.PERMISSION_DENIED
pwn = ["sh", "-c", "touch %s/pwned" % tmp]
if phase == "create":
    ask("an unlisted command in a listed hook's place", P, "path differs",
        kind="prestart", index=0, path="/bin/sh", args=pwn)
    ask("the listed hook with other args", P, "args differ",
        kind="prestart", index=0, path=hook, args=["hook.sh", "prestart", "--and-more"])
    ask("the listed hook with its args cut short", P, "args differ",
        kind="prestart", index=0, path=hook, args=["hook.sh"])
    ask("a hook index past the spec's list", P, "there is no #7",
        kind="prestart", index=7, path="/bin/sh", args=pwn)
    ask("a kind the spec lists none of", P, "lists 0 createContainer",
        kind="createContainer", index=0, path="/bin/sh", args=pwn)
    ask("an unknown kind", grpc.StatusCode.INVALID_ARGUMENT, "no such hook kind",
        kind="sh -c", index=0, path="/bin/sh", args=pwn)
    ask("a startContainer hook (never runs on the host)", P, "never on the host",
        kind="startContainer", index=0, path="/bin/true", args=["/bin/true"])
    ask("the hook that is running now, again", P, "has run already",
        kind="createRuntime", index=0, path=hook, args=["hook.sh", "createRuntime", "gate"])
    ask("a listed hook with another container's state", P, "names container `not-" + cid,
        kind="poststart", index=0, path=hook, args=["hook.sh", "poststart"],
        state=json.dumps({"id": "not-" + cid, "status": "created"}).encode())
    ask("a listed hook with a state that is not JSON", grpc.StatusCode.INVALID_ARGUMENT, "not a JSON object",
        kind="poststart", index=0, path=hook, args=["hook.sh", "poststart"], state=b"\x00rm -rf /")
    ask("a 2 MiB state", grpc.StatusCode.INVALID_ARGUMENT, "the limit is",
        kind="poststart", index=0, path=hook, args=["hook.sh", "poststart"], state=b" " * (2 << 20))
    ask("poststop with an extra arg", P, "args differ",
        kind="poststop", index=0, path=hook, args=["hook.sh", "poststop", "x"])
else:
    ask("poststop between lifecycle calls", P, "do not run during no lifecycle call",
        kind="poststop", index=0, path=hook, args=["hook.sh", "poststop"],
        state=json.dumps({"id": cid, "status": "stopped"}).encode())
print("ok - pwned marker absent" if not os.path.exists(tmp + "/pwned") else "not ok - an unlisted command ran")
PY

# Runs evil.py, folding its lines into this test's TAP stream.
evil() { # PHASE ID
  local line
  while IFS= read -r line; do
    case "$line" in
    "ok - "*) ok "refuse ($1): ${line#ok - }" ;;
    "not ok - "*) not_ok "refuse ($1): ${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
  done < <(timeout 120 $PY "$TMP/evil.py" "$ROOT" "$TMP/stubs" "$(vm_dir_of "$2")/host.sock" \
    "$1" "$2" "$TMP" "$OUT" 2>&1)
}

case_refuse() {
  local id=hooks-refuse p n0 n1
  mkspec refuse runm
  mkdir -p "$TMP/stubs"
  mkfifo "$D/gate"
  n0=$(grep -c 'refused' "$RUNM_CTRD_DIR/containerd.log")
  TCTR run -d --runtime io.containerd.runm.v1 --config "$SPEC" "$id" </dev/null >"$D/stdout" 2>"$D/stderr" &
  p=$!
  # createRuntime has started (and blocks on the gate): the shim is in Create.
  if ! wait_until 60 test -s "$OUT/createRuntime.json"; then
    not_ok "refuse: the gated createRuntime hook started" "stderr: $(head -c 300 "$D/stderr")"
    kill "$p" 2>/dev/null
    exec 8<>"$D/gate"
    return
  fi
  evil create "$id"
  exec 8>"$D/gate" && echo open >&8 && exec 8>&-
  wait "$p"
  check "refuse: the create went on once the gate opened" wait_until 30 status_is "$id" RUNNING
  check "refuse: the prestart hook still ran (refusals do not use hooks up)" test -s "$OUT/prestart.json"
  check "refuse: the poststart hook still ran" test -s "$OUT/poststart.json"
  evil idle "$id"
  # The guest side (init's host link, the proxy) complained of nothing.
  if [ ! -s "$(vm_dir_of "$id")/console.log" ]; then
    not_ok "refuse: init logged no error or warning on the console" "no console log at $(vm_dir_of "$id")"
  elif grep -E 'runm-linux-init\[(error|warn)' "$(vm_dir_of "$id")/console.log" >"$D/console.err"; then
    not_ok "refuse: init logged no error or warning on the console" "$(head -5 "$D/console.err")"
  else
    ok "refuse: init logged no error or warning on the console"
  fi
  TCTR task kill -s KILL "$id" >/dev/null 2>&1
  wait_until 30 status_is "$id" STOPPED
  TCTR task delete "$id" >"$D/delete.out" 2>&1
  check "refuse: poststop ran at delete after the refused early request" test -s "$OUT/poststop.json"
  TCTR containers rm "$id" >/dev/null 2>&1
  n1=$(grep -c 'refused' "$RUNM_CTRD_DIR/containerd.log")
  if [ $((n1 - n0)) -ge 12 ]; then ok "refuse: the shim logged every refusal ($((n1 - n0)))"; else
    not_ok "refuse: the shim logged every refusal" "$((n1 - n0)) refusals logged"
  fi
  grep -F 'refused' "$RUNM_CTRD_DIR/containerd.log" | tail -2 | sed 's/^/# /'
}

# ---- leak checks -----------------------------------------------------------

our_qemus() {
  local p
  for p in $(pgrep -f qemu-system); do
    grep -qaF -e "$RUNM_STATE_DIR/" -e "$RUNM_CTRD_DIR/" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done
}
our_shims() {
  local p
  for p in $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | awk -F/ '{ print $3 }'); do
    { tr '\0' '\n' <"/proc/$p/cmdline" | head -1 | grep -q 'containerd-shim-' && echo "$p"; } 2>/dev/null
  done
}

hygiene() {
  local x
  x=$(CTR task ls -q; CTR containers ls -q)
  if [ -z "$x" ]; then ok "no task or container left"; else not_ok "no task or container left" $x; fi
  x=$(our_qemus; our_shims)
  if [ -z "$x" ]; then ok "no QEMU or shim process left"; else not_ok "no QEMU or shim process left" "pids: $x"; fi
  x=$(hang_pids)
  if [ -z "$x" ]; then ok "no hook process left"; else not_ok "no hook process left" "pids: $x"; fi
  x=$(find "$RUNM_STATE_DIR" -mindepth 1 -not \( -type d \( -path "$RUNM_STATE_DIR/vm" -o -path "$RUNM_STATE_DIR/s" \) \) 2>/dev/null)
  if [ -z "$x" ]; then ok "runm state dir empty (no host socket, no VM dir)"; else not_ok "runm state dir empty" $x; fi
  x=$(awk -v a="$RUNM_CTRD_DIR/" -v b="$RUNM_STATE_DIR/" -v c="$TMP/" \
    'index($2, a) == 1 || index($2, b) == 1 || index($2, c) == 1 { print $2 }' /proc/mounts)
  if [ -z "$x" ]; then ok "no mount left"; else not_ok "no mount left" $x; fi
}

# ---- main ------------------------------------------------------------------

setup
[[ all =~ $CASES ]] && case_all
[[ fail =~ $CASES ]] && case_fail
if printf '%s\n' "${RUNTIMES[@]}" | grep -qx runm; then
  [[ timeout =~ $CASES ]] && case_timeout
  [[ crash =~ $CASES ]] && case_crash
  [[ refuse =~ $CASES ]] && case_refuse
fi
hygiene
e2e_stop_check
finish

"""One CRI pod through containerd's CRI plugin (test_cri.sh): prints one line
per check, "ok NAME" or "not ok NAME :: DETAIL", for test_cri.sh to number.

  cri_pod.py GEN_DIR SOCK HANDLER WORKDIR RUNM_STATE_DIR CTRD_DIR CASES
GEN_DIR holds api_pb2*.py (generated from test/cri/api.proto at test time).
CASES: "main" (two containers: localhost, volume, ExecSync, logs, status,
stats, stop one, remove), "crash" (runm: kill -9 of the pod's QEMU),
"fit" (runm: an app container bigger than the pod's VM is refused).
"""
import os
import re
import signal
import sys
import time

gen, sock, handler, work, state_dir, ctrd_dir, cases = sys.argv[1:8]
sys.path.insert(0, gen)
import grpc  # noqa: E402
import api_pb2 as pb  # noqa: E402
import api_pb2_grpc as pbg  # noqa: E402

T = 150  # seconds for one CRI call: a VM boots under TCG
BUSYBOX = "docker.io/library/busybox:runm"
PORT = 20000 + os.getpid() % 20000
RUNM = handler == "runm"


def say(ok, name, detail=""):
    if ok:
        print("ok %s" % name, flush=True)
    else:
        print("not ok %s :: %s" % (name, str(detail).replace("\n", " | ")[:600]), flush=True)
    return ok


def argv_of(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def procs(prog, needle):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        a = argv_of(p)
        if a and os.path.basename(a[0].decode(errors="replace")).startswith(prog) and any(needle.encode() in x for x in a):
            out.append(int(p))
    return out


def qemus():
    return procs("qemu-system", state_dir + "/")


def shims():
    return procs("containerd-shim-run" + ("m" if RUNM else "c"), sock)


def mounts_with(s):
    with open("/proc/mounts") as f:
        return [l.split()[1] for l in f if s in l.split()[1]]


def wait_for(fn, limit=60, step=0.2):
    end = time.time() + limit
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(step)


ch = grpc.insecure_channel("unix://" + sock)
rt = pbg.RuntimeServiceStub(ch)


def pod_config(name):
    c = pb.PodSandboxConfig()
    c.metadata.name = name
    c.metadata.uid = "uid-%s-%d" % (name, os.getpid())
    c.metadata.namespace = "runm-test"
    c.hostname = ""  # host network: the UTS namespace is the host's (VM's), runc refuses a hostname
    c.log_directory = os.path.join(work, "logs-" + name)
    os.makedirs(c.log_directory, exist_ok=True)
    c.linux.security_context.namespace_options.network = pb.NODE
    c.linux.security_context.namespace_options.pid = pb.CONTAINER
    c.linux.security_context.namespace_options.ipc = pb.POD
    return c


def container(pod_id, pc, name, script, mem=0):
    c = pb.ContainerConfig()
    c.metadata.name = name
    c.image.image = BUSYBOX
    c.command.extend(["sh", "-c", script])
    c.log_path = name + ".log"
    m = c.mounts.add()
    m.container_path = "/shared"
    m.host_path = os.path.join(work, "shared")
    if mem:
        c.linux.resources.memory_limit_in_bytes = mem
    c.linux.security_context.namespace_options.network = pb.NODE
    c.linux.security_context.namespace_options.pid = pb.CONTAINER
    c.linux.security_context.namespace_options.ipc = pb.POD
    r = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=c, sandbox_config=pc), timeout=T)
    return r.container_id


def state_of(cid):
    return rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=T).status.state


def pod_state(pid):
    return rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pid), timeout=T).status.state


def run_pod(name):
    pc = pod_config(name)
    pid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pc, runtime_handler=handler), timeout=T).pod_sandbox_id
    return pid, pc


def remove_pod(pid, what):
    t0 = time.time()
    try:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=T)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=T)
        say(True, "%s: StopPodSandbox and RemovePodSandbox" % what)
    except grpc.RpcError as e:
        say(False, "%s: StopPodSandbox and RemovePodSandbox" % what, e.details())
    left = wait_for(lambda: not (qemus() or shims()), 20)
    say(left, "%s: no QEMU and no shim left" % what, "qemu %s shim %s" % (qemus(), shims()))
    m = mounts_with(pid) + mounts_with(state_dir + "/")
    say(not m, "%s: no mount of the pod's left" % what, m)
    if RUNM:
        st = [x for d in ("vm", "exports", "s") if os.path.isdir(os.path.join(state_dir, d))
              for x in os.listdir(os.path.join(state_dir, d))]
        say(not st, "%s: runm state dir empty (no VM dir, export dir or socket)" % what, st)
    return time.time() - t0


def case_main():
    os.makedirs(os.path.join(work, "shared"), exist_ok=True)
    t0 = time.time()
    pid, pc = run_pod("main")
    a = container(pid, pc, "a", "echo started A; echo from-a >/shared/a.txt; mkdir -p /www; echo hello-from-A >/www/x; "
                  "exec httpd -f -p 127.0.0.1:%d -h /www" % PORT)
    rt.StartContainer(pb.StartContainerRequest(container_id=a), timeout=T)
    b = container(pid, pc, "b", "echo started B; echo B to stderr >&2; exec sleep 100000")
    rt.StartContainer(pb.StartContainerRequest(container_id=b), timeout=T)
    print("# pod with two containers running in %.1f s (%s)" % (time.time() - t0, handler), flush=True)
    if RUNM:
        q = qemus()
        say(len(q) == 1, "one QEMU for the pod's three containers", q)
    s = shims()
    say(len(s) == 1, "one shim for the pod", s)
    # B reaches A on localhost, and reads what A wrote to the shared volume.
    cmd = ["sh", "-c", "wget -q -O - http://127.0.0.1:%d/x && cat /shared/a.txt && echo to-stderr >&2; exit 3" % PORT]
    r = None
    end = time.time() + 60
    while time.time() < end:
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=b, cmd=cmd, timeout=30), timeout=T)
        if b"hello-from-A" in r.stdout:
            break
        time.sleep(0.5)
    say(r is not None and b"hello-from-A" in r.stdout, "B connects to A on localhost", r)
    say(r is not None and b"from-a" in r.stdout, "B reads the shared host dir A wrote", r)
    say(r is not None and r.exit_code == 3 and r.stderr.strip() == b"to-stderr", "ExecSync: exit code and stderr", r)
    with open(os.path.join(work, "shared", "a.txt")) as f:
        say(f.read() == "from-a\n", "the host sees A's write in the volume")
    # CRI's log format: "<RFC 3339 time> <stream> <F|P> <line>".
    la = os.path.join(pc.log_directory, "a.log")
    lb = os.path.join(pc.log_directory, "b.log")
    wait_for(lambda: os.path.exists(lb) and b"B to stderr" in open(lb, "rb").read(), 20)
    fmt = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) [FP] ")
    la_l = open(la).read().splitlines() if os.path.exists(la) else []
    lb_l = open(lb).read().splitlines() if os.path.exists(lb) else []
    say(any(fmt.match(l) and l.endswith(" stdout F started A") for l in la_l), "A's log at the CRI path, CRI format", la_l)
    say(any(fmt.match(l) and l.endswith(" stderr F B to stderr") for l in lb_l), "B's stderr in its log, CRI format", lb_l)
    st = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=a), timeout=T).status
    say(st.state == pb.CONTAINER_RUNNING and st.id == a and st.image.image.startswith("docker.io/library/busybox")
        and st.log_path == la and st.started_at > 0, "ContainerStatus of A", st)
    stats = wait_for(lambda: (lambda s: s if s.memory.working_set_bytes.value > 0 and s.cpu.usage_core_nano_seconds.value > 0
                                         else None)(rt.ContainerStats(pb.ContainerStatsRequest(container_id=a), timeout=T).stats), 20, 1)
    say(stats is not None and stats.attributes.id == a, "ContainerStats of A: its id, CPU time and memory", stats)
    rt.StopContainer(pb.StopContainerRequest(container_id=a, timeout=2), timeout=T)
    say(state_of(a) == pb.CONTAINER_EXITED, "StopContainer: A exited")
    r = rt.ExecSync(pb.ExecSyncRequest(container_id=b, cmd=["echo", "still-here"], timeout=30), timeout=T)
    say(state_of(b) == pb.CONTAINER_RUNNING and r.stdout == b"still-here\n", "B runs on after A stopped", r)
    say(pod_state(pid) == pb.SANDBOX_READY, "the sandbox is still ready")
    if RUNM:
        say(len(qemus()) == 1, "the pod's QEMU runs on", qemus())
    rt.RemoveContainer(pb.RemoveContainerRequest(container_id=a), timeout=T)
    print("# pod torn down in %.1f s (%s)" % (remove_pod(pid, "main pod"), handler), flush=True)


def case_fit():
    pid, pc = run_pod("fit")
    try:
        # The shim sees it at StartContainer (CreateContainer is containerd's alone).
        big = container(pid, pc, "big", "sleep 1", mem=64 << 30)
        rt.StartContainer(pb.StartContainerRequest(container_id=big), timeout=T)
        say(False, "a container bigger than the pod's VM is refused", "started")
    except grpc.RpcError as e:
        say("does not fit" in e.details() and "65536 MiB" in e.details(), "a container bigger than the pod's VM is refused, saying why",
            e.details())
    c = container(pid, pc, "small", "exec sleep 100000")
    rt.StartContainer(pb.StartContainerRequest(container_id=c), timeout=T)
    say(state_of(c) == pb.CONTAINER_RUNNING, "after the refusal, a container that fits runs in the pod")
    # The crash: the pod's QEMU killed from outside.
    q = qemus()
    say(len(q) == 1, "crash pod: one QEMU", q)
    for p in q:
        os.kill(p, signal.SIGKILL)
    ex = wait_for(lambda: state_of(c) == pb.CONTAINER_EXITED, 30)
    say(ex, "kill -9 of the pod's QEMU: the container exits")
    nr = wait_for(lambda: pod_state(pid) == pb.SANDBOX_NOTREADY, 30)
    say(nr, "kill -9 of the pod's QEMU: the sandbox is NOTREADY")
    remove_pod(pid, "crashed pod")


try:
    if "main" in cases:
        case_main()
    if "fit" in cases and RUNM:
        case_fit()
except grpc.RpcError as e:
    say(False, "CRI calls (%s)" % handler, "%s: %s" % (e.code(), e.details()))
except Exception as e:  # noqa: BLE001
    say(False, "CRI calls (%s)" % handler, repr(e))

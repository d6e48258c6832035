"""Pod start through containerd's CRI plugin (tools/bench/pods.sh): RUNS
times, RunPodSandbox + two app containers (sleep) started, timed until both
run; then the host memory of the pod (PSS of every shim of our containerd
and everything below them: the QEMU for runm, pause and sleeps for runc-v2);
then the pod is stopped and removed.

  pods.py GEN_DIR SOCK HANDLER RUNS OUT_JSON
writes {"handler", "start_s": [...], "pss_mib": [...], "errors": [...]}.
"""
import json
import os
import sys
import time

gen, sock, handler, runs, out = sys.argv[1:6]
sys.path.insert(0, gen)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
import api_pb2 as pb  # noqa: E402
import api_pb2_grpc as pbg  # noqa: E402
import procs  # noqa: E402

T = 180
rt = pbg.RuntimeServiceStub(grpc.insecure_channel("unix://" + sock))


def ns(o):
    o.network, o.pid, o.ipc = pb.NODE, pb.CONTAINER, pb.POD


def one(i):
    pc = pb.PodSandboxConfig()
    pc.metadata.name, pc.metadata.uid, pc.metadata.namespace = "bench-%d" % i, "bench-%d-%d" % (os.getpid(), i), "bench"
    ns(pc.linux.security_context.namespace_options)
    t0 = time.monotonic()
    pid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pc, runtime_handler=handler), timeout=T).pod_sandbox_id
    try:
        for name in ("a", "b"):
            c = pb.ContainerConfig()
            c.metadata.name = name
            c.image.image = "docker.io/library/busybox:runm"
            c.command.extend(["sleep", "3600"])
            ns(c.linux.security_context.namespace_options)
            cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pid, config=c, sandbox_config=pc),
                                     timeout=T).container_id
            rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=T)
        t1 = time.monotonic()
        time.sleep(1)  # the guest settles after its last runc
        pss = sum(procs.pss_kib(p) for p in procs.descendants(procs.shims(sock))) / 1024
        return t1 - t0, pss
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=T)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=T)


res = {"handler": handler, "start_s": [], "pss_mib": [], "errors": []}
for i in range(int(runs)):
    try:
        s, m = one(i)
        res["start_s"].append(s)
        res["pss_mib"].append(m)
    except grpc.RpcError as e:
        res["errors"].append("%s: %s" % (e.code(), e.details()))
with open(out, "w") as f:
    json.dump(res, f, indent=1)
sys.exit(1 if res["errors"] else 0)

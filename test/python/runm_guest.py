"""A small, independent client for the runm.v1 guest service.

It talks to runm-linux-init through Debian's python3-grpcio with stubs that
grpc_tools.protoc generates from proto/runm/v1/guest.proto at test time, so
it shares no code with runm's C client. Run it with /usr/bin/python3.
"""
import importlib
import os
import queue
import subprocess
import sys
import threading

import grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

pb = None
pb_grpc = None


def load_stubs(out_dir):
    """Generates guest_pb2 / guest_pb2_grpc into out_dir and imports them."""
    global pb, pb_grpc
    if pb is not None:
        return pb
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
         "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
         os.path.join(ROOT, "proto", "runm", "v1", "guest.proto")],
        check=True)
    sys.path.insert(0, out_dir)
    pb = importlib.import_module("runm.v1.guest_pb2")
    pb_grpc = importlib.import_module("runm.v1.guest_pb2_grpc")
    return pb


class StdioSession:
    """One Stdio stream. Chunks are gathered on a reader thread; stdin is fed
    through a queue that becomes the request iterator."""

    def __init__(self, stub, cid, exec_id="", stdin=b"", close_stdin=False, timeout=None,
                 on_chunk=None):
        self._q = queue.Queue()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.chunks = 0
        self.max_chunk = 0
        self.exited = False
        self.exit_status = None
        self.after_exit = 0  # messages after the exit message (must stay 0)
        self.error = None
        self._on_chunk = on_chunk
        first = pb.StdioIn(id=cid, exec_id=exec_id, stdin=stdin, close_stdin=close_stdin)
        self._q.put(first)
        self._call = stub.Stdio(self._requests(), timeout=timeout)
        self._done = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _requests(self):
        while True:
            m = self._q.get()
            if m is None:
                return  # half-close
            yield m

    def _read(self):
        try:
            for m in self._call:
                if self.exited:
                    self.after_exit += 1
                if m.stdout:
                    self.stdout += m.stdout
                if m.stderr:
                    self.stderr += m.stderr
                n = len(m.stdout) + len(m.stderr)
                if n:
                    self.chunks += 1
                    self.max_chunk = max(self.max_chunk, len(m.stdout), len(m.stderr))
                    if self._on_chunk:
                        self._on_chunk(self)
                if m.exited:
                    self.exited = True
                    self.exit_status = m.exit_status
                    self._q.put(None)
        except grpc.RpcError as e:
            self.error = e
        finally:
            self._q.put(None)
            self._done.set()

    def send(self, data):
        self._q.put(pb.StdioIn(stdin=data))

    def close_stdin(self):
        self._q.put(pb.StdioIn(close_stdin=True))

    def half_close(self):
        self._q.put(None)

    def cancel(self):
        self._call.cancel()

    def wait(self, timeout=None):
        return self._done.wait(timeout)


class Guest:
    def __init__(self, socket_path, timeout=60):
        self.timeout = timeout
        opts = [("grpc.max_receive_message_length", 8 << 20),
                ("grpc.max_send_message_length", 8 << 20)]
        self.channel = grpc.insecure_channel("unix:" + socket_path, options=opts)
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = pb_grpc.GuestStub(self.channel)

    def close(self):
        self.channel.close()

    def _t(self, timeout):
        return self.timeout if timeout is None else timeout

    def ping(self, data=b"", timeout=None):
        return self.stub.Ping(pb.PingRequest(data=data), timeout=self._t(timeout))

    def info(self):
        return self.stub.Info(pb.InfoRequest(), timeout=self.timeout)

    def create(self, cid, bundle, terminal=False, stdin=False):
        return self.stub.Create(pb.CreateRequest(id=cid, bundle=bundle, terminal=terminal,
                                                 stdin=stdin), timeout=self.timeout).pid

    def start(self, cid, exec_id=""):
        return self.stub.Start(pb.StartRequest(id=cid, exec_id=exec_id), timeout=self.timeout).pid

    def exec(self, cid, exec_id, process_json, terminal=False, stdin=False):
        if isinstance(process_json, str):
            process_json = process_json.encode()
        self.stub.Exec(pb.ExecRequest(id=cid, exec_id=exec_id, process_json=process_json,
                                      terminal=terminal, stdin=stdin), timeout=self.timeout)

    def kill(self, cid, signal, exec_id="", all=False):
        self.stub.Kill(pb.KillRequest(id=cid, exec_id=exec_id, signal=signal, all=all),
                       timeout=self.timeout)

    def delete(self, cid, exec_id="", force=False):
        return self.stub.Delete(pb.DeleteRequest(id=cid, exec_id=exec_id, force=force),
                                timeout=self.timeout)

    def state(self, cid, exec_id=""):
        return self.stub.State(pb.StateRequest(id=cid, exec_id=exec_id), timeout=self.timeout)

    def pids(self, cid):
        return self.stub.Pids(pb.PidsRequest(id=cid), timeout=self.timeout).processes

    def pause(self, cid):
        self.stub.Pause(pb.ContainerRequest(id=cid), timeout=self.timeout)

    def resume(self, cid):
        self.stub.Resume(pb.ContainerRequest(id=cid), timeout=self.timeout)

    def update(self, cid, resources_json):
        if isinstance(resources_json, str):
            resources_json = resources_json.encode()
        self.stub.Update(pb.UpdateRequest(id=cid, resources_json=resources_json),
                         timeout=self.timeout)

    def stats(self, cid):
        return self.stub.Stats(pb.ContainerRequest(id=cid), timeout=self.timeout)

    def wait(self, cid, exec_id="", timeout=None):
        return self.stub.Wait(pb.WaitRequest(id=cid, exec_id=exec_id), timeout=self._t(timeout))

    def wait_future(self, cid, exec_id=""):
        return self.stub.Wait.future(pb.WaitRequest(id=cid, exec_id=exec_id))

    def resize(self, cid, rows, cols, exec_id=""):
        self.stub.ResizePty(pb.ResizePtyRequest(id=cid, exec_id=exec_id, rows=rows, cols=cols),
                            timeout=self.timeout)

    def close_stdin(self, cid, exec_id=""):
        self.stub.CloseStdin(pb.ProcessRequest(id=cid, exec_id=exec_id), timeout=self.timeout)

    def events(self, since=0, timeout=None):
        return self.stub.Events(pb.EventsRequest(since=since), timeout=timeout)

    def stdio(self, cid, exec_id="", **kw):
        return StdioSession(self.stub, cid, exec_id, **kw)

    def run(self, cid, bundle, stdin=None, terminal=False, timeout=120):
        """Create, attach, start, collect everything, delete: (session, delete response)."""
        self.create(cid, bundle, terminal=terminal, stdin=stdin is not None)
        s = self.stdio(cid, stdin=stdin or b"", close_stdin=stdin is not None)
        self.start(cid)
        s.wait(timeout)
        d = self.delete(cid)
        return s, d


def process_json(args, terminal=False, env=None, cwd="/"):
    """An OCI runtime-spec Process for Exec."""
    import json
    return json.dumps({
        "terminal": terminal,
        "user": {"uid": 0, "gid": 0},
        "args": list(args),
        "env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "TERM=xterm"],
        "cwd": cwd,
    })

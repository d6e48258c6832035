#!/usr/bin/python3
"""Process probes for the benchmark: which processes a container costs the
host, their memory (PSS from /proc/PID/smaps_rollup) and CPU.

A container's host processes are its long-lived containerd shim (argv[0]
containerd-shim-*, `-address SOCK`, `-id ID`, not a `start`/`delete` run)
and everything below it: for runc-v2 the container's own processes (the shim
is their parent and subreaper), for runm the VM's QEMU (and any helper the
shim starts). The same rule for both runtimes keeps the comparison fair.

  procs.py tree --sock SOCK --id ID          JSON: pids, comm, PSS each, total
  procs.py wait-idle --sock SOCK --id ID [--max S] [--threshold PCT]
                                             waits until the tree's CPU use stays
                                             under PCT % for two 1 s windows;
                                             JSON: idle, cpu_pct, waited_s
  procs.py sample --sock SOCK --interval S   until SIGTERM: lines
                                             "UNIX_S TOTAL_PSS_KIB N_SHIMS CPU_TICKS"
                                             for every shim of SOCK and its tree
                                             (CPU: user+system of the live ones)
  procs.py left --mention STR...             pids of QEMUs or shims whose argv
                                             mentions one of STR (leak check)
  procs.py kill-tree PID                     stops PID and everything below it
                                             (SIGSTOP until no new process
                                             appears, then SIGKILL)
"""
import argparse
import json
import os
import signal
import sys
import time


def argv_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def stat_of(pid):
    """(comm, ppid, utime+stime ticks) or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    return comm, int(rest[1]), int(rest[11]) + int(rest[12])


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def is_shim(argv, sock, cid=None):
    if not argv or not os.path.basename(argv[0]).startswith("containerd-shim-"):
        return False
    if "start" in argv[1:] or "delete" in argv[1:]:
        return False
    pairs = dict(zip(argv[1:], argv[2:]))
    if pairs.get("-address") != sock:
        return False
    return cid is None or pairs.get("-id") == cid


def shims(sock, cid=None):
    return [p for p in all_pids() if is_shim(argv_of(p), sock, cid)]


def descendants(roots):
    children = {}
    for p in all_pids():
        st = stat_of(p)
        if st:
            children.setdefault(st[1], []).append(p)
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree(sock, cid):
    roots = shims(sock, cid)
    procs = []
    for p in descendants(roots):
        st = stat_of(p)
        if st is None:
            continue
        procs.append({"pid": p, "comm": st[0], "pss_kib": pss_kib(p), "shim": p in roots})
    return procs


def cpu_ticks(pids):
    total = 0
    for p in pids:
        st = stat_of(p)
        if st:
            total += st[2]
    return total


def cmd_tree(a):
    procs = tree(a.sock, a.id)
    if not any(p["shim"] for p in procs):
        print(f"procs.py: no shim serves `{a.id}` on {a.sock}", file=sys.stderr)
        return 1
    json.dump({"procs": procs, "total_kib": sum(p["pss_kib"] for p in procs)}, sys.stdout)
    print()
    return 0


def cmd_wait_idle(a):
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    calm, pct = 0, 100.0
    while time.monotonic() - t0 < a.max:
        pids = [p["pid"] for p in tree(a.sock, a.id)]
        if not pids:
            print(f"procs.py: no shim serves `{a.id}` on {a.sock}", file=sys.stderr)
            return 1
        c0, w0 = cpu_ticks(pids), time.monotonic()
        time.sleep(1.0)
        c1, w1 = cpu_ticks(pids), time.monotonic()
        pct = 100.0 * (c1 - c0) / hz / (w1 - w0)
        calm = calm + 1 if pct < a.threshold else 0
        if calm >= 2:
            break
    json.dump({"idle": calm >= 2, "cpu_pct": round(pct, 2),
               "waited_s": round(time.monotonic() - t0, 2)}, sys.stdout)
    print()
    return 0


def cmd_sample(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    parent = os.getppid()
    while not stop and os.getppid() == parent:  # ends with the bench too
        roots = shims(a.sock)
        pids = descendants(roots)
        total = sum(pss_kib(p) for p in pids)
        print(f"{time.time():.3f} {total} {len(roots)} {cpu_ticks(pids)}", flush=True)
        time.sleep(a.interval)
    return 0


def cmd_left(a):
    for p in all_pids():
        argv = argv_of(p)
        if not argv:
            continue
        base = os.path.basename(argv[0])
        if not (base.startswith("qemu-system-") or base.startswith("containerd-shim-")):
            continue
        if any(m in arg for m in a.mention for arg in argv):
            print(p)
    return 0


def cmd_kill_tree(a):
    seen = []
    for _ in range(50):
        new = [p for p in descendants([a.pid]) if p not in seen and p != os.getpid()]
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except OSError:
                pass
        seen.extend(new)
        time.sleep(0.05)
    for p in seen:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tree")
    t.add_argument("--sock", required=True)
    t.add_argument("--id", required=True)
    w = sub.add_parser("wait-idle")
    w.add_argument("--sock", required=True)
    w.add_argument("--id", required=True)
    w.add_argument("--max", type=float, default=30)
    w.add_argument("--threshold", type=float, default=5)
    s = sub.add_parser("sample")
    s.add_argument("--sock", required=True)
    s.add_argument("--interval", type=float, default=0.25)
    l = sub.add_parser("left")
    l.add_argument("--mention", nargs="+", required=True)
    k = sub.add_parser("kill-tree")
    k.add_argument("pid", type=int)
    a = ap.parse_args()
    return {"tree": cmd_tree, "wait-idle": cmd_wait_idle, "sample": cmd_sample,
            "left": cmd_left, "kill-tree": cmd_kill_tree}[a.cmd](a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

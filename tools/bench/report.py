#!/usr/bin/python3
"""report.py OUT: turns the raw measurements of tools/bench.sh (OUT/raw/)
into OUT/results.json, OUT/results.md and the data files the gnuplot
scripts plot (OUT/plot/*.dat). Percentiles are nearest-rank: p95 of 20 runs
is the 19th fastest."""
import json
import math
import os
import statistics
import sys

MIB = 1 << 20

# Targets on this kind of machine (QEMU TCG, 2 cores): issue 6's, with
# issue 15's stricter boot and warm start.
TARGETS = {
    "boot_to_first_ping_s": 0.8,
    "cold_start_s": 2.0,
    "warm_start_s": 0.8,
    "idle_pss_mib": 64.0,
}

# Cold start phases from the shim's timing records (host-shim/timing.c),
# as (label, from event, to event); "t0"/"t1" are ctr's start and exit.
COLD_PHASES = [
    ("ctr + containerd before the shim", "t0", "shim.start"),
    ("shim start (spawn, connect, Create call)", "shim.start", "create.begin"),
    ("rootfs mount", "create.begin", "rootfs.mounted"),
    ("share setup + VM plan", "rootfs.mounted", "vm.spawn"),
    ("VM boot (QEMU spawn to first Ping)", "vm.spawn", "vm.ready"),
    ("VM ownership (debug socket, vm.info)", "vm.ready", "vm.owned"),
    ("runc create in the guest", "vm.owned", "guest.created"),
    ("Create reply to Start call (stdio, events)", "guest.created", "start.begin"),
    ("runc start in the guest", "start.begin", "start.end"),
    ("/bin/true runs, exits, output drained", "start.end", "exit.published"),
    ("exit to Delete call (ctr, containerd)", "exit.published", "delete.begin"),
    ("Delete: runc delete in the guest", "delete.begin", "delete.guest"),
    ("Delete: VM stop, unmount", "delete.guest", "delete.end"),
    ("after Delete (shim exit, container removal)", "delete.end", "t1"),
]

BOOT_PHASES = [
    "QEMU spawn to kernel start (est.)",
    "kernel start to mounter",
    "mounter to init",
    "init to serving",
    "serving to first Ping answered",
]


def pct(vals, p):
    v = sorted(vals)
    if not v:
        return None
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def summary(vals):
    if not vals:
        return None
    return {"n": len(vals), "p50": pct(vals, 50), "p95": pct(vals, 95), "p99": pct(vals, 99),
            "min": min(vals), "max": max(vals), "mean": statistics.fmean(vals)}


def read_lines(path):
    try:
        with open(path) as f:
            return [l.split() for l in f if l.strip()]
    except OSError:
        return None


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Report:
    def __init__(self, out):
        self.out = out
        self.raw = os.path.join(out, "raw")
        self.plot = os.path.join(out, "plot")
        os.makedirs(self.plot, exist_ok=True)
        self.res = {}
        self.meta = {}
        for row in read_lines(os.path.join(self.raw, "meta.txt")) or []:
            k, _, v = " ".join(row).partition("=")
            self.meta[k] = v
        self.res["meta"] = self.meta
        self.failed = [l for l in (read_text(os.path.join(self.raw, "failed.txt")) or "").split("\n") if l]
        self.res["failed"] = self.failed

    def p(self, *parts):
        return os.path.join(self.raw, *parts)

    # ---- cold and warm starts -------------------------------------------
    def starts(self):
        cold = {}
        for rt in ("runc", "runm"):
            rows = read_lines(self.p(f"cold-{rt}.txt")) or []
            cold[rt] = {"runs": [{"id": r[0], "t0_us": int(r[1]), "t1_us": int(r[2]), "s": float(r[3])}
                                 for r in rows]}
            cold[rt]["stats_s"] = summary([r["s"] for r in cold[rt]["runs"]])
            with open(os.path.join(self.plot, f"cold-{rt}.dat"), "w") as f:
                f.writelines(f"{r['s']}\n" for r in cold[rt]["runs"])
        self.res["cold_start"] = cold
        warm = {"stats_s": None}
        na = read_text(self.p("warm.na"))
        rows = read_lines(self.p("warm-runm.txt"))
        if rows:
            warm["runs"] = [{"id": r[0], "s": float(r[3])} for r in rows]
            warm["stats_s"] = summary([r["s"] for r in warm["runs"]])
            with open(os.path.join(self.plot, "warm-runm.dat"), "w") as f:
                f.writelines(f"{r['s']}\n" for r in warm["runs"])
        warm["note"] = na or ("" if rows else "not measured")
        self.res["warm_start"] = warm

    def recheck(self):
        """The runc-v2 baseline measured again at the end, and plain `ctr run --rm`."""
        rc = {}
        for name in ("recheck-runc", "plain-ctr"):
            rows = read_lines(self.p(f"{name}.txt")) or []
            rc[name] = summary([float(r[3]) for r in rows])
        first = self.res["cold_start"]["runc"]["stats_s"]
        again = rc["recheck-runc"]
        warn = []
        if first and again:
            drift = again["p50"] / first["p50"]
            rc["baseline_drift"] = drift
            if drift > 1.25 or drift < 0.8:
                warn.append(f"the runc-v2 cold start baseline moved from {first['p50']:.3f} s (start of the run) "
                            f"to {again['p50']:.3f} s (end): x{drift:.2f}. The load changed during the run; "
                            "ratios against runc-v2 are unreliable")
        plain = rc["plain-ctr"]
        if again and plain and again["p50"] > 1.2 * plain["p50"]:
            warn.append(f"runc-v2 through --runtime ({again['p50']:.3f} s) is slower than a plain `ctr run --rm` "
                        f"({plain['p50']:.3f} s): the baseline is not what a runc-v2 user sees")
        for k in ("load_start", "load_end"):
            v = self.meta.get(k, "")
            try:
                one = float(v.split()[0])
            except (ValueError, IndexError):
                continue
            if one > 1.0:
                warn.append(f"load average {one:.2f} at the {k[5:]} of the run (2 cores): figures are noisy")
        rc["warnings"] = warn
        self.res["baseline_recheck"] = rc

    def cold_timeline(self):
        """Per-phase durations of every runm cold start that has a full record."""
        per_phase = {label: [] for label, _, _ in COLD_PHASES}
        boots = []
        ns = self.meta.get("namespace", "bench")
        for run in self.res["cold_start"]["runm"]["runs"]:
            ev = {"t0": run["t0_us"] * 1000, "t1": run["t1_us"] * 1000}
            for row in read_lines(self.p("timing", f"{ns}-{run['id']}.timing")) or []:
                ev.setdefault(row[0], int(row[1]))  # first occurrence
            if not all(a in ev and b in ev for _, a, b in COLD_PHASES):
                continue
            if ev["vm.spawn"] < ev["create.begin"]:
                continue  # a pooled VM, booted before the task: not a cold start
            for label, a, b in COLD_PHASES:
                per_phase[label].append((ev[b] - ev[a]) / 1e9)
            boots.append((ev["vm.ready"] - ev["vm.spawn"]) / 1e9)
        n = len(boots)
        self.res["cold_timeline_runm"] = {
            "runs_with_records": n,
            "phases": [{"phase": label, "from": a, "to": b, "p50_s": pct(per_phase[label], 50),
                        "p95_s": pct(per_phase[label], 95)} for label, a, b in COLD_PHASES] if n else [],
        }
        self.res["vm_boot_in_cold_start_s"] = summary(boots)

    # ---- standalone boots, Ping -------------------------------------------
    def boot(self):
        rows = []
        try:
            with open(self.p("boot.jsonl")) as f:
                rows = [json.loads(l) for l in f if l.strip()]
        except (OSError, ValueError):
            pass
        totals, phases = [], {k: [] for k in BOOT_PHASES}
        info0 = rows[0]["info"] if rows else {}
        for r in rows:
            total = r["start"]["boot_seconds"]
            tl = r["info"]["timeline_seconds"]
            kstart = r["info"].get("host_spawn_to_kernel_start_seconds", total - tl["first_rpc"])
            totals.append(total)
            for k, v in zip(BOOT_PHASES, [kstart, tl["mounter_start"], tl["init_start"] - tl["mounter_start"],
                                           tl["serving"] - tl["init_start"], total - kstart - tl["serving"]]):
                phases[k].append(v)
        self.res["boot"] = {
            "boot_to_first_ping_s": summary(totals),
            "phases": [{"phase": k, "p50_s": pct(phases[k], 50), "p95_s": pct(phases[k], 95)}
                       for k in BOOT_PHASES] if rows else [],
            "guest_timeline_s": [r["info"]["timeline_seconds"] for r in rows],
            "kernel": info0.get("kernel_release"), "accel": info0.get("accel"),
            "transport": info0.get("transport"), "runc": info0.get("runc_version"),
        }
        self.res["ping_us"] = read_json(self.p("ping.json"))

    # ---- running container: exec, stdio, idle memory -----------------------
    def running(self):
        ex, out, inp, idle, prod, cons = {}, {}, {}, {}, {}, {}
        for rt in ("runc", "runm"):
            rows = read_lines(self.p(f"exec-{rt}.txt")) or []
            ex[rt] = summary([float(r[0]) for r in rows])
            for name, d in (("stdout", out), ("stdin", inp)):
                rows = read_lines(self.p(f"{name}-{rt}.txt")) or []
                runs = [{"bytes": int(r[0]), "bytes_seen": int(r[1]), "seconds": float(r[2])} for r in rows]
                if runs:
                    # Median of the runs; any short run makes the figure void.
                    ok = all(x["bytes_seen"] == x["bytes"] and x["seconds"] > 0 for x in runs)
                    rates = [x["bytes"] / MIB / x["seconds"] for x in runs] if ok else []
                    d[rt] = {"runs": runs, "mib_per_s": statistics.median(rates) if ok else None,
                             "min_mib_per_s": min(rates) if ok else None,
                             "max_mib_per_s": max(rates) if ok else None}
            for what, d in (("producer", prod), ("consumer", cons)):
                rows = read_lines(self.p(f"{what}-{rt}.txt")) or []
                rates = [int(r[0]) / MIB / float(r[1]) for r in rows if float(r[1]) > 0]
                d[rt] = {"mib_per_s": statistics.median(rates) if rates else None, "runs": len(rates)}
            t = read_json(self.p(f"idle-{rt}.json"))
            if t:
                by = {}
                for pr in t["procs"]:
                    kind = "shim" if pr["shim"] else ("qemu" if pr["comm"].startswith("qemu") else "other")
                    by[kind] = by.get(kind, 0) + pr["pss_kib"]
                idle[rt] = {"pss_mib": t["total_kib"] / 1024, "by_kind_mib": {k: v / 1024 for k, v in by.items()},
                            "procs": t["procs"], "idle_wait": read_json(self.p(f"idle-{rt}-wait.json"))}
        self.res["exec_s"] = ex
        self.res["stdout"] = out
        self.res["stdin"] = inp
        self.res["stdout_producer"] = prod
        self.res["stdin_consumer"] = cons
        self.res["idle_memory"] = idle

    def many(self):
        m = {}
        for rt in ("runc", "runm"):
            r = (read_lines(self.p(f"many-{rt}.txt")) or [None])[0]
            if not r:
                continue
            t0, t1, s, ok, count = int(r[0]) / 1e6, int(r[1]) / 1e6, float(r[2]), int(r[3]), int(r[4])
            rows = read_lines(self.p(f"many-{rt}-pss.txt")) or []
            samples = [(float(x[0]), int(x[1])) for x in rows]
            during = [kib for t, kib in samples if t0 <= t <= t1 + 1.5]
            peak = max(during) / 1024 if during else None
            # CPU the containers' host processes (every one started in this
            # run) had used once all ran: with the cores, the wall floor of
            # starting them all at once.
            ticks = [int(x[3]) for x in rows if len(x) > 3 and t0 <= float(x[0]) <= t1 + 1.5]
            cpu = max(ticks) / os.sysconf("SC_CLK_TCK") if ticks else None
            m[rt] = {"count": count, "started": ok, "all_running_s": s if ok == count else None,
                     "peak_pss_mib": peak, "peak_pss_per_container_mib": peak / count if peak else None,
                     "cpu_s": cpu, "cpu_floor_s": cpu / (os.cpu_count() or 1) if cpu is not None else None,
                     "samples": len(samples)}
            with open(os.path.join(self.plot, f"many-{rt}.dat"), "w") as f:
                f.writelines(f"{t - t0:.3f} {kib / 1024:.1f}\n" for t, kib in samples)
        self.res["many_at_once"] = m

    def pods(self):
        p = {}
        for rt in ("runc", "runm"):
            j = read_json(self.p(f"pods-{rt}.json"))
            if j is None:
                continue
            p[rt] = {"start_s": summary(j.get("start_s") or []), "pss_mib": summary(j.get("pss_mib") or []),
                     "errors": j.get("errors") or [], "raw": j}
        self.res["pods"] = p

    def bindfs(self):
        j = read_json(os.path.join(self.out, "bindfs.json"))
        md = read_text(os.path.join(self.out, "bindfs.md"))
        self.res["bindfs"] = j if j is not None else {"note": read_text(self.p("bindfs.na")) or "not run"}
        self.bindfs_md = md

    # ---- what dominates -----------------------------------------------------
    def dominant(self):
        tl = self.res["cold_timeline_runm"]["phases"]
        if not tl:
            self.res["dominant"] = None
            return
        total = sum(p["p50_s"] for p in tl)
        top = sorted(tl, key=lambda p: -p["p50_s"])
        d = {"phase": top[0]["phase"], "p50_s": top[0]["p50_s"], "share": top[0]["p50_s"] / total,
             "next": top[1]["phase"], "next_p50_s": top[1]["p50_s"]}
        bp = self.res["boot"]["phases"]
        if bp:
            b = max(bp, key=lambda p: p["p50_s"])
            d["boot_step"], d["boot_step_p50_s"] = b["phase"], b["p50_s"]
        self.res["dominant"] = d

    # ---- plots' data ----------------------------------------------------------
    def timeline_dat(self):
        cols = [p for p in BOOT_PHASES] + [label for label, _, _ in COLD_PHASES]
        rows = []
        if self.res["boot"]["phases"]:
            rows.append(("runm: VM boot (guest clock)", {p["phase"]: p["p50_s"] for p in self.res["boot"]["phases"]}))
        if self.res["cold_timeline_runm"]["phases"]:
            rows.append(("runm: ctr run --rm", {p["phase"]: p["p50_s"] for p in self.res["cold_timeline_runm"]["phases"]}))
        rc = self.res["cold_start"]["runc"]["stats_s"]
        if rc:
            cols.append("runc-v2 total")
            rows.append(("runc-v2: ctr run --rm", {"runc-v2 total": rc["p50"]}))
        with open(os.path.join(self.plot, "timeline.dat"), "w") as f:
            f.write("label " + " ".join(f'"{c}"' for c in cols) + "\n")
            for label, vals in rows:
                f.write(f'"{label}" ' + " ".join(f"{vals.get(c, 0) or 0:.4f}" for c in cols) + "\n")
        with open(os.path.join(self.plot, "timeline.ncols"), "w") as f:
            f.write(f"{len(cols) + 1}\n")

    # ---- markdown -------------------------------------------------------------
    def markdown(self):
        r, L = self.res, []

        def s(v, unit="s", fmt="{:.3f}"):
            return "–" if v is None else (fmt.format(v) + (" " + unit if unit else ""))

        def st(stats, key):
            return None if not stats else stats[key]

        def status(value, target):
            if value is None:
                return "n/a"
            return "**met**" if value <= target else f"not met ({value / target:.1f}× target)"

        def rstatus(a, b, want, at_most):
            if a is None or b is None or b == 0:
                return "n/a"
            ok = a / b <= want if at_most else a / b >= want
            return "**met**" if ok else "not met"

        def ratio(a, b):
            if a is None or b is None or b == 0:
                return "–"
            return f"{a / b:.1f}×" if a / b >= 1 else f"{a / b:.2f}×"

        m = self.meta
        L.append("# runm benchmark: runc-v2 vs runm\n")
        L.append(f"`make bench` run of {m.get('date', '?')} on {m.get('host', '?')}: {m.get('cpus', '?')} CPUs, "
                 f"{m.get('mem_mib', '?')} MiB RAM, host kernel {m.get('host_kernel', '?')}; "
                 f"guest kernel {r['boot'].get('kernel') or '?'}, accel {r['boot'].get('accel') or '?'}, "
                 f"transport {r['boot'].get('transport') or '?'}; {m.get('containerd', '?')}; "
                 f"{m.get('runc', '?')}; {m.get('qemu', '?')}; commit {m.get('commit', '?')}.\n")
        L.append(f"Settings: {m.get('runs', '?')} cold starts and execs per runtime, {m.get('boots', '?')} standalone "
                 f"boots, {m.get('pings', '?')} pings, {m.get('stdio_mib', '?')} MiB stdio, {m.get('many', '?')} "
                 f"containers at once{' (BENCH_QUICK)' if m.get('quick') == '1' else ''}; the bench took "
                 f"{m.get('elapsed_s', '?')} s. Load: {m.get('foreign_vms', '?')} QEMU processes of others were "
                 f"running at the start and {m.get('foreign_vms_end', '?')} at the end; load average "
                 f"{m.get('load_start', '?')} at the start, {m.get('load_end', '?')} at the end. "
                 "Figures from a shared machine are noisy.\n")

        cs, ws = r["cold_start"], r["warm_start"]["stats_s"]
        crc, crm = cs["runc"]["stats_s"], cs["runm"]["stats_s"]
        b = r["boot"]["boot_to_first_ping_s"]
        ex, so, si, idle, many = r["exec_s"], r["stdout"], r["stdin"], r["idle_memory"], r["many_at_once"]
        ping = r["ping_us"]

        def tp(d, rt):
            return (d.get(rt) or {}).get("mib_per_s")

        def mem(rt):
            return (idle.get(rt) or {}).get("pss_mib")

        def mn(rt, k):
            return (many.get(rt) or {}).get(k)

        rk = r["baseline_recheck"]
        if rk["warnings"]:
            L.append("## WARNING: ratios of this run are unreliable\n")
            L.extend(f"- **{w}**" for w in rk["warnings"])
            L.append("")
        a, pl = rk.get("recheck-runc"), rk.get("plain-ctr")
        L.append(f"Baseline check: runc-v2 cold start p50 {s(st(crc, 'p50'))} at the start of the run, "
                 f"{s(st(a, 'p50'))} at the end; a plain `ctr run --rm` (containerd's default runtime) "
                 f"{s(st(pl, 'p50'))}.\n")
        L.append("## Summary\n")
        L.append("| figure | runc-v2 | runm | runm / runc-v2 | target (issues 6, 15) | status |")
        L.append("|---|---|---|---|---|---|")
        L.append(f"| cold start `ctr run --rm … /bin/true`, p50 | {s(st(crc, 'p50'))} | {s(st(crm, 'p50'))} | "
                 f"{ratio(st(crm, 'p50'), st(crc, 'p50'))} | ≤ 2.0 s | {status(st(crm, 'p50'), TARGETS['cold_start_s'])} |")
        L.append(f"| cold start, p95 | {s(st(crc, 'p95'))} | {s(st(crm, 'p95'))} | "
                 f"{ratio(st(crm, 'p95'), st(crc, 'p95'))} | | |")
        L.append(f"| warm start (pre-booted VM), p50 | – | {s(st(ws, 'p50')) if ws else 'n/a'} | "
                 f"{ratio(st(ws, 'p50'), st(crc, 'p50'))} | ≤ 0.8 s | "
                 f"{status(st(ws, 'p50'), TARGETS['warm_start_s']) if ws else 'n/a: ' + r['warm_start']['note']} |")
        L.append(f"| boot to first Ping (standalone VM), p50 / p95 | – | {s(st(b, 'p50'))} / {s(st(b, 'p95'))} | | "
                 f"≤ 0.8 s | {status(st(b, 'p50'), TARGETS['boot_to_first_ping_s'])} |")
        vb = r["vm_boot_in_cold_start_s"]
        L.append(f"| VM boot inside the cold starts, p50 / p95 | – | {s(st(vb, 'p50'))} / {s(st(vb, 'p95'))} | | | |")
        L.append(f"| exec latency `ctr task exec … /bin/true`, p50 | {s(st(ex.get('runc'), 'p50'))} | "
                 f"{s(st(ex.get('runm'), 'p50'))} | {ratio(st(ex.get('runm'), 'p50'), st(ex.get('runc'), 'p50'))} | ≤ 3× | "
                 f"{rstatus(st(ex.get('runm'), 'p50'), st(ex.get('runc'), 'p50'), 3.0, True)} |")
        L.append(f"| exec latency, p95 | {s(st(ex.get('runc'), 'p95'))} | {s(st(ex.get('runm'), 'p95'))} | "
                 f"{ratio(st(ex.get('runm'), 'p95'), st(ex.get('runc'), 'p95'))} | | |")
        L.append(f"| stdout throughput ({m.get('stdio_mib', '?')} MiB through one exec, median of runs) | {s(tp(so, 'runc'), 'MiB/s', '{:.1f}')} | "
                 f"{s(tp(so, 'runm'), 'MiB/s', '{:.1f}')} | {ratio(tp(so, 'runm'), tp(so, 'runc'))} | ≥ 0.5× | "
                 f"{rstatus(tp(so, 'runm'), tp(so, 'runc'), 0.5, False)} |")
        pr = r["stdout_producer"]
        L.append(f"| stdout figure's producer alone (`head -c` to /dev/null in the container) | "
                 f"{s(tp(pr, 'runc'), 'MiB/s', '{:.1f}')} | {s(tp(pr, 'runm'), 'MiB/s', '{:.1f}')} | "
                 f"{ratio(tp(pr, 'runm'), tp(pr, 'runc'))} | | the most stdout can reach |")
        L.append(f"| stdin throughput ({m.get('stdio_mib', '?')} MiB through one exec, median of runs) | {s(tp(si, 'runc'), 'MiB/s', '{:.1f}')} | "
                 f"{s(tp(si, 'runm'), 'MiB/s', '{:.1f}')} | {ratio(tp(si, 'runm'), tp(si, 'runc'))} | ≥ 0.5× | "
                 f"{rstatus(tp(si, 'runm'), tp(si, 'runc'), 0.5, False)} |")
        cn = r.get("stdin_consumer") or {}
        L.append(f"| stdin figure's consumer alone (`wc -c` fed through a pipe by `dd bs=1M` in the container) | "
                 f"{s(tp(cn, 'runc'), 'MiB/s', '{:.1f}')} | {s(tp(cn, 'runm'), 'MiB/s', '{:.1f}')} | "
                 f"{ratio(tp(cn, 'runm'), tp(cn, 'runc'))} | | the most stdin can reach |")
        L.append(f"| guest RPC round trip (Ping), p50 / p99 | – | "
                 f"{s(ping and ping.get('p50_us'), '', '{:.0f}')} / {s(ping and ping.get('p99_us'), 'µs', '{:.0f}')} | | p50 ≤ 1000 µs | "
                 f"{status(ping and ping.get('p50_us'), 1000.0)} |")
        L.append(f"| host memory per idle container (PSS) | {s(mem('runc'), 'MiB', '{:.1f}')} | "
                 f"{s(mem('runm'), 'MiB', '{:.1f}')} | {ratio(mem('runm'), mem('runc'))} | ≤ 64 MiB | "
                 f"{status(mem('runm'), TARGETS['idle_pss_mib'])} |")
        L.append(f"| {m.get('many', '?')} containers at once: until all run | {s(mn('runc', 'all_running_s'))} | "
                 f"{s(mn('runm', 'all_running_s'))} | {ratio(mn('runm', 'all_running_s'), mn('runc', 'all_running_s'))} | | |")
        L.append(f"| {m.get('many', '?')} containers at once: peak PSS | {s(mn('runc', 'peak_pss_mib'), 'MiB', '{:.0f}')} | "
                 f"{s(mn('runm', 'peak_pss_mib'), 'MiB', '{:.0f}')} | {ratio(mn('runm', 'peak_pss_mib'), mn('runc', 'peak_pss_mib'))} | | |")
        pods = r.get("pods") or {}

        def pd(rt, k):
            return st((pods.get(rt) or {}).get(k), "p50")

        L.append(f"| CRI pod start (RunPodSandbox + 2 containers), p50 | {s(pd('runc', 'start_s'))} | "
                 f"{s(pd('runm', 'start_s'))} | {ratio(pd('runm', 'start_s'), pd('runc', 'start_s'))} | | |")
        L.append(f"| host memory per pod of 2 containers (PSS), p50 | {s(pd('runc', 'pss_mib'), 'MiB', '{:.1f}')} | "
                 f"{s(pd('runm', 'pss_mib'), 'MiB', '{:.1f}')} | {ratio(pd('runm', 'pss_mib'), pd('runc', 'pss_mib'))} | | |")
        L.append("")

        d = r["dominant"]
        if d:
            txt = (f"**What still dominates:** {d['phase']}: {d['p50_s']:.2f} s of the runm cold start "
                   f"({100 * d['share']:.0f} % of the sum of phase medians); next is {d['next']} "
                   f"({d['next_p50_s']:.2f} s).")
            if d.get("boot_step"):
                txt += f" Within a boot the largest step is {d['boot_step']} ({d['boot_step_p50_s']:.2f} s)."
            L.append(txt + "\n")

        L.append("![cold start distribution](cold-start.png) ![timeline](timeline.png) ![memory](many-memory.png)\n")

        L.append("## Where the time goes\n")
        if r["boot"]["phases"]:
            L.append(f"Standalone VM boot ({b['n']} boots, `runmctl vm start` + `runmctl info`; guest steps on the "
                     "guest's CLOCK_BOOTTIME, kernel start placed on the host clock as first Ping minus the guest's "
                     "first RPC time):\n")
            L.append("| step | p50 | p95 |\n|---|---|---|")
            for p in r["boot"]["phases"]:
                L.append(f"| {p['phase']} | {s(p['p50_s'])} | {s(p['p95_s'])} |")
            L.append(f"| **total: QEMU spawn to first Ping** | {s(st(b, 'p50'))} | {s(st(b, 'p95'))} |\n")
        ct = r["cold_timeline_runm"]
        if ct["phases"]:
            tot = sum(p["p50_s"] for p in ct["phases"])
            L.append(f"runm cold start, `ctr run --rm … /bin/true` ({ct['runs_with_records']} runs with the shim's "
                     "timing records, host CLOCK_REALTIME):\n")
            L.append("| phase | p50 | p95 | share of p50 sum |\n|---|---|---|---|")
            for p in ct["phases"]:
                L.append(f"| {p['phase']} | {s(p['p50_s'])} | {s(p['p95_s'])} | {100 * p['p50_s'] / tot:.0f} % |")
            L.append(f"| **sum of medians** (measured p50: {s(st(crm, 'p50'))}) | {s(tot)} | | |\n")
        else:
            L.append("No shim timing records: the runm cold-start breakdown is missing "
                     "(is containerd-shim-runm-v1 built with host-shim/timing.c?).\n")

        L.append("## Memory\n")
        for rt in ("runc", "runm"):
            i = idle.get(rt)
            if i:
                parts = ", ".join(f"{k} {v:.1f} MiB" for k, v in sorted(i["by_kind_mib"].items()))
                w = i.get("idle_wait") or {}
                L.append(f"- idle {rt}: {i['pss_mib']:.1f} MiB PSS ({parts}); CPU {w.get('cpu_pct', '?')} % after "
                         f"{w.get('waited_s', '?')} s{'' if w.get('idle') else ' (did not settle under 5 %)'}")
        for rt in ("runc", "runm"):
            x = many.get(rt)
            if x:
                L.append(f"- {x['count']} at once, {rt}: {x['started']} started; peak {s(x['peak_pss_mib'], 'MiB', '{:.0f}')} "
                         f"PSS ({s(x['peak_pss_per_container_mib'], 'MiB', '{:.1f}')} per container), "
                         f"{x['samples']} samples")
                if x.get("cpu_s") is not None:
                    L.append(f"  - CPU used by their host processes (shims and below) by the time all ran: "
                             f"{x['cpu_s']:.1f} s, {x['cpu_s'] / x['count']:.2f} s per container; on "
                             f"{os.cpu_count()} cores no schedule starts them all in less than "
                             f"{x['cpu_floor_s']:.1f} s (measured {s(x['all_running_s'])})")
        L.append("")

        L.append("## Shared directories: runm-bindfs vs Debian bindfs vs the source dir\n")
        if self.bindfs_md:
            # Its headings go under this section's.
            L.append("\n".join("##" + l if l.startswith("#") else l
                               for l in self.bindfs_md.split("\n")) + "\n")
        else:
            L.append(f"Not measured: {r['bindfs'].get('note', 'not run')}.\n")

        L.append("## Networking: runm's TAP mode vs user-mode NAT (tools/bench-net.sh)\n")
        L.append(self.net_md + "\n" if self.net_md else "Not measured.\n")

        if self.failed:
            L.append("## Failed measurements\n")
            L.extend(f"- {f}" for f in self.failed)
            L.append("")
        return "\n".join(L)

    def net(self):
        j = read_json(os.path.join(self.out, "net.json"))
        self.res["net"] = j if j is not None else {"note": "not run"}
        self.net_md = read_text(os.path.join(self.out, "net.md"))

    def run(self):
        self.starts()
        self.recheck()
        self.cold_timeline()
        self.boot()
        self.running()
        self.many()
        self.pods()
        self.bindfs()
        self.net()
        self.dominant()
        self.timeline_dat()
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.res, f, indent=2)
        md = self.markdown()
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write(md)
        return md


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print("usage: report.py OUT (a bench results folder, with raw/ in it)", file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(sys.argv[1], "raw")):
        print(f"report.py: {sys.argv[1]}: not a bench results folder (no raw/ in it)", file=sys.stderr)
        return 1
    Report(sys.argv[1]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/bash
# `make bench`: boot-to-first-Ping and Ping round trips, as JSON and a table
# under bench-results/. Speed targets live here, never in timed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNMCTL=build/bin/runmctl
RUNS=${RUNS:-10}
OUT=${OUT:-bench-results}
mkdir -p "$OUT"
export RUNM_STATE_DIR=$(mktemp -d /tmp/runm-bench.XXXXXX)
trap 'for d in "$RUNM_STATE_DIR"/vm/*/; do [ -d "$d" ] && "$RUNMCTL" vm stop "$(basename "$d")" >/dev/null 2>&1; done; rm -rf "$RUNM_STATE_DIR"' EXIT

boots=()
for i in $(seq 1 "$RUNS"); do
  j=$("$RUNMCTL" vm start --id "b$i" --json)
  boots+=("$(echo "$j" | sed -n 's/.*"boot_seconds":\([0-9.]*\).*/\1/p')")
  if [ "$i" -eq 1 ]; then
    ping=$("$RUNMCTL" ping --count 1000 --json "b$i")
    info=$("$RUNMCTL" info --json "b$i")
  fi
  "$RUNMCTL" vm stop "b$i" >/dev/null
done
/usr/bin/python3 - "$OUT" "$ping" "$info" "${boots[@]}" <<'PY'
import json, statistics, sys
out, ping, info = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
boots = sorted(float(b) for b in sys.argv[4:])
def pct(v, p): return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
res = {
    "boot_to_first_ping_s": {"runs": len(boots), "p50": pct(boots, 50), "p95": pct(boots, 95), "min": boots[0], "max": boots[-1]},
    "ping_us": {k: ping[k] for k in ("p50_us", "p99_us", "min_us", "max_us")},
    "guest_timeline_s": info["timeline_seconds"],
    "kernel": info["kernel_release"], "accel": info.get("accel"), "transport": info["transport"],
}
json.dump(res, open(f"{out}/boot.json", "w"), indent=2)
t = info["timeline_seconds"]
md = f"""| metric | value |
|---|---|
| boot to first Ping, p50 ({len(boots)} runs) | {res['boot_to_first_ping_s']['p50']:.3f} s |
| boot to first Ping, p95 | {res['boot_to_first_ping_s']['p95']:.3f} s |
| Ping round trip p50 / p99 | {ping['p50_us']:.0f} / {ping['p99_us']:.0f} µs |
| guest: mounter start | {t['mounter_start']:.3f} s |
| guest: init start | {t['init_start']:.3f} s |
| guest: serving | {t['serving']:.3f} s |
| guest: first RPC | {t['first_rpc']:.3f} s |
"""
open(f"{out}/boot.md", "w").write(md)
print(md)
PY

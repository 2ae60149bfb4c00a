"""Every benchmark of the project, one after the other, as one JSON document.

  .venv/bin/python benchmarks/run.py [--quick] [--only retrieval,router]
  .venv/bin/memory-service bench [--quick] --json            (the same)

Each module runs in its own process (one at a time: the figures are latencies on shared cores) and
prints its own JSON with the baselines it measured in the same run; this collects them, with the
machine's load before and after. --quick uses small scales (under 3 minutes); the full run takes
about 25 minutes, most of it building the 1M-memory and 10M-event data sets.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    quick: list[str] | None  # None: not part of the quick run
    full: list[str]
    covers: str


SUITE = [
    Bench("retrieval", "retrieval.py", ["--quick"], [],
          "memory writes; ranking at 10k/100k/1M memories; exact vs HNSW vs hash partitions"),
    # Not quick: it scores the whole GoEmotions dev split five times whatever --n says (minutes).
    Bench("encoder", "encoder.py", None, ["--n", "300"], "embedding and tagging, fp32 vs int8"),
    Bench("router", "router.py", ["--rounds", "1"], ["--rounds", "5"], "router overhead, TTFT, decode speed"),
    Bench("analytics_1m", "retention.py", ["--users", "20000", "--events-per-user", "50", "--repeat", "1"],
          ["--users", "20000", "--events-per-user", "50", "--repeat", "3"], "Day-7 retention on 1M events"),
    Bench("analytics_10m", "retention.py", None, ["--users", "200000", "--events-per-user", "50", "--repeat", "3"],
          "Day-7 retention on 10M events vs DuckDB and pandas"),
    Bench("experiments", "experiments.py", ["--users", "100"], ["--users", "300"], "experiment assignment cost"),
    Bench("emotional_recall", "emotional_recall.py", None, ["--queries", "300"],  # encodes all of GoEmotions dev
          "emotionally congruent recall per policy"),
    Bench("load", "load.py", None, ["--users", "20", "--duration", "30"], "concurrent chat users through the service"),
    Bench("service_memory", "service_memory.py", ["--turns", "5"], ["--turns", "30"], "the service's resident memory"),
    Bench("simulation", "simulation.py", ["--users", "1000", "--days", "10", "--baseline-sessions", "50"], [],
          "simulate 10k users x 30 days through the real store (target 120 s); rank_many vs rank"),
]


def last_json(stdout: str) -> dict:
    """A module's result: its whole stdout, else the last top-level JSON object in it."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        starts = [i for i, line in enumerate(stdout.splitlines()) if line.startswith("{")]
        lines = stdout.splitlines()
        for start in reversed(starts):
            try:
                return json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON document in the output")


def run_one(bench: Bench, args: list[str], timeout_s: float) -> tuple[dict, float]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / bench.script), *args], capture_output=True, text=True, timeout=timeout_s,
            cwd=HERE.parent,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": f"exit code {proc.returncode}", "stderr": proc.stderr[-2000:]}, elapsed
    try:
        return last_json(proc.stdout), elapsed
    except ValueError as exc:
        return {"error": str(exc), "stdout": proc.stdout[-2000:]}, elapsed


def run_suite(quick: bool = False, only: list[str] | None = None, log=None) -> dict:
    known = {b.name for b in SUITE}
    unknown = set(only or ()) - known
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; known: {sorted(known)}")
    started = datetime.now(UTC)
    out: dict = {
        "command": "memory-service bench" + (" --quick" if quick else "") + " --json",
        "quick": quick,
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_before": [round(x, 2) for x in os.getloadavg()]},
        "results": {}, "seconds": {}, "covers": {}, "skipped": [],
    }
    for bench in SUITE:
        args = bench.quick if quick else bench.full
        if (only and bench.name not in only) or args is None:
            out["skipped"].append(bench.name)
            continue
        if not (HERE / bench.script).is_file():
            out["results"][bench.name] = {"error": f"benchmarks/{bench.script} is missing"}
            continue
        if log:
            log(f"running {bench.name} ({bench.script} {' '.join(args)})")
        result, elapsed = run_one(bench, args, timeout_s=600 if quick else 1800)
        out["results"][bench.name] = result
        out["seconds"][bench.name] = round(elapsed, 1)
        out["covers"][bench.name] = bench.covers
        if log:
            log(f"  {bench.name}: {'failed: ' + result['error'] if 'error' in result else 'ok'} in {elapsed:.0f} s")
    out["machine"]["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    out["total_seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    out["failed"] = sorted(name for name, r in out["results"].items() if "error" in r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small scales, under 3 minutes")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s] or None
    result = run_suite(args.quick, only, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()

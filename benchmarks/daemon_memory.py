"""Steady daemon memory: RSS of `driftwatch run` on the demo store over 500 scheduled runs.

The daemon runs as its own process exactly as `make run` starts it (demo config,
the all-MiniLM-L6-v2 ONNX embedder loaded), with the probe interval shortened
from 1 minute to 10 seconds so 500 check runs take ~15 minutes instead of hours;
the daemon is still idle most of the time, as it is in production. Memory is read
from /proc every second next to the run counter from /metrics, for the daemon
process alone and for its whole process tree (the daemon plus its children: the
embedded-Chroma worker process, stores/isolated.py). The tree is the honest
number: RSS summed over the processes (pages shared between them, such as the
interpreter's own, counted once per process) and, next to it, PSS (shared pages
split between the processes that map them).

Targets: the tree's median RSS <= 250 MB; no growth over 500 scheduled runs (the
slope over the second half of the runs, MB per 100 runs, stays within noise).
Reported: median, 95th percentile and peak, for the daemon and for the tree.

    python -m benchmarks.daemon_memory [--runs 500] [--optimize-for default|speed|memory]
                                       [--malloc-arena-max N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from rich.console import Console

from benchmarks.common import WORK_DIR, write_results
from driftwatch import demo
from driftwatch.config import load_config

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "demo" / "driftwatch.yaml"


def prepare(work: Path, port: int, optimize_for: str) -> Path:
    """The demo config with its state under `work` and a fast schedule."""
    config: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    config["state_url"] = f"sqlite:///{work}/driftwatch.db"
    config["listen"] = f"127.0.0.1:{port}"
    config["embedders"]["live"]["model"] = "all-MiniLM-L6-v2"
    if optimize_for != "default":
        config["embedders"]["live"]["optimize_for"] = optimize_for
    config["stores"]["demo"]["path"] = str(work / "chroma")
    config["collections"][0]["schedule"] = {"probe": "10s", "version_mix": "10s", "jitter": "1s"}
    path = work / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def pss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Pss")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def tree_mb(pid: int) -> tuple[float, float]:
    """(RSS summed, PSS summed) over the tree; a process that just exited counts 0."""
    rss = pss = 0.0
    for member in tree(pid):
        try:
            rss, pss = rss + rss_mb(member), pss + pss_mb(member)
        except (OSError, RuntimeError):
            continue
    return rss, pss


def total_runs(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("driftwatch_check_runs_total{")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--port", type=int, default=19464)
    parser.add_argument(
        "--optimize-for",
        choices=("default", "speed", "memory"),
        default="default",
        help="the embedder's optimize_for (default: left unset, as a user's config would)",
    )
    parser.add_argument(
        "--malloc-arena-max", type=int, default=0, help="set MALLOC_ARENA_MAX for the daemon"
    )
    args = parser.parse_args()

    name = f"daemon_memory_{args.optimize_for}" + (
        f"_arena{args.malloc_arena_max}" if args.malloc_arena_max else ""
    )
    work = WORK_DIR / name
    if work.exists():
        for stale in work.glob("driftwatch.db*"):
            stale.unlink()
    work.mkdir(parents=True, exist_ok=True)
    path = prepare(work, args.port, args.optimize_for)
    demo.seed(load_config(path, env={}), Console(stderr=True))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftwatch.cli",
            "--log-format",
            "json",
            "--log-level",
            "WARNING",
            "run",
            "--config",
            str(path),
        ],
        env={**os.environ}
        | ({"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else {}),
    )
    samples: list[tuple[float, float, float, float, float]] = []  # (s, runs, rss, tree rss, pss)
    started = time.monotonic()
    try:
        while True:
            time.sleep(1.0)
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited with {proc.returncode}")
            try:
                runs = total_runs(args.port)
            except httpx.HTTPError:
                continue
            samples.append((time.monotonic() - started, runs, rss_mb(proc.pid), *tree_mb(proc.pid)))
            if runs >= args.runs:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    runs_arr = np.array([s[1] for s in samples])
    steady_rows = runs_arr >= min(50, args.runs // 5)
    half = runs_arr >= args.runs / 2

    def stats(column: int) -> dict[str, float]:
        values = np.array([s[column] for s in samples])
        steady = values[steady_rows]
        slope = (
            float(np.polyfit(runs_arr[half], values[half], 1)[0]) * 100 if half.sum() > 2 else 0.0
        )
        return {
            "median": round(float(np.median(steady)), 1),
            "p95": round(float(np.percentile(steady, 95)), 1),
            "peak": round(float(steady.max()), 1),
            "at_first_sample": round(float(values[0]), 1),
            "at_end": round(float(values[-1]), 1),
            "growth_per_100_runs_second_half": round(slope, 2),
        }

    result = {
        "optimize_for": args.optimize_for,
        "malloc_arena_max": args.malloc_arena_max or None,
        "runs": int(runs_arr[-1]),
        "seconds": round(samples[-1][0], 1),
        "daemon_rss_mb": stats(2),
        "tree_rss_mb": stats(3),
        "tree_pss_mb": stats(4),
        "target_rss_mb": 250,
        "samples": [
            [round(t, 1), r, round(m, 1), round(tr, 1), round(tp, 1)]
            for t, r, m, tr, tp in samples[:: max(1, len(samples) // 60)]
        ],
    }
    write_results(name, result)


if __name__ == "__main__":
    main()

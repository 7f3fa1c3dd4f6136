"""Steady daemon memory: RSS of `driftwatch run` on the demo store over 500 scheduled runs.

The daemon runs as its own process exactly as `make run` starts it (demo config,
the all-MiniLM-L6-v2 ONNX embedder loaded), with the probe interval shortened
from 1 minute to 10 seconds so 500 check runs take ~15 minutes instead of hours;
the daemon is still idle most of the time, as it is in production. RSS is read
from /proc every second next to the run counter from /metrics.

Targets: steady RSS <= 250 MB; no growth over 500 scheduled runs (the slope of
RSS over the second half of the runs, MB per 100 runs, stays within noise).
Reported: the floor between probes (10th percentile of the samples), the
median (probes run much of the time at this schedule), the 95th percentile and
the peak during a probe.

    python -m benchmarks.daemon_memory [--runs 500] [--optimize-for speed|memory]
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
    parser.add_argument("--optimize-for", choices=("speed", "memory"), default="speed")
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
    samples: list[tuple[float, float, float]] = []  # (seconds, runs, rss MB)
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
            samples.append((time.monotonic() - started, runs, rss_mb(proc.pid)))
            if runs >= args.runs:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    runs_arr = np.array([s[1] for s in samples])
    rss_arr = np.array([s[2] for s in samples])
    steady = rss_arr[runs_arr >= min(50, args.runs // 5)]
    half = runs_arr >= args.runs / 2
    slope = float(np.polyfit(runs_arr[half], rss_arr[half], 1)[0]) * 100 if half.sum() > 2 else 0.0
    result = {
        "optimize_for": args.optimize_for,
        "malloc_arena_max": args.malloc_arena_max or None,
        "runs": int(runs_arr[-1]),
        "seconds": round(samples[-1][0], 1),
        # Between probes the daemon idles; the 10th percentile is that floor.
        "rss_mb_between_probes_p10": round(float(np.percentile(steady, 10)), 1),
        "rss_mb_steady_median": round(float(np.median(steady)), 1),
        "rss_mb_p95": round(float(np.percentile(steady, 95)), 1),
        "rss_mb_peak": round(float(steady.max()), 1),
        "rss_mb_at_first_sample": round(float(rss_arr[0]), 1),
        "rss_mb_at_end": round(float(rss_arr[-1]), 1),
        "rss_growth_mb_per_100_runs_second_half": round(slope, 2),
        "target_rss_mb": 250,
        "samples": [
            [round(t, 1), r, round(m, 1)] for t, r, m in samples[:: max(1, len(samples) // 60)]
        ],
    }
    write_results(name, result)


if __name__ == "__main__":
    main()

"""Small helpers every benchmark script shares: timing, memory, results files.

A benchmark script measures, prints one JSON document and writes the same
document to ``benchmarks/results/<name>.json``. Ratios are measured against a
baseline timed in the same run (alternating repetitions), never against a
number recorded on another machine or day.

Typical use::

    from benchmarks.common import peak_rss_mb, time_call, write_results

    raw, _ = time_call(lambda: scan_raw(coll))
    ours, _ = time_call(lambda: scan_ours(coll))
    write_results("my_bench", {"raw": raw.as_dict(), "peak_rss_mb": peak_rss_mb()})

Run scripts as modules from the repository root (``python -m benchmarks.<name>``)
so that ``benchmarks.common`` and ``driftwatch`` import.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# Cached inputs (built collections, corpora); never committed.
WORK_DIR = BENCH_DIR / ".work"

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU (user+system, this process) seconds of one call."""

    wall_s: float
    cpu_s: float

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": round(self.wall_s, 6), "cpu_s": round(self.cpu_s, 6)}


def time_call(fn: Callable[[], T]) -> tuple[Timing, T]:
    """Run ``fn`` once; return its timing and its result."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return Timing(wall_s=wall, cpu_s=cpu), result


def best(timings: list[Timing]) -> Timing:
    """The fastest repetition (least disturbed by other load on the machine)."""
    return min(timings, key=lambda t: t.wall_s)


def median_wall(timings: list[Timing]) -> float:
    walls = sorted(t.wall_s for t in timings)
    mid = len(walls) // 2
    return walls[mid] if len(walls) % 2 else (walls[mid - 1] + walls[mid]) / 2


def probe_store_timings(handle: Any, rng: Any, queries: Any, reps: int) -> dict[str, Any]:
    """Best and median seconds of ``reps`` runs each of a store handle's probe
    calls: count, sample(300), top-10 queries, and one probe's store work
    (count + dimension + sample(300) + the queries)."""

    def probe() -> None:
        handle.count()
        handle.dimension()
        handle.sample(300, rng)
        handle.query(queries, 10)

    out: dict[str, Any] = {}
    for label, fn in (
        ("count", handle.count),
        ("sample_300", lambda: handle.sample(300, rng)),
        (f"queries_{len(queries)}", lambda: handle.query(queries, 10)),
        ("probe_store_work", probe),
    ):
        t = [time_call(fn)[0] for _ in range(reps)]
        out[label] = {"best_s": round(best(t).wall_s, 4), "median_s": round(median_wall(t), 4)}
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size in MiB, from /proc (Linux); peak if unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def environment() -> dict[str, Any]:
    """Where the numbers were measured, recorded next to them."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, results: Mapping[str, Any]) -> Path:
    """Print ``results`` (plus the environment) as JSON and write results/<name>.json."""
    doc = {"benchmark": name, **results, "environment": environment()}
    text = json.dumps(doc, indent=2, sort_keys=False)
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{name}.json"
    out.write_text(text + "\n", encoding="utf-8")
    return out

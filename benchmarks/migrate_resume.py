"""What a SIGKILL costs a migration: the extra time of kill + resume over one run.

Blue: N distinct CPython-docs paragraphs in an embedded Chroma collection;
candidate: paraphrase-MiniLM-L3-v2 (ONNX). Three `driftwatch migrate run`
processes, each into its own fresh green:

1. uninterrupted: its wall time is the baseline (T);
2. killed with SIGKILL at T/2, then
3. run again: it diffs blue against green and embeds what is missing.

Reported: T, the killed run's and the resume's wall times, the extra seconds
((killed + resume) - T, i.e. process start, model load, the diff and the
batches in flight lost to the kill) and how many records the resume embedded.

    python -m benchmarks.migrate_resume               # N=3000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_results
from benchmarks.migrate_run import build_blue, texts, write_config


def config(tmp: Path, target: str) -> Path:
    return write_config(tmp, target, batch_size=64)


def command(path: Path) -> list[str]:
    return [sys.executable, "-m", "driftwatch.cli", "migrate", "run", "--json", "-c", str(path)]


def timed_run(path: Path) -> tuple[float, dict[str, object]]:
    t0 = time.perf_counter()
    done = subprocess.run(command(path), capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent / ".work") as tmp_dir:
        tmp = Path(tmp_dir)
        build_blue(tmp / "chroma", texts(args.records))
        full_s, full = timed_run(config(tmp, "green_full"))
        path = config(tmp, "green_killed")
        t0 = time.perf_counter()
        proc = subprocess.Popen(command(path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full_s / 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_s = time.perf_counter() - t0
        resume_s, resumed = timed_run(path)
    write_results(
        "migrate_resume",
        {
            "records": args.records,
            "uninterrupted_s": round(full_s, 1),
            "killed_after_s": round(killed_s, 1),
            "resume_s": round(resume_s, 1),
            "extra_s": round(killed_s + resume_s - full_s, 1),
            "extra_ratio": round((killed_s + resume_s) / full_s, 3),
            "resume_embedded": resumed["embedded"],
            "complete": resumed["complete"] and full["complete"],
        },
    )


if __name__ == "__main__":
    main()

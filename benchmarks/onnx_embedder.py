"""Speed and memory of the local ONNX embedder by batch size, threads and memory arena.

Each setting runs in its own child process (so memory is measured cleanly),
one at a time, in interleaved rounds so machine load hits all settings alike.
A child loads all-MiniLM-L6-v2, warms up on 8 texts, embeds the first 300
real corpus paragraphs (examples/corpus) and reports wall and CPU seconds and
how much its resident memory grew and stayed grown. Reported: the best wall
time per setting and its ratio to the old defaults (threads=1, batch_size=32,
arena on), measured in the same run. The defaults in config.py's
OnnxEmbedderConfig and OnnxModel's ``memory_arena`` come from this run.

    python -m benchmarks.onnx_embedder         # BENCH_REPEATS=3 for more rounds
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks.common import current_rss_mb, peak_rss_mb, write_results

TEXTS = 300
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
# (threads, batch_size, memory arena); the first is the baseline (the old defaults).
SETTINGS = [
    (1, 32, True),
    (1, 32, False),
    (1, 16, False),
    (1, 8, True),
    (1, 8, False),
    (2, 16, False),
    (2, 8, False),
]


def child(threads: int, batch_size: int, arena: bool) -> None:
    """Measure one setting in this process; print one JSON line."""
    from driftwatch.embedders.onnx import OnnxEmbedder, OnnxModel, OnnxModelKey
    from tests.support.models import MINILM, corpus, onnx_config

    texts = [row["text"] for row in corpus()[:TEXTS]]
    cfg = onnx_config(MINILM, threads=threads, batch_size=batch_size)
    embedder = OnnxEmbedder(
        cfg, shared=OnnxModel(OnnxModelKey.from_config(cfg), memory_arena=arena)
    )
    embedder.embed(texts[:8])
    loaded_mb = current_rss_mb()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    embedder.embed(texts)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    result = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rss_growth_mb": round(peak_rss_mb() - loaded_mb, 1),
        "rss_kept_mb": round(current_rss_mb() - loaded_mb, 1),
    }
    print(json.dumps(result))


def _run(setting: tuple[int, int, bool]) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.onnx_embedder", *map(str, setting)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    runs: dict[tuple[int, int, bool], list[dict[str, float]]] = {s: [] for s in SETTINGS}
    for _ in range(REPEATS):
        for setting in SETTINGS:
            runs[setting].append(_run(setting))
    bests = {s: min(r, key=lambda x: x["wall_s"]) for s, r in runs.items()}
    base = bests[SETTINGS[0]]["wall_s"]
    rows = [
        {
            "threads": s[0],
            "batch_size": s[1],
            "memory_arena": s[2],
            **bests[s],
            "texts_per_s": round(TEXTS / bests[s]["wall_s"], 1),
            "ratio_to_baseline": round(bests[s]["wall_s"] / base, 3),
            "max_rss_kept_mb": max(r["rss_kept_mb"] for r in runs[s]),
        }
        for s in SETTINGS
    ]
    write_results(
        "onnx_embedder",
        {"model": "all-MiniLM-L6-v2", "texts": TEXTS, "repeats": REPEATS, "settings": rows},
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        child(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "True")
    else:
        main()

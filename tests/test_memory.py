from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from driftwatch.memory import release_free_memory


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_freed_heap_memory_goes_back_to_the_os() -> None:
    # Many small blocks land in malloc's heap (not mmap), which free() keeps.
    blocks = [bytearray(1024) for _ in range(200_000)]
    del blocks[: len(blocks) - 1]
    before = rss_kib()
    assert release_free_memory() is True  # this machine runs glibc
    assert rss_kib() < before - 50_000


def test_arenas_are_capped_in_a_fresh_process_unless_the_operator_chose() -> None:
    code = "from driftwatch.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    answers = [
        subprocess.run(
            [sys.executable, "-c", code], env=extra, capture_output=True, text=True, check=True
        ).stdout.strip()
        for extra in (env, env | {"MALLOC_ARENA_MAX": "4"})
    ]
    assert answers == ["True", "False"]

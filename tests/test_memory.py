from __future__ import annotations

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

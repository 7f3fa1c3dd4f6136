"""A Chroma server collection's ids kept on disk (driftwatch.stores.chroma_id_cache):
read back whole by a new process, written only when worth it, pruned when unused,
and never in the way: a cache that cannot be read or written costs time only."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from driftwatch.stores.chroma_id_cache import IdCache
from driftwatch.stores.chroma_ids import IdSnapshot

SERVER = ("chroma server http://127.0.0.1:8000", "default_tenant", "default_database")
IDS = [f"doc-{i}" for i in range(5_000)] + ["ü-unicode", "with space"]


def snapshot_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.npz"))


def test_a_new_process_reads_back_the_snapshot_it_was_left(tmp_path: Path) -> None:
    kept = IdSnapshot.of(IDS)
    IdCache(tmp_path, SERVER).keep("coll-1", kept)
    (written,) = snapshot_files(tmp_path)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600  # ids are the user's data

    restored = IdCache(tmp_path, SERVER).load("coll-1")
    assert restored is not None
    assert [restored.id_at(i) for i in range(len(restored))] == IDS
    assert restored.origin == kept.origin
    assert restored.unknown(["doc-7", "ü-unicode", "new"]) == ["new"]
    # Another collection, or the same id on another server, has no file.
    assert IdCache(tmp_path, SERVER).load("coll-2") is None
    other_server = ("chroma server http://other:8000", *SERVER[1:])
    assert IdCache(tmp_path, other_server).load("coll-1") is None


def test_a_file_is_rewritten_after_a_listing_anew_or_enough_growth(tmp_path: Path) -> None:
    cache = IdCache(tmp_path, SERVER)
    first = IdSnapshot.of(IDS)
    cache.keep("c", first)
    grown_a_little = first.extended([f"new-{i}" for i in range(100)])
    cache.keep("c", grown_a_little)
    assert len(IdCache(tmp_path, SERVER).load("c") or []) == len(IDS)  # not worth a write

    grown_a_lot = grown_a_little.extended([f"more-{i}" for i in range(20_000)])
    cache.keep("c", grown_a_lot)
    assert len(IdCache(tmp_path, SERVER).load("c") or []) == len(grown_a_lot)

    listed_anew = IdSnapshot.of(IDS[:10])  # smaller, and another listing
    cache.keep("c", listed_anew)
    reread = IdCache(tmp_path, SERVER).load("c")
    assert reread is not None and reread.origin == listed_anew.origin and len(reread) == 10


def test_a_file_that_cannot_be_read_is_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = IdCache(tmp_path, SERVER)
    cache.keep("c", IdSnapshot.of(IDS))
    (written,) = snapshot_files(tmp_path)
    written.write_bytes(written.read_bytes()[:1000])  # torn
    with caplog.at_level(logging.WARNING):
        assert IdCache(tmp_path, SERVER).load("c") is None
    (warning,) = caplog.records
    assert "chroma id cache" in warning.getMessage() and str(written) in warning.getMessage()

    # Ends that do not divide the ids are refused, not trusted.
    with pytest.raises(ValueError, match="ends"):
        IdSnapshot.restored(b"abcdef", np.array([2, 1, 6]), 0, "x")


def test_a_cache_that_cannot_be_written_costs_nothing_but_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    cache = IdCache(not_a_directory / "chroma-ids", SERVER)
    with caplog.at_level(logging.WARNING):
        for size in (10, 20, 30):  # listed anew each time: each would be written
            cache.keep("c", IdSnapshot.of(IDS[:size]))
    (warning,) = caplog.records  # once per store, not once per sample
    assert "samples list ids from the server instead" in warning.getMessage()
    assert cache.load("c") is None


def test_files_unused_for_a_month_and_stale_temporary_files_are_pruned(tmp_path: Path) -> None:
    now = time.time()
    cache = IdCache(tmp_path, SERVER, clock=lambda: now)
    month_ago = now - 31 * 86400
    files = {}
    for collection in ("unused", "read lately", "written lately"):
        cache.keep(collection, IdSnapshot.of(IDS[:5]))
        (files[collection],) = set(snapshot_files(tmp_path)) - set(files.values())
    for path in files.values():
        os.utime(path, (month_ago, month_ago))
    os.utime(files["written lately"], (now - 29 * 86400, now - 29 * 86400))
    assert IdCache(tmp_path, SERVER).load("read lately") is not None  # a read counts as use
    left_by_a_kill, being_written = tmp_path / "a.tmp", tmp_path / "b.tmp"
    for path in (left_by_a_kill, being_written):
        path.write_bytes(b"partial")
    os.utime(left_by_a_kill, (now - 2 * 3600, now - 2 * 3600))
    cannot_be_removed = tmp_path / "stray.npz"  # a directory: its unlink fails
    cannot_be_removed.mkdir()
    os.utime(cannot_be_removed, (month_ago, month_ago))

    cache.keep("new", IdSnapshot.of(IDS[:5]))
    assert not files["unused"].exists() and not left_by_a_kill.exists()
    assert files["read lately"].exists() and files["written lately"].exists()
    assert being_written.exists() and cannot_be_removed.exists()
    assert IdCache(tmp_path, SERVER).load("new") is not None  # written all the same

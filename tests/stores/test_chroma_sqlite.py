"""The read-only SQLite view of an embedded Chroma collection, against real Chroma files.

Every answer is compared with what Chroma's own API returns for the same
records: the view must read exactly what Chroma would, only without walking.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftwatch.checks.base import metadata_tag
from driftwatch.stores import chroma_sqlite
from driftwatch.stores.chroma_sqlite import ChromaSqlite
from tests.support.chroma_server import EmbeddedChroma, fill_collection


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


def _view(chroma: EmbeddedChroma, name: str) -> tuple[ChromaSqlite, Any, Any]:
    client = chroma.client()
    coll = client.get_collection(name, embedding_function=None)
    view = ChromaSqlite.open(chroma.path, str(coll.id))
    assert view is not None
    return view, coll, client


def test_records_decode_as_chromas_get(tmp_path: Path) -> None:
    chroma = EmbeddedChroma(tmp_path / "chroma")
    metadatas: list[dict[str, Any] | None] = [
        None,
        {"s": "x", "i": 3, "f": 2.5, "whole": 2.0, "b": True, "no": False},
        {"l": [1, 2, 3], "ls": ["a", "b"], "embedding_model": "m"},
        {"embedding_model": "", "embedding_version": 0},
    ]
    client = chroma.client()
    coll = fill_collection(client, "decode", _vectors(4), metadatas=metadatas)
    coll.add(ids=["no-text"], embeddings=_vectors(1, 1), metadatas=[{"k": "v"}])
    client.close()
    view, coll, client = _view(chroma, "decode")
    try:
        records = [r for page in view.record_pages(2) for r in page]
        got = coll.get(include=["metadatas", "documents"])
    finally:
        client.close()
        view.close()

    expected = {
        rid: (meta, doc)
        for rid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }
    assert [len(page) for page in [records[:2], records[2:4], records[4:]]] == [2, 2, 1]
    assert {rid: (meta, doc) for rid, meta, doc in records} == expected


def test_sample_is_uniform_with_deleted_records_and_other_collections(tmp_path: Path) -> None:
    """Keys with gaps (deletions) and another collection's rows in between: each
    record is still equally likely (chi-square over 10 buckets), in both the
    random-key and the listing branch."""
    chroma = EmbeddedChroma(tmp_path / "chroma")
    client = chroma.client()
    a = client.create_collection("aaa", embedding_function=None)
    b = client.create_collection("bbb", embedding_function=None)
    for start in range(0, 1000, 100):  # interleaved: a's keys are not contiguous
        a.add(ids=[f"a-{i}" for i in range(start, start + 100)], embeddings=_vectors(100, start))
        b.add(ids=[f"b-{i}" for i in range(start, start + 20)], embeddings=_vectors(20, start))
    a.delete(ids=[f"a-{i}" for i in range(0, 1000, 3)])  # a third gone
    kept = [i for i in range(1000) if i % 3]
    client.close()
    view, _, client = _view(chroma, "aaa")
    rng = np.random.default_rng(3)
    try:
        assert view.count() == len(kept)
        seen: Counter[int] = Counter()
        for _ in range(80):
            ids = view.sample_ids(40, rng)
            assert len(set(ids)) == 40 and all(i.startswith("a-") for i in ids)
            seen.update(kept.index(int(i[2:])) * 10 // len(kept) for i in ids)
        everything = view.sample_ids(5000, rng)
    finally:
        client.close()
        view.close()
    assert sorted(everything) == sorted(f"a-{i}" for i in kept)
    assert stats.chisquare([seen[b] for b in range(10)]).pvalue > 0.001, seen


def _tag_counts_and_scan(
    chroma: EmbeddedChroma, name: str, metadatas: list[dict[str, Any] | None]
) -> tuple[dict[Any, int] | None, dict[Any, int]]:
    """Collection ``name`` of these metadatas: tag_counts, and the counts a scan makes."""
    client = chroma.client()
    fill_collection(client, name, _vectors(len(metadatas)), metadatas=metadatas)
    client.close()
    view, _, client = _view(chroma, name)
    try:
        native = view.tag_counts("embedding_model", "embedding_version")
    finally:
        client.close()
        view.close()
    scan = Counter(
        (metadata_tag(m, "embedding_model"), metadata_tag(m, "embedding_version"))
        for m in metadatas
    )
    return native, dict(scan)


def test_tag_counts_equal_counting_the_scan(tmp_path: Path) -> None:
    chroma = EmbeddedChroma(tmp_path / "chroma")
    metadatas: list[dict[str, Any] | None] = []
    for i in range(300):
        if i % 7 == 0:
            metadatas.append(None)
        elif i % 5 == 0:
            metadatas.append({"embedding_model": "m", "embedding_version": 2.0})
        else:
            metadatas.append({"embedding_model": f"m{i % 3}", "embedding_version": i % 2 == 0})
    native, expected = _tag_counts_and_scan(chroma, "tags", metadatas)
    assert native == expected


@pytest.mark.parametrize(
    "late_version", ["2", 2, True], ids=["strings-only", "int-somewhere", "bool-in-one-range"]
)
def test_tag_counts_by_strings_count_typed_values_where_there_are_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late_version: object
) -> None:
    """Strings are grouped by the strings alone; an int tag anywhere is counted by
    type everywhere (and "2" and 2 add up, as in a scan); a key range holding a
    bool tag is counted again by type."""
    monkeypatch.setattr(chroma_sqlite, "_KEY_RANGE", 100)
    chroma = EmbeddedChroma(tmp_path / "chroma")
    metadatas: list[dict[str, Any] | None] = [
        {"embedding_model": f"m{i % 2}", "embedding_version": "2"}
        if i < 200
        else {"embedding_model": "m0", "embedding_version": late_version}
        for i in range(300)
    ]
    metadatas[5] = {"other": "x"}
    native, expected = _tag_counts_and_scan(chroma, "ranges", metadatas)
    assert native == expected and native is not None
    assert native[("m0", "2")] == (100 if late_version is True else 200)


def test_list_values_leave_tags_to_the_scan(tmp_path: Path) -> None:
    chroma = EmbeddedChroma(tmp_path / "chroma")
    client = chroma.client()
    fill_collection(client, "lists", _vectors(2), metadatas=[{"embedding_model": ["a", "b"]}, None])
    client.close()
    view, _, client = _view(chroma, "lists")
    try:
        assert view.tag_counts("embedding_model", "embedding_version") is None
    finally:
        client.close()
        view.close()


def test_a_file_without_chromas_tables_is_not_read(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "chroma.sqlite3")
    conn.execute("CREATE TABLE embeddings (id INTEGER PRIMARY KEY, other TEXT)")
    conn.commit()
    conn.close()

    assert ChromaSqlite.open(tmp_path, "any-collection") is None

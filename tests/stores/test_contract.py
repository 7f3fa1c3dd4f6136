"""The store contract (driftwatch/stores/base.py): the same assertions for every adapter.

Parametrised over ``ADAPTERS`` in conftest.py (Chroma embedded, Chroma server,
pgvector, Qdrant local mode); data is written with each store's own client, as
the application would, and read back through driftwatch's adapter.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftwatch.checks.base import metadata_tag
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import (
    CollectionHandle,
    Distance,
    RecordReader,
    StoredRecord,
    WritableCollection,
    WritableStore,
    text_hash,
)
from tests.support.store_under_test import SECRET, StoreUnderTest, unique_name

DIM = 24
MODEL_KEY, VERSION_KEY = "embedding_model", "embedding_version"


def _vectors(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _mixed_records(n: int) -> tuple[list[str | None], list[dict[str, object] | None]]:
    """Texts and metadata with gaps: every 3rd record has no text, every 5th no
    metadata at all, every 7th metadata without the model tag."""
    docs: list[str | None] = [None if i % 3 == 0 else f"record {i} text ü" for i in range(n)]
    metas: list[dict[str, object] | None] = []
    for i in range(n):
        if i % 5 == 0:
            metas.append(None)
        elif i % 7 == 0:
            metas.append({"source": f"s{i}"})
        else:
            metas.append({MODEL_KEY: "m-a" if i % 4 else "m-b", VERSION_KEY: 1 + i % 2})
    return docs, metas


def _all_metadata(handle: CollectionHandle, page_size: int | None = None) -> list[object]:
    return [m for page in handle.iter_metadata(page_size=page_size) for m in page]


def test_count_and_dimension(store_under_test: StoreUnderTest) -> None:
    store, handle = store_under_test.collection(_vectors(137, 1))
    try:
        assert handle.count() == 137
        assert handle.dimension() == DIM
        assert handle.distance() == "cosine"
    finally:
        store.close()


@pytest.mark.parametrize("distance", ["cosine", "l2", "ip"])
def test_similarity_matches_numpy(store_under_test: StoreUnderTest, distance: Distance) -> None:
    """Cosine-like similarity per distance: cos; 1 - |q - x|^2 / 2; q . x."""
    stored = _vectors(300, 2)
    queries = np.vstack([stored[:3], _vectors(5, 3)])
    store, handle = store_under_test.collection(stored, distance=distance)
    try:
        assert handle.distance() == distance
        hits = handle.query(queries, k=10)
    finally:
        store.close()
    if distance == "cosine":
        unit = stored / np.linalg.norm(stored, axis=1, keepdims=True)
        expected = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.T
    elif distance == "l2":
        expected = 1.0 - ((queries[:, None, :] - stored[None, :, :]) ** 2).sum(-1) / 2.0
    else:
        expected = queries @ stored.T
    assert len(hits) == len(queries)
    for qi, hit in enumerate(hits):
        assert len(hit.ids) == 10
        rows = [int(i.split("-")[1]) for i in hit.ids]
        np.testing.assert_allclose(hit.similarities, expected[qi, rows], rtol=1e-4, atol=1e-4)
        assert hit.similarities == sorted(hit.similarities, reverse=True)
        exact = set(np.argsort(-expected[qi])[:10].tolist())
        assert len(exact & set(rows)) >= 9  # an ANN index may miss one of ten
    for qi in range(3):  # a stored vector finds itself first
        assert hits[qi].ids[0] == f"doc-{qi}"


def test_sample_is_uniform(store_under_test: StoreUnderTest) -> None:
    """Many samples of 50 out of 1000: the ids fall evenly into 10 buckets of
    insertion order (chi-square), and each sample is n distinct records."""
    n_records, n, draws, buckets = 1000, 50, 60, 10
    vectors = _vectors(n_records, 4)
    store, handle = store_under_test.collection(vectors)
    rng = np.random.default_rng(5)
    try:
        seen: Counter[int] = Counter()
        for _ in range(draws):
            sample = handle.sample(n, rng)
            ids = [r.id for r in sample]
            assert len(ids) == n and len(set(ids)) == n
            for rec in sample[:3]:
                row = int(rec.id.split("-")[1])
                assert rec.embedding is not None
                np.testing.assert_allclose(rec.embedding, vectors[row], rtol=1e-6)
            seen.update(int(i.split("-")[1]) * buckets // n_records for i in ids)
        everything = handle.sample(n_records + 10, rng)
        assert sorted(r.id for r in everything) == sorted(f"doc-{i}" for i in range(n_records))
    finally:
        store.close()
    observed = [seen[b] for b in range(buckets)]
    assert stats.chisquare(observed).pvalue > 0.001, observed


def _streaming_and_holding_peaks(
    store_under_test: StoreUnderTest, n: int, page_size: int
) -> tuple[int, int]:
    """Traced peak bytes while streaming the metadata of n records page by page,
    and while holding all of them (measured on the same collection)."""
    metas = [{MODEL_KEY: "m", VERSION_KEY: "1", "source": f"f{i:06d}.md" * 150} for i in range(n)]
    store, handle = store_under_test.collection(_vectors(n, 6, dim=4), metadatas=metas)
    try:
        next(iter(handle.iter_metadata(page_size=page_size)))  # connections, caches, imports
        gc.collect()
        tracemalloc.start()
        try:
            streamed = 0
            for page in handle.iter_metadata(page_size=page_size):
                assert len(page) <= page_size
                streamed += len(page)
            _, streaming_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            held = _all_metadata(handle, page_size=page_size)
            _, holding_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        store.close()
    assert streamed == n and len(held) == n
    assert sorted(m["source"] for m in held) == sorted(m["source"] for m in metas)  # type: ignore[index]
    return streaming_peak, holding_peak


def test_paging_keeps_memory_bounded(
    store_under_test: StoreUnderTest, request: pytest.FixtureRequest
) -> None:
    """Streaming costs O(page), not O(N): doubling the records grows the
    streaming peak by less than a quarter of what holding them all grows by."""
    # Two client libraries fail this on their own, without driftwatch's adapter
    # in the loop (docs/stores.md). Strict: the day they stop, this test says so.
    library_limits = {
        # qdrant-client's local mode sorts every point id on each scroll call;
        # a Qdrant server pages by cursor.
        "qdrant": "qdrant-client local mode scrolls in O(N)",
        # chromadb's HttpClient alone, paging get(limit, offset) by hand, peaks at
        # 8.2 MB for 1,500 records and 10.5 MB for 3,000 (measured).
        "chroma-server": "chromadb's HTTP client peak grows with the records paged",
    }
    if store_under_test.kind in library_limits:
        reason = library_limits[store_under_test.kind]
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    page_size = 250
    small_stream, small_hold = _streaming_and_holding_peaks(store_under_test, 1500, page_size)
    large_stream, large_hold = _streaming_and_holding_peaks(store_under_test, 3000, page_size)
    held_growth = large_hold - small_hold  # what 1,500 more records cost when held
    assert held_growth > 1_000_000, (small_hold, large_hold)  # the measurement can see N
    assert large_stream - small_stream < 0.25 * held_growth, (small_stream, large_stream)


def test_unreachable_is_store_unavailable_without_credentials(
    store_under_test: StoreUnderTest,
) -> None:
    cfg, names = store_under_test.unreachable()
    store = open_store("down", cfg)
    try:
        with pytest.raises(StoreUnavailable) as info:
            store.open_collection("anything", store_under_test.options()).count()
    finally:
        store.close()
    message = str(info.value)
    assert all(name in message for name in names), message
    assert SECRET not in message and SECRET not in repr(cfg)


def test_missing_collection_is_collection_not_found(store_under_test: StoreUnderTest) -> None:
    store, _ = store_under_test.collection(_vectors(3, 7))
    missing = unique_name("missing")
    try:
        with pytest.raises(CollectionNotFound, match=missing):
            store.open_collection(missing, store_under_test.options())
    finally:
        store.close()


def test_records_without_tag_or_text(store_under_test: StoreUnderTest) -> None:
    """Gaps read back as gaps: no text -> document None and hash None; no
    metadata or no model key -> untagged in both tag_counts and the scan."""
    n = 140
    docs, metas = _mixed_records(n)
    store, handle = store_under_test.collection(_vectors(n, 8), documents=docs, metadatas=metas)
    try:
        by_id = {r.id: r for r in handle.sample(n, np.random.default_rng(9))}
        hashes = {rid: h for page in handle.iter_text_hashes(page_size=50) for rid, h in page}
        scanned = _all_metadata(handle, page_size=50)
        native = handle.tag_counts()
    finally:
        store.close()
    assert len(by_id) == n and len(hashes) == n and len(scanned) == n
    for i in range(n):
        rec = by_id[f"doc-{i}"]
        assert rec.document == docs[i]
        assert hashes[f"doc-{i}"] == text_hash(docs[i])
        assert metadata_tag(rec.metadata, MODEL_KEY) == metadata_tag(metas[i], MODEL_KEY)
        assert metadata_tag(rec.metadata, VERSION_KEY) == metadata_tag(metas[i], VERSION_KEY)
    expected = Counter((metadata_tag(m, MODEL_KEY), metadata_tag(m, VERSION_KEY)) for m in metas)
    counted = Counter(
        (metadata_tag(m, MODEL_KEY), metadata_tag(m, VERSION_KEY))  # type: ignore[arg-type]
        for m in scanned
    )
    assert counted == expected
    assert expected[(None, None)] > 0
    if native is not None:  # the store counts by itself: the same numbers
        assert dict(native) == dict(expected)


def test_records_by_id_with_or_without_vectors(store_under_test: StoreUnderTest) -> None:
    """get_records: the records that exist, whole; vectors=False (what a migration
    reads) gives the same text and metadata with no vector."""
    n = 30
    docs, metas = _mixed_records(n)
    vectors = _vectors(n, 12)
    store, handle = store_under_test.collection(vectors, documents=docs, metadatas=metas)
    wanted = [f"doc-{i}" for i in (1, 3, 5, 14, 29)] + ["no-such-id"]
    try:
        assert isinstance(handle, RecordReader)
        whole = {r.id: r for r in handle.get_records(wanted)}
        light = {r.id: r for r in handle.get_records(wanted, vectors=False)}
    finally:
        store.close()
    assert set(whole) == set(light) == set(wanted[:-1])
    for rid, rec in whole.items():
        i = int(rid.removeprefix("doc-"))
        np.testing.assert_allclose(rec.embedding, vectors[i], rtol=1e-6)  # type: ignore[arg-type]
        assert light[rid].embedding is None
        assert rec.document == light[rid].document == docs[i]
        for key in (MODEL_KEY, VERSION_KEY):
            assert metadata_tag(rec.metadata, key) == metadata_tag(metas[i], key)
            assert metadata_tag(light[rid].metadata, key) == metadata_tag(metas[i], key)


def test_write_round_trip(store_under_test: StoreUnderTest, tmp_path: object) -> None:
    """create_collection, upsert (insert, then replace), delete, reopen; an
    existing name with another dimension is refused, naming both."""
    existing, _ = store_under_test.collection(_vectors(2, 9))  # the application's store
    existing.close()
    store = open_store("sut", store_under_test.store_config())
    assert isinstance(store, WritableStore)
    name = unique_name("green")
    vectors = _vectors(40, 10)
    options = store_under_test.options()
    try:
        target = store.create_collection(name, DIM, "l2", options)
        records = [
            StoredRecord(
                id=f"doc-{i}",
                document=None if i == 0 else f"text {i}",
                embedding=vectors[i],
                metadata={MODEL_KEY: "new-model", VERSION_KEY: "2"} if i else {},
            )
            for i in range(40)
        ]
        target.upsert(records)
        target.upsert(records[:10])  # idempotent
        assert target.count() == 40
        assert target.dimension() == DIM and target.distance() == "l2"
        target.upsert(
            [StoredRecord("doc-1", "changed", vectors[1] * 2, {MODEL_KEY: "newer-model"})]
        )
        target.delete(["doc-2", "doc-3", "no-such-id"])
        reopened = store.open_writable(name, options)
        assert reopened.count() == 38
        got = {r.id: r for r in reopened.sample(100, np.random.default_rng(11))}
        assert set(got) == {f"doc-{i}" for i in range(40)} - {"doc-2", "doc-3"}
        assert got["doc-1"].document == "changed"
        assert got["doc-1"].metadata.get(MODEL_KEY) == "newer-model"
        np.testing.assert_allclose(got["doc-1"].embedding, vectors[1] * 2, rtol=1e-6)  # type: ignore[arg-type]
        assert got["doc-0"].document is None
        assert metadata_tag(got["doc-0"].metadata, MODEL_KEY) is None
        np.testing.assert_allclose(got["doc-7"].embedding, vectors[7], rtol=1e-6)  # type: ignore[arg-type]
        assert got["doc-7"].metadata.get(MODEL_KEY) == "new-model"
        hashes = dict(h for page in reopened.iter_text_hashes() for h in page)
        assert hashes["doc-1"] == text_hash("changed") and hashes["doc-0"] is None
        assert store.create_collection(name, DIM, "l2", options).count() == 38
        with pytest.raises(StoreError) as info:
            store.create_collection(name, DIM + 1, "l2", options)
        assert str(DIM) in str(info.value) and str(DIM + 1) in str(info.value)
    finally:
        store.close()


# Index settings other than each store's defaults, as index_settings() names them.
CUSTOM_INDEX: dict[str, dict[str, object]] = {
    "chroma": {
        "kind": "chroma",
        "hnsw": {"ef_construction": 50, "max_neighbors": 12, "ef_search": 40},
    },
    "pgvector": {
        "kind": "pgvector",
        "method": "hnsw",
        "options": {"m": "8", "ef_construction": "40"},
    },
    "qdrant": {"kind": "qdrant", "hnsw": {"m": 8, "ef_construct": 50}},
}


def _within(wanted: object, got: object) -> bool:
    """Every key of ``wanted`` (nested) has the same value in ``got``."""
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(_within(v, got.get(k)) for k, v in wanted.items())
    return wanted == got


def test_create_collection_builds_the_index_with_settings_of_its_kind(
    store_under_test: StoreUnderTest,
) -> None:
    """What a migration's green takes from blue: the settings given are applied
    and read back the same, copying them gives an equal index, and another
    store kind's settings are ignored (the store's defaults)."""
    kind = store_under_test.kind.split("-")[0]  # chroma-embedded, chroma-server: chroma
    existing, _ = store_under_test.collection(_vectors(2, 9))  # the application's store
    existing.close()
    store = open_store("sut", store_under_test.store_config())
    assert isinstance(store, WritableStore)
    options = store_under_test.options()
    try:

        def created(*args: Any) -> WritableCollection:
            made = store.create_collection(unique_name("c"), DIM, *args)
            made.finish_load()  # pgvector builds its index once loaded
            assert made.unfinished_load() is None
            return made

        custom = created("cosine", options, CUSTOM_INDEX[kind])
        settings = custom.index_settings()
        if kind == "qdrant":  # local mode has no index (a server's is not testable here)
            assert settings is None
            return
        assert settings is not None and _within(CUSTOM_INDEX[kind], dict(settings))
        copied = created("l2", options, settings)
        assert copied.index_settings() == settings and copied.distance() == "l2"
        default = created("cosine", options)
        foreign = next(v for k, v in CUSTOM_INDEX.items() if k != kind)
        other = created("cosine", options, foreign)
        assert other.index_settings() == default.index_settings() != settings
    finally:
        store.close()

"""migrate.write_cost: green's write rate timed on a scratch store, never the target."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig, PgvectorStoreConfig, QdrantStoreConfig
from driftwatch.migrate.write_cost import (
    GROWTH_PER_DOUBLING,
    growth,
    hnsw_growth,
    measure_write_rate,
    scratch_records,
)
from driftwatch.stores.base import StoredRecord


def records(n: int, dim: int = 64) -> list[StoredRecord]:
    rng = np.random.default_rng(7)  # not scratch_records' seed: its jitter would be these
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return [
        StoredRecord(
            id=f"r{i}",
            document=f"text number {i}",
            embedding=vectors[i],
            metadata={"embedding_model": "m", "embedding_version": "2"},
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "target",
    [
        ChromaStoreConfig(path="/nonexistent/green"),
        ChromaStoreConfig(url="http://127.0.0.1:9"),  # a server: the same core writes
        QdrantStoreConfig(kind="qdrant", path="/nonexistent/green"),
    ],
    ids=["chroma-embedded", "chroma-server", "qdrant-local"],
)
def test_an_in_process_engine_is_timed_in_a_scratch_directory_that_is_removed(
    target: ChromaStoreConfig | QdrantStoreConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rate = measure_write_rate(target, records(120), "cosine", batch_size=50, total=481)
    assert rate is not None and rate > 0
    assert list(tmp_path.iterdir()) == []  # the scratch directory is gone
    assert not Path("/nonexistent").exists()  # the target was never opened


@pytest.mark.parametrize(
    "target",
    [
        PgvectorStoreConfig(kind="pgvector", url="postgresql://app@127.0.0.1:9/db"),
        QdrantStoreConfig(kind="qdrant", url="http://127.0.0.1:9"),
    ],
    ids=["pgvector", "qdrant-server"],
)
def test_a_server_side_write_is_not_measured(
    target: PgvectorStoreConfig | QdrantStoreConfig,
) -> None:
    assert measure_write_rate(target, records(20), "cosine", batch_size=10, total=1000) is None


def test_too_few_records_are_not_timed() -> None:
    assert measure_write_rate(ChromaStoreConfig(path="/x"), records(1), "cosine", 10, 1000) is None


def test_hnsw_growth_grows_by_a_share_per_doubling_of_the_records() -> None:
    assert hnsw_growth(1025, 1025) == 1.0 and hnsw_growth(1000, 10) == 1.0
    factors = [hnsw_growth(1025, n) for n in (2_000, 10_000, 100_000, 1_000_000)]
    assert factors == sorted(factors) and factors[0] > 1.0
    # 1,024 -> 100k records: 6.6 doublings; the benchmark measured 2.13-2.29.
    assert hnsw_growth(1024, 102_400) == pytest.approx(1 + GROWTH_PER_DOUBLING * 6.644, rel=1e-3)
    assert 2.1 < hnsw_growth(1024, 100_000) < 2.3


def test_only_chroma_writes_are_scaled_for_the_index_growing() -> None:
    """Qdrant's local mode keeps vectors in arrays, without an HNSW index."""
    chroma = growth(ChromaStoreConfig(path="/x"), 1025, 100_000)
    assert chroma == hnsw_growth(1025, 100_000) > 2.0
    assert growth(QdrantStoreConfig(kind="qdrant", path="/x"), 1025, 100_000) == 1.0


def test_scratch_records_are_new_ids_with_near_identical_vectors_of_the_same_norm() -> None:
    base = records(10)
    out = scratch_records(base, 3)
    assert len(out) == 30 and len({r.id for r in out}) == 30
    assert not {r.id for r in out} & {r.id for r in base}
    for r in out:
        original = base[int(r.id.split("#")[0][1:])]
        assert original.embedding is not None and r.embedding is not None
        a, b = np.asarray(original.embedding), np.asarray(r.embedding)
        assert np.linalg.norm(b) == pytest.approx(np.linalg.norm(a), rel=1e-5)
        assert not np.array_equal(a, b)
        assert float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b)) > 0.999
        assert r.document == original.document and r.metadata == original.metadata

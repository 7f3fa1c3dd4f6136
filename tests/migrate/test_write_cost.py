"""migrate.write_cost: green's write rate timed on a scratch store, never the target."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig, PgvectorStoreConfig, QdrantStoreConfig
from driftwatch.migrate.write_cost import hnsw_growth, measure_write_rate
from driftwatch.stores.base import StoredRecord


def records(n: int, dim: int = 64) -> list[StoredRecord]:
    rng = np.random.default_rng(0)
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
    rate = measure_write_rate(target, records(120), "cosine", batch_size=50)
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
    assert measure_write_rate(target, records(20), "cosine", batch_size=10) is None


def test_too_few_records_are_not_timed() -> None:
    assert measure_write_rate(ChromaStoreConfig(path="/x"), records(1), "cosine", 10) is None


def test_hnsw_growth_scales_with_the_mean_log_of_the_index_size() -> None:
    assert hnsw_growth(255, 255) == 1.0 and hnsw_growth(1000, 10) == 1.0
    factors = [hnsw_growth(255, n) for n in (1_000, 10_000, 100_000, 1_000_000)]
    assert factors == sorted(factors) and factors[0] > 1.0
    # ~log2: 10x the records adds ~3.3 to the mean log2, relative to ~6.6 at 255.
    assert hnsw_growth(255, 100_000) == pytest.approx((16.61 - 1.443) / (7.99 - 1.443), rel=0.01)

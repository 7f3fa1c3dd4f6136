"""The version-mix check on real Chroma collections (embedded and server) and its metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from driftwatch.checks.base import UNTAGGED, CheckContext, CheckResult
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import CollectionConfig
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.stores import open_store
from tests.support.chroma_server import (
    STORE_KINDS,
    ChromaTestStore,
    chroma_test_store,
    unique_name,
)
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder

Metadata = Mapping[str, Any] | None


@pytest.fixture(params=STORE_KINDS)
def chroma_store(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaTestStore:
    return chroma_test_store(request.param, tmp_path)


def unit_vectors(n: int, dim: int = 16) -> np.ndarray:
    vectors = np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def tags(model: Any, version: Any, n: int) -> list[Metadata]:
    return [{"embedding_model": model, "embedding_version": version}] * n


def run_check(
    backend: ChromaTestStore,
    vectors: np.ndarray,
    metadatas: Sequence[Metadata],
    page_size: int = 5000,
    **collection: Any,
) -> tuple[CheckResult, CollectorRegistry, list[tuple[int, int]]]:
    """Store the records, run the check through ChromaStore, export the result."""
    name = unique_name("mix")
    backend.create_collection(name, vectors, metadatas=metadatas)
    store = open_store("test", backend.store_config(page_size=page_size))
    cfg = CollectionConfig(store="test", name=name, embedder="live", **collection)
    progress: list[tuple[int, int]] = []
    try:
        ctx = CheckContext(
            collection=cfg,
            store=store.open_collection(name, cfg.options()),  # its model/version keys
            embedder=embedder(MINILM),
            check="version_mix",
            progress=lambda done, total: progress.append((done, total)),
        )
        result = check_version_mix(ctx)
    finally:
        store.close()
    registry = CollectorRegistry()
    DriftwatchMetrics(registry).record_result(result)
    return result, registry, progress


def label_counts(metadatas: Sequence[Metadata]) -> Counter[tuple[str, str]]:
    """What each record's labels should be, computed independently of the check."""
    counts: Counter[tuple[str, str]] = Counter()
    for m in metadatas:
        model = (m or {}).get("embedding_model")
        version = (m or {}).get("embedding_version")
        counts[(UNTAGGED if model is None else label(model), label(version))] += 1
    return counts


def label(value: Any) -> str:
    if value is None:
        return UNTAGGED
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def documents_metric(registry: CollectorRegistry, coll: str, model: str, version: str) -> Any:
    return registry.get_sample_value(
        "driftwatch_collection_documents",
        {"collection": coll, "model": model, "version": version},
    )


def assert_documents_exported(
    result: CheckResult, registry: CollectorRegistry, metadatas: Sequence[Metadata]
) -> None:
    expected = label_counts(metadatas)
    got = {(d["model"], d["version"]): d["count"] for d in result.detail["documents"]}
    assert got == dict(expected)
    for (model, version), n in expected.items():
        assert documents_metric(registry, result.collection, model, version) == n


def status_metric(registry: CollectorRegistry, result: CheckResult) -> Any:
    return registry.get_sample_value(
        "driftwatch_check_status", {"collection": result.collection, "check": "version_mix"}
    )


def test_one_model_is_ok(chroma_store: ChromaTestStore) -> None:
    metadatas = tags(MINILM, "v1", 40)

    result, registry, _ = run_check(
        chroma_store, unit_vectors(40), metadatas, expected_model=MINILM
    )

    assert result.status == "ok", result.message
    assert result.value == 0
    assert result.detail["total"] == 40
    assert result.detail["dimension"] == 16
    assert_documents_exported(result, registry, metadatas)
    assert status_metric(registry, result) == 0
    assert (
        registry.get_sample_value("driftwatch_collection_models", {"collection": result.collection})
        == 1
    )


def test_expected_model_mismatch_is_drift(chroma_store: ChromaTestStore) -> None:
    metadatas = tags(PARAPHRASE, "1", 25)

    result, registry, _ = run_check(
        chroma_store, unit_vectors(25), metadatas, expected_model=MINILM
    )

    assert result.status == "drift"
    assert result.value == 1.0
    assert PARAPHRASE in result.message and MINILM in result.message
    assert result.detail["unexpected"] == 25
    assert status_metric(registry, result) == 2
    assert (
        registry.get_sample_value(
            "driftwatch_collection_unexpected_model_documents", {"collection": result.collection}
        )
        == 25
    )
    assert_documents_exported(result, registry, metadatas)


def test_two_models_is_drift_with_counts_per_model_and_version(
    chroma_store: ChromaTestStore,
) -> None:
    # A half-finished re-embedding: real vectors from two models in one collection.
    texts = [row["text"][:300] for row in corpus()[:36]]
    vectors = np.vstack(
        [embedder(MINILM).embed(texts[:24]), embedder(PARAPHRASE).embed(texts[24:])]
    )
    metadatas = tags(MINILM, "v1", 16) + tags(MINILM, "v2", 8) + tags(PARAPHRASE, "1", 12)

    result, registry, progress = run_check(chroma_store, vectors, metadatas, page_size=7)

    assert result.status == "drift"
    assert result.detail["models"] == 2
    assert result.detail["total"] == 36
    assert result.value == pytest.approx(12 / 36)
    assert_documents_exported(result, registry, metadatas)
    assert status_metric(registry, result) == 2
    # Both kinds count tags natively (embedded: SQL GROUP BY; server: where filters):
    # one progress update, no pages.
    assert progress == [(36, 36)]


def test_untagged_records_are_a_warning(chroma_store: ChromaTestStore) -> None:
    metadatas: list[Metadata] = [
        *tags(MINILM, "v1", 10),
        *([None] * 5),
        *([{"source": "upload"}] * 3),
    ]

    result, registry, _ = run_check(
        chroma_store, unit_vectors(18), metadatas, expected_model=MINILM
    )

    assert result.status == "warning"
    assert result.detail["untagged"] == 8
    assert result.value == pytest.approx(8 / 18)
    assert "'embedding_model'" in result.message
    assert_documents_exported(result, registry, metadatas)
    assert documents_metric(registry, result.collection, UNTAGGED, UNTAGGED) == 8
    assert (
        registry.get_sample_value(
            "driftwatch_collection_untagged_documents", {"collection": result.collection}
        )
        == 8
    )
    assert status_metric(registry, result) == 1


def test_empty_collection_is_unavailable(chroma_store: ChromaTestStore) -> None:
    result, registry, _ = run_check(
        chroma_store, np.zeros((0, 16), dtype=np.float32), [], expected_model=MINILM
    )

    assert result.status == "unavailable"
    assert result.detail["total"] == 0
    assert "empty" in result.message
    assert status_metric(registry, result) == 4


def test_non_string_tags_become_labels(chroma_store: ChromaTestStore) -> None:
    metadatas = [*tags(3, 2.0, 6), *tags(3, 1.5, 4), *tags(True, 7, 2)]

    result, registry, _ = run_check(chroma_store, unit_vectors(12), metadatas)

    assert result.status == "drift"  # models "3" and "True"
    assert documents_metric(registry, result.collection, "3", "2") == 6
    assert documents_metric(registry, result.collection, "3", "1.5") == 4
    assert documents_metric(registry, result.collection, "True", "7") == 2
    assert_documents_exported(result, registry, metadatas)


def test_custom_metadata_keys(chroma_store: ChromaTestStore) -> None:
    metadatas: list[Metadata] = [{"model": MINILM, "rev": "2024-05"}] * 9

    result, registry, _ = run_check(
        chroma_store,
        unit_vectors(9),
        metadatas,
        model_key="model",
        version_key="rev",
        expected_model=MINILM,
    )

    assert result.status == "ok", result.message
    assert documents_metric(registry, result.collection, MINILM, "2024-05") == 9


def test_other_models_within_the_tolerated_share_are_a_warning(
    chroma_store: ChromaTestStore,
) -> None:
    metadatas = tags(MINILM, "v1", 19) + tags(PARAPHRASE, "1", 1)
    thresholds = {"unexpected_model_share": 0.1}

    result, registry, _ = run_check(
        chroma_store, unit_vectors(20), metadatas, expected_model=MINILM, thresholds=thresholds
    )

    assert result.status == "warning", result.message
    assert result.value == pytest.approx(1 / 20)
    assert result.threshold == pytest.approx(0.1)
    assert "within the tolerated" in result.message
    assert_documents_exported(result, registry, metadatas)


def test_other_models_beyond_the_tolerated_share_are_drift(
    chroma_store: ChromaTestStore,
) -> None:
    metadatas = tags(MINILM, "v1", 16) + tags(PARAPHRASE, "1", 4)
    thresholds = {"unexpected_model_share": 0.1}

    result, _, _ = run_check(
        chroma_store, unit_vectors(20), metadatas, expected_model=MINILM, thresholds=thresholds
    )

    assert result.status == "drift", result.message
    assert result.value == pytest.approx(4 / 20)

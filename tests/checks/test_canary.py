"""Canary queries through a real Chroma collection with real query embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from driftwatch.checks.base import Baseline, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.canary import check_canary
from driftwatch.config import CollectionConfig, OpenAIEmbedderConfig
from driftwatch.embedders.base import Embedder
from driftwatch.embedders.openai import OpenAIEmbedder
from tests.checks.conftest import (
    CANARY_QUERIES,
    ChromaFixture,
    collection_config,
    context,
    corpus_records,
)
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, corpus

N = 600


@pytest.fixture(scope="module")
def docs(shared_chroma: ChromaFixture) -> ChromaFixture:
    """Read-only: tests that change records build their own (``fresh``)."""
    shared_chroma.create("docs", corpus_records(range(N), MINILM))
    return shared_chroma


@pytest.fixture
def fresh(chroma: ChromaFixture) -> ChromaFixture:
    chroma.create("docs", corpus_records(range(N), MINILM))
    return chroma


def _run(
    chroma: ChromaFixture, live: Embedder, baseline: Baseline | None, coll: CollectionConfig
) -> CheckResult:
    return check_canary(context("canary", coll, chroma.handle("docs"), live, baseline=baseline))


def _baseline(chroma: ChromaFixture, live: Embedder, coll: CollectionConfig) -> Baseline:
    return capture_baseline(context("baseline", coll, chroma.handle("docs"), live))


def test_unchanged_setup_agrees_completely(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    coll = collection_config()
    result = _run(docs, minilm, _baseline(docs, minilm, coll), coll)
    assert result.status == "ok", result.message
    d = result.detail
    assert (d["overlap"], d["rbo"], d["similarity_drop"]) == (1.0, 1.0, 0.0)
    assert len(d["scores"]) == len(CANARY_QUERIES) * coll.top_k
    assert d["top1_similarity"] == d["baseline_top1_similarity"] > d["mean_similarity"]
    assert d["recall"] is None and d["mrr"] is None  # no canary lists expected ids


def test_query_model_swap_is_drift(
    docs: ChromaFixture, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    coll = collection_config()
    result = _run(docs, paraphrase, _baseline(docs, minilm, coll), coll)
    assert result.status == "drift", result.message
    d = result.detail
    assert d["overlap"] < 0.5 and d["rbo"] < 0.5
    assert d["similarity_drop"] > 0.25
    assert d["mean_similarity"] < d["baseline_mean_similarity"]


def test_churn_is_not_drift(fresh: ChromaFixture, minilm: CachedEmbedder) -> None:
    coll = collection_config()
    baseline = _baseline(fresh, minilm, coll)
    raw = fresh.client.get_collection("docs")
    rng = np.random.default_rng(5)
    raw.delete(ids=[corpus()[int(i)]["id"] for i in rng.choice(N, N // 20, replace=False)])
    ChromaFixture.add(raw, corpus_records(range(N, N + N // 10), MINILM))
    result = _run(fresh, minilm, baseline, coll)
    assert result.status == "ok", result.message
    assert 0.5 < result.detail["overlap"] < 1.0  # results did change


def test_expected_ids_give_recall_and_mrr(fresh: ChromaFixture, minilm: CachedEmbedder) -> None:
    # Expect, for each canary, the record the stored model ranks first for it.
    plain = collection_config()
    first = [c.ids[0] for c in _baseline(fresh, minilm, plain).canaries]
    coll = collection_config(
        canaries=[{"query": q, "expect": [i]} for q, i in zip(CANARY_QUERIES, first, strict=True)]
    )
    baseline = _baseline(fresh, minilm, coll)
    ok = _run(fresh, minilm, baseline, coll)
    assert (ok.status, ok.detail["recall"], ok.detail["mrr"]) == ("ok", 1.0, 1.0)

    # The expected records disappear: that canary can no longer be answered.
    fresh.client.get_collection("docs").delete(ids=first)
    lost = _run(fresh, minilm, baseline, coll)
    assert lost.status == "drift"
    assert lost.detail["recall"] == 0.0
    assert "expected ids lost" in lost.message


def test_without_baseline_only_recall_and_similarity(
    docs: ChromaFixture, minilm: CachedEmbedder
) -> None:
    coll = collection_config()
    result = _run(docs, minilm, None, coll)
    assert result.status == "ok"
    assert result.detail["overlap"] is None and result.detail["compared"] == 0
    assert len(result.detail["scores"]) == 200


def test_no_canaries_is_unavailable(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    result = _run(docs, minilm, None, collection_config(canaries=[]))
    assert result.status == "unavailable"
    assert "no canaries" in result.message


def test_empty_collection_is_unavailable(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    chroma.create("docs")
    result = _run(chroma, minilm, None, collection_config())
    assert result.status == "unavailable"


def test_other_dimension_is_drift_not_a_crash(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    coll = collection_config()
    baseline = _baseline(docs, minilm, coll)
    with EmbeddingServer({"small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="small", base_url=server.base_url, dimensions=256
        )
        result = _run(docs, OpenAIEmbedder(cfg), baseline, coll)
    assert result.status == "drift"
    assert "cannot run" in result.message and "256-d" in result.message
    assert result.detail["scores"] == []

"""Fingerprint verdicts on real model pairs (the calibration in the module docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftwatch.checks.base import Baseline, CheckResult
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.fingerprint import builtin_fingerprint_texts, check_fingerprint
from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.base import Embedder
from driftwatch.embedders.openai import OpenAIEmbedder
from tests.checks.conftest import ChromaFixture, collection_config, context, corpus_records
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, embedder
from tests.support.variants import int8_paraphrase_embedder


@pytest.fixture(scope="module")
def docs(shared_chroma: ChromaFixture) -> ChromaFixture:
    shared_chroma.create("docs", corpus_records(range(200), MINILM))
    return shared_chroma


def _baseline(chroma: ChromaFixture, live: Embedder, **cfg: Any) -> Baseline:
    coll = collection_config(**cfg)
    return capture_baseline(context("baseline", coll, chroma.handle("docs"), live))


def _check(chroma: ChromaFixture, live: Embedder, baseline: Baseline, **cfg: Any) -> CheckResult:
    coll = collection_config(**cfg)
    return check_fingerprint(
        context("fingerprint", coll, chroma.handle("docs"), live, baseline=baseline)
    )


def test_builtin_texts_are_many_and_varied() -> None:
    texts = builtin_fingerprint_texts()
    assert len(texts) >= 32 and len(set(texts)) == len(texts)
    lengths = [len(t) for t in texts]
    assert min(lengths) <= 5 and max(lengths) >= 100
    assert any("def " in t for t in texts) and any(not t.isascii() for t in texts)


def test_same_model_uncached_is_identical(docs: ChromaFixture) -> None:
    # The real model, no cache: batch composition changes (baseline embeds all texts
    # at once, the check embeds them again) and only float noise may remain.
    base = _baseline(docs, embedder(MINILM))
    result = _check(docs, embedder(MINILM), base)
    assert result.status == "ok", result.message
    assert result.detail["cosine_min"] >= 0.9999
    # The threshold shown is the one the verdict compared with (the message says >= 0.9999).
    assert result.threshold == 0.9999 and "0.9999" in result.message


def test_texts_embedded_one_by_one_match_the_batch() -> None:
    texts = list(builtin_fingerprint_texts())
    real = embedder(MINILM)
    alone = np.concatenate([real.embed([t]) for t in texts])
    batch = real.embed(texts)
    assert float(np.min(np.sum(alone * batch, axis=1))) >= 0.9999


def test_int8_rebuild_of_the_same_model_is_a_warning(docs: ChromaFixture) -> None:
    base = _baseline(docs, embedder(PARAPHRASE))
    result = _check(docs, int8_paraphrase_embedder(), base)
    assert result.status == "warning", result.message
    detail = result.detail
    assert 0.80 < detail["cosine_min"] < 0.9999
    assert detail["changed_texts"] == len(base.fingerprint_texts)
    assert "changed slightly" in result.message
    assert result.threshold == 0.9999  # "moved" means below fingerprint_identical


def test_other_model_is_drift(docs: ChromaFixture, paraphrase: CachedEmbedder) -> None:
    base = _baseline(docs, embedder(MINILM))
    result = _check(docs, paraphrase, base)
    assert result.status == "drift"
    assert result.value is not None and result.value < 0.5
    assert "replaced" in result.message
    assert result.threshold == 0.80  # drift: the mean fell below fingerprint_replaced


def test_configured_texts_are_fingerprinted_too(
    docs: ChromaFixture, minilm: CachedEmbedder
) -> None:
    base = _baseline(docs, minilm, fingerprint_texts=["ticket ABC-123 escalated to tier 2"])
    assert base.fingerprint_texts[-1] == "ticket ABC-123 escalated to tier 2"
    assert len(base.fingerprint_texts) == len(builtin_fingerprint_texts()) + 1
    assert _check(docs, minilm, base).detail["texts"] == len(base.fingerprint_texts)


def test_other_dimension_is_drift_naming_both(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    base = _baseline(docs, minilm)
    with EmbeddingServer({"small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="small", base_url=server.base_url, dimensions=256
        )
        result = _check(docs, OpenAIEmbedder(cfg), base)
    assert result.status == "drift"
    assert "256-d" in result.message and "384-d" in result.message


def test_without_baseline_is_unavailable(docs: ChromaFixture, minilm: CachedEmbedder) -> None:
    result = check_fingerprint(
        context("fingerprint", collection_config(), docs.handle("docs"), minilm)
    )
    assert result.status == "unavailable"
    assert "no baseline" in result.message

"""Index consistency on real vectors in a real Chroma collection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftwatch.checks.consistency import check_consistency
from driftwatch.checks.dimensions import PROBE_TEXT
from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.stats.similarity import cosine_rows
from tests.checks.conftest import ChromaFixture, collection_config, context, corpus_records
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder
from tests.support.variants import int8_paraphrase_embedder


def test_same_model_reembedding_reproduces_stored_vectors_exactly() -> None:
    # Real model, no cache, other batch composition than the stored vectors had.
    texts = [doc["text"] for doc in corpus()[:20]]
    again = embedder(MINILM).embed(texts[::-1])[::-1]
    assert cosine_rows(corpus_vectors(MINILM)[:20], again).min() >= 0.9999


def test_int8_rebuild_matches_and_other_model_does_not() -> None:
    # The calibration of consistency_match (0.75): a requantised build stays in the
    # same space, another model does not.
    match = collection_config().thresholds.consistency_match
    texts = [doc["text"] for doc in corpus()[:60]]
    rebuilt = cosine_rows(corpus_vectors(PARAPHRASE)[:60], int8_paraphrase_embedder().embed(texts))
    other = cosine_rows(corpus_vectors(MINILM)[:60], corpus_vectors(PARAPHRASE)[:60])
    assert rebuilt.min() > match + 0.05
    assert other.max() < match - 0.2


def test_all_records_match_the_model_that_embedded_them(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(500), MINILM))
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "ok", result.message
    assert result.value == 1.0
    assert result.detail["sampled"] == 300
    assert result.detail["stale_estimate"] == 0
    assert 0.98 < result.detail["ratio_low"] < 1.0 == result.detail["ratio_high"]
    assert result.detail["by_model"] == [
        {"model": MINILM, "sampled": 300, "matched": 300, "ratio": 1.0}
    ]


def test_stale_records_are_counted_per_model_tag(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    records = corpus_records(range(80), MINILM) + corpus_records(range(80, 100), PARAPHRASE)
    chroma.create("docs", records)
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "drift"
    assert result.value == pytest.approx(0.8)
    assert result.detail["stale_estimate"] == 20
    assert result.detail["ratio_low"] < 0.8 < result.detail["ratio_high"] < 0.95
    assert result.detail["by_model"] == [
        {"model": MINILM, "sampled": 80, "matched": 80, "ratio": 1.0},
        {"model": PARAPHRASE, "sampled": 20, "matched": 0, "ratio": 0.0},
    ]
    assert PARAPHRASE in result.message


def test_a_few_stale_records_warn_without_proof_of_drift(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    records = corpus_records(range(195), MINILM) + corpus_records(range(195, 200), PARAPHRASE)
    chroma.create("docs", records)
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.value == pytest.approx(0.975)
    assert result.status == "warning", result.message


def test_records_without_text_are_skipped(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    coll = chroma.create("docs", corpus_records(range(50), MINILM))
    ChromaFixture.add(coll, corpus_records(range(50, 80), MINILM, with_text=False))
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "ok"
    assert (result.detail["sampled"], result.detail["skipped"]) == (50, 30)


def test_no_stored_text_is_unavailable(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    chroma.create("docs", corpus_records(range(30), MINILM, with_text=False))
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "unavailable"
    assert "none of the 30 sampled records" in result.message and "text" in result.message


def test_empty_collection_is_unavailable(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    chroma.create("docs")
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "unavailable"


def test_other_dimension_is_drift_not_a_crash(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(40), MINILM))
    with EmbeddingServer({"small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="small", base_url=server.base_url, dimensions=256
        )
        result = check_consistency(
            context("consistency", collection_config(), chroma.handle("docs"), OpenAIEmbedder(cfg))
        )
        embedded = [text for body in server.embedding_requests() for text in _inputs(body)]
    assert result.status == "drift"
    assert "256-d" in result.message and "384-d" in result.message
    assert result.detail["stale_estimate"] == 40
    # The dimension was settled with one short text; the 40 records were not re-embedded.
    assert embedded == [PROBE_TEXT]


def test_sample_is_spread_over_the_whole_collection(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    # Stale records only at the end of the storage order: a first-page sample
    # would miss them all.
    records = corpus_records(range(700), MINILM) + corpus_records(range(700, 1000), PARAPHRASE)
    chroma.create("docs", records)
    result = check_consistency(
        context("consistency", collection_config(), chroma.handle("docs"), minilm, seed=3)
    )
    assert result.detail["ratio_low"] < 0.7 < result.detail["ratio_high"]
    assert np.isclose(sum(r["sampled"] for r in result.detail["by_model"]), 300)


def _inputs(body: dict[str, Any]) -> list[str]:
    texts = body["input"]
    return [texts] if isinstance(texts, str) else list(texts)

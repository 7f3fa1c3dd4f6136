from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.fingerprint import builtin_fingerprint_texts
from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.errors import EmbedderError
from tests.checks.conftest import (
    CANARY_QUERIES,
    ChromaFixture,
    collection_config,
    context,
    corpus_records,
)
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM


def test_captures_fingerprint_canaries_and_scores(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(300), MINILM))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ctx = context("baseline", collection_config(), chroma.handle("docs"), minilm, started_at=when)
    base = capture_baseline(ctx)
    assert (base.collection, base.model, base.dimension, base.created_at) == (
        "docs",
        MINILM,
        384,
        when,
    )
    texts = list(builtin_fingerprint_texts())
    assert base.fingerprint_texts == texts
    assert base.fingerprint_vectors.shape == (len(texts), 384)
    assert base.fingerprint_vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(base.fingerprint_vectors, axis=1), 1.0, atol=1e-5)
    assert [c.query for c in base.canaries] == CANARY_QUERIES
    assert all(len(c.ids) == 10 and len(c.scores) == 10 for c in base.canaries)
    assert all(c.scores == sorted(c.scores, reverse=True) for c in base.canaries)
    assert base.scores == [s for c in base.canaries for s in c.scores]


def test_empty_collection_gets_fingerprint_only(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs")
    base = capture_baseline(context("baseline", collection_config(), chroma.handle("docs"), minilm))
    assert base.canaries == [] and base.scores == []
    assert base.dimension == 384


def test_refuses_a_baseline_of_the_wrong_dimension(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(20), MINILM))
    with EmbeddingServer({"small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai", model="small", base_url=server.base_url, dimensions=256
        )
        ctx = context("baseline", collection_config(), chroma.handle("docs"), OpenAIEmbedder(cfg))
        with pytest.raises(EmbedderError, match=r"'docs'.*256-d.*stores 384-d"):
            capture_baseline(ctx)

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from driftwatch.checks.baseline import (
    can_complete,
    capture_baseline,
    complete_baseline,
    incomplete_reason,
    missing_canaries,
)
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


def test_empty_collection_gives_an_incomplete_baseline_that_keeps_its_query_vectors(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs")
    coll = collection_config()
    base = capture_baseline(context("baseline", coll, chroma.handle("docs"), minilm))
    assert base.scores == [] and all(c.ids == [] for c in base.canaries)
    assert base.dimension == 384
    assert missing_canaries(base, coll) == CANARY_QUERIES
    reason = incomplete_reason(base, coll)
    assert reason is not None and "20 of 20 canaries" in reason and "holds 10" in reason
    assert can_complete(base, coll)
    vectors = np.asarray([c.vector for c in base.canaries], dtype=np.float32)
    assert np.allclose(vectors, minilm.embed(CANARY_QUERIES), atol=1e-6)


def test_completing_later_gives_the_baseline_models_view_even_after_a_swap(
    chroma: ChromaFixture, minilm: CachedEmbedder, paraphrase: CachedEmbedder
) -> None:
    """Records arrive after an empty-collection baseline; by then the live model was
    swapped. Completion runs the baseline model's stored query vectors, so its canaries
    are exactly what a baseline captured on the full collection with that model holds."""
    coll = collection_config()
    store = chroma.create("docs")
    early = capture_baseline(context("baseline", coll, chroma.handle("docs"), minilm))
    chroma.add(store, corpus_records(range(300), MINILM))

    done = complete_baseline(early, coll, chroma.handle("docs"))
    direct = capture_baseline(context("baseline", coll, chroma.handle("docs"), minilm))
    swapped = capture_baseline(context("baseline", coll, chroma.handle("docs"), paraphrase))

    assert incomplete_reason(done, coll) is None
    assert [c.ids for c in done.canaries] == [c.ids for c in direct.canaries]
    assert np.allclose(done.scores, direct.scores, atol=1e-5)
    assert [c.ids for c in done.canaries] != [c.ids for c in swapped.canaries]
    assert (done.model, done.created_at) == (early.model, early.created_at)
    assert early.reference_vectors is None and done.reference_vectors is not None


def test_small_collection_stays_incomplete_until_it_holds_top_k(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(4), MINILM))
    coll = collection_config()
    base = capture_baseline(context("baseline", coll, chroma.handle("docs"), minilm))
    assert all(len(c.ids) == 4 for c in base.canaries)
    assert missing_canaries(base, coll) == CANARY_QUERIES
    assert incomplete_reason(base, collection_config(top_k=4)) is None


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

from __future__ import annotations

from driftwatch.checks.dimension import check_dimension
from driftwatch.config import OpenAIEmbedderConfig
from driftwatch.embedders.openai import OpenAIEmbedder
from tests.checks.conftest import ChromaFixture, collection_config, context, corpus_records
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM


def test_same_dimension_is_ok(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    chroma.create("docs", corpus_records(range(10), MINILM))
    result = check_dimension(
        context("dimension", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "ok"
    assert result.detail == {"embedder_dimension": 384, "collection_dimension": 384}


def test_other_dimension_is_drift_reported_plainly(
    chroma: ChromaFixture, minilm: CachedEmbedder
) -> None:
    chroma.create("docs", corpus_records(range(10), MINILM))
    with EmbeddingServer({"text-embedding-3-small": minilm}) as server:
        cfg = OpenAIEmbedderConfig(
            kind="openai",
            model="text-embedding-3-small",
            base_url=server.base_url,
            dimensions=256,
        )
        live = OpenAIEmbedder(cfg)
        result = check_dimension(
            context("dimension", collection_config(), chroma.handle("docs"), live)
        )
    assert result.status == "drift"
    assert "produces 256-d vectors" in result.message
    assert "stores 384-d vectors" in result.message
    assert (result.value, result.threshold) == (256, 384)


def test_empty_collection_is_unavailable(chroma: ChromaFixture, minilm: CachedEmbedder) -> None:
    chroma.create("docs")
    result = check_dimension(
        context("dimension", collection_config(), chroma.handle("docs"), minilm)
    )
    assert result.status == "unavailable"
    assert "empty" in result.message

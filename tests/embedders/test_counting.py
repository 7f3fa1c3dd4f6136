"""CountingEmbedder counts what a real ONNX embedder was asked for, and changes nothing."""

from __future__ import annotations

import numpy as np

from driftwatch.embedders.counting import CountingEmbedder
from tests.support.models import MINILM, embedder


def test_counts_texts_and_tokenizer_tokens_and_passes_vectors_through() -> None:
    real = embedder(MINILM)
    counting = CountingEmbedder(real)
    texts = ["how do I open a file", "what is a generator function"]
    vectors = counting.embed(texts)
    counting.embed(texts[:1])
    assert np.array_equal(vectors, real.embed(texts))
    assert counting.texts == 3
    # [CLS] how do i open a file [SEP] = 8; [CLS] what is a generator function [SEP] = 7
    assert counting.tokens == 8 + 7 + 8
    assert counting.model == MINILM
    assert counting.model_path == real.model_path  # anything else is the inner one's


def test_an_embedder_without_token_counts_reports_texts_only() -> None:
    class Plain:
        model = "plain"

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 3), dtype=np.float32)

        def close(self) -> None:
            pass

    counting = CountingEmbedder(Plain())
    counting.embed(["a", "b"])
    assert (counting.texts, counting.tokens) == (2, None)

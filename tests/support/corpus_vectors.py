"""Real ONNX vectors of the test corpus, computed once and kept on disk.

Embedding the 1,912 corpus paragraphs takes ~10-50 s per model on this
machine, so the vectors are cached in ``benchmarks/.work`` (keyed by the
corpus text and the model file), and ``CachedEmbedder`` answers repeated texts
from memory. Both models are deterministic (the same text gives cosine
1.000000 alone or in any batch: tests/checks/test_fingerprint.py), so a cached
vector is exactly what the model would return again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from tests.support.models import CORPUS, corpus, embedder
from tests.support.variants import WORK_DIR


def vectors_on_disk(name: str, source: Path, texts: list[str], model: str) -> np.ndarray:
    """(len(texts), dim) float32 vectors of ``texts`` (read from ``source``) by ``model``,
    computed once and kept in ``WORK_DIR``, keyed by the source file and the model file."""
    real = embedder(model)
    digest = hashlib.sha256(source.read_bytes())
    digest.update(real.model.encode())
    digest.update(str(real.model_path.stat().st_size).encode())
    path = WORK_DIR / f"{name}-{real.model}-{digest.hexdigest()[:12]}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        if cached.shape[0] == len(texts):
            return cached
    vectors = real.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)
    return vectors


@cache
def corpus_vectors(model: str) -> np.ndarray:
    """(len(corpus()), dim) float32 vectors of the corpus texts, in corpus order."""
    return vectors_on_disk("corpus", CORPUS, [doc["text"] for doc in corpus()], model)


class CachedEmbedder:
    """A real ONNX embedder that remembers every text's vector (seeded with the corpus)."""

    def __init__(self, model: str, name: str | None = None) -> None:
        self._real = embedder(model)
        self._name = name or model
        texts = [doc["text"] for doc in corpus()]
        self._memo: dict[str, np.ndarray] = dict(zip(texts, corpus_vectors(model), strict=True))

    @property
    def model(self) -> str:
        return self._name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, self._real.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def close(self) -> None:
        """Nothing to release."""

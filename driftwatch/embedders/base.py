"""The embedder Protocol every adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, shape (len(texts), dim)."""

    @property
    def model(self) -> str:
        """The model name recorded in baselines and metrics."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def close(self) -> None: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise unit length; zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(
        np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0), dtype=np.float32
    )

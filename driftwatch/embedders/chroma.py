"""The collection's own embedding function (``kind: chroma``).

For applications that let Chroma embed their queries: the embedding function
configured on the collection is exactly what the application uses, so
driftwatch probes with it. The store adapter finds and calls it
(``CollectionHandle.embed_with_own_function``); this wrapper checks the answer
and L2-normalises it like every other embedder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from driftwatch.config import ChromaEmbedderConfig
from driftwatch.embedders.base import l2_normalise
from driftwatch.errors import DriftwatchError, EmbedderError, EmbedderResponseError
from driftwatch.stores.base import CollectionHandle


class ChromaEmbedder:
    """Embeds with ``collection``'s own embedding function."""

    def __init__(
        self, config: ChromaEmbedderConfig, collection: CollectionHandle, *, name: str | None = None
    ) -> None:
        self._cfg = config
        self._collection = collection
        label = f"embedder {name!r}" if name else "chroma embedder"
        self._where = f"{label} (embedding function of collection {collection.name!r})"

    @property
    def model(self) -> str:
        return self._cfg.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            raw = self._collection.embed_with_own_function(texts)
        except DriftwatchError:
            raise
        except Exception as exc:  # the application's own function may raise anything
            raise EmbedderError(f"{self._where} failed: {type(exc).__name__}: {exc}") from exc
        try:
            vectors = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise EmbedderResponseError(f"{self._where} returned non-numeric values") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] == 0:
            raise EmbedderResponseError(
                f"{self._where} returned shape {vectors.shape} for {len(texts)} texts"
            )
        if not np.isfinite(vectors).all():
            raise EmbedderResponseError(f"{self._where} returned NaN or infinite values")
        return l2_normalise(vectors)

    def close(self) -> None:
        """Nothing to release: the collection belongs to its store."""

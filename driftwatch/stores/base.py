"""The vector-store Protocol every adapter implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# Called with (records done, records total) while a full scan runs.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class StoredRecord:
    id: str
    document: str | None
    embedding: np.ndarray | None  # float32 (dim,), as stored (not re-normalised)
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class QueryHits:
    """Top-k of one query; similarity is cosine-like (1 = same direction)."""

    ids: list[str]
    similarities: list[float]


class CollectionHandle(Protocol):
    """One collection in a store, opened and known to exist."""

    @property
    def name(self) -> str: ...

    def count(self) -> int: ...

    def dimension(self) -> int | None:
        """Dimension of the stored vectors, None for an empty collection."""
        ...

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        """Yield the metadata of every record, one page at a time (bounded memory)."""
        ...

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """A uniform random sample of n records (or all, if fewer) across the collection."""
        ...

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        """Nearest stored records for each query vector."""
        ...

    def embed_with_own_function(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the collection's configured embedding function (kind: chroma)."""
        ...


class VectorStore(Protocol):
    def open_collection(self, name: str) -> CollectionHandle:
        """Raises CollectionNotFound or StoreUnavailable."""
        ...

    def close(self) -> None: ...

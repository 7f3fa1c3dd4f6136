"""Long-lived clients the checks share: one store client per configured store, one
embedder per configured name.

The daemon holds one ``Pools`` for its whole life, so a Runner (cheap) can be
rebuilt around a new state DB without reloading models or reconnecting stores::

    pools = Pools(config)
    handle = pools.collection(coll)          # StoreError if the store is down
    live = pools.embedder_for(coll, handle)  # built on first embed
    pools.close()
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from driftwatch.config import CollectionConfig, Config
from driftwatch.embedders import EmbedderPool
from driftwatch.errors import StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle, VectorStore


class StorePool:
    """One client per configured store, reconnected after it fails."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._stores: dict[str, VectorStore] = {}
        self._lock = threading.Lock()

    def collection(self, coll: CollectionConfig) -> CollectionHandle:
        """The collection ``coll`` names, opened with its options (columns, vector name...)."""
        with self._lock:
            if coll.store not in self._stores:
                self._stores[coll.store] = open_store(coll.store, self._config.stores[coll.store])
            client = self._stores[coll.store]
        try:
            return client.open_collection(coll.name, coll.options())
        except StoreUnavailable:
            self.discard(coll.store)
            raise

    def discard(self, store: str) -> None:
        with self._lock:
            client = self._stores.pop(store, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        for store in list(self._stores):
            self.discard(store)


class LazyEmbedder:
    """The collection's live embedder, built on first use.

    A check that needs none (version mix) still runs when the embedder endpoint
    is down. It also remembers the width of the vectors it returned, so the
    dimension every check settles first (checks.dimensions) costs one short
    text per cycle, not one per check.
    """

    def __init__(
        self, pool: EmbedderPool, name: str, model: str, collection: CollectionHandle
    ) -> None:
        self._pool, self._name, self._model, self._collection = pool, name, model, collection
        self._dimension: int | None = None

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int | None:
        """Width of the vectors embedded so far in this cycle (None before the first)."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._pool.get(self._name, self._collection).embed(texts)
        if vectors.ndim == 2 and vectors.shape[0] > 0:
            self._dimension = int(vectors.shape[1])
        return vectors

    @property
    def reported_tokens(self) -> int | None:
        """Tokens the provider reported so far (embedders/counting.py), if it reports any."""
        value = getattr(self._pool.get(self._name, self._collection), "reported_tokens", None)
        return value if isinstance(value, int) else None

    def token_counts(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens per text by the local tokenizer (embedders/counting.py); None without one."""
        counts = getattr(self._pool.get(self._name, self._collection), "token_counts", None)
        return None if counts is None else list(counts(texts))

    def close(self) -> None:
        """The pool owns the embedder."""


class Pools:
    """The store and embedder pools, built and closed together."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stores = StorePool(config)
        self.embedders = EmbedderPool(config.embedders)

    def collection(self, coll: CollectionConfig) -> CollectionHandle:
        return self.stores.collection(coll)

    def embedder_for(self, coll: CollectionConfig, handle: CollectionHandle) -> LazyEmbedder:
        model = self.config.embedders[coll.embedder].model
        return LazyEmbedder(self.embedders, coll.embedder, model, handle)

    def close(self) -> None:
        self.stores.close()
        self.embedders.close()

"""Vector-store adapters behind one Protocol (``stores.base.VectorStore``)."""

from __future__ import annotations

from driftwatch.config import ChromaStoreConfig
from driftwatch.stores.base import VectorStore
from driftwatch.stores.chroma import ChromaStore


def open_store(name: str, cfg: ChromaStoreConfig) -> VectorStore:
    """The adapter for store ``name``; connects lazily, on its first ``open_collection``."""
    return ChromaStore(name, cfg)

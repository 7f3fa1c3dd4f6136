"""Vector-store adapters behind one Protocol (``stores.base.VectorStore``).

``open_store`` is the only place that knows which class serves which ``kind``;
each adapter's module (and its client library) is imported only when a store
of that kind is configured.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from driftwatch.config import ChromaStoreConfig, PgvectorStoreConfig, QdrantStoreConfig
from driftwatch.stores.base import VectorStore


def open_store(
    name: str, cfg: ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig
) -> VectorStore:
    """The adapter for store ``name``; connects lazily, on its first ``open_collection``."""
    if isinstance(cfg, PgvectorStoreConfig):
        from driftwatch.stores.pgvector import PgvectorStore

        return PgvectorStore(name, cfg)
    if isinstance(cfg, QdrantStoreConfig):
        from driftwatch.stores.qdrant import QdrantStore

        return QdrantStore(name, cfg)
    if cfg.path is not None:
        # Embedded Chroma can crash (SIGSEGV) when another process writes the
        # directory: it runs in a supervised worker process (stores/isolated.py).
        from driftwatch.stores.chroma_inuse import refuse_if_in_use
        from driftwatch.stores.isolated import StoreFactory, isolated

        return isolated(
            name,
            # owner_pid: the worker tells this process tree from an application
            # using the directory (chroma_inuse.py), and refuses to open it then.
            StoreFactory(
                "driftwatch.stores.chroma:ChromaStore", (name, cfg), {"owner_pid": os.getpid()}
            ),
            location=f"chroma directory {cfg.path}",
            call_timeout=cfg.timeout.total_seconds(),
            # Asked in this process first: a directory in use costs no worker start.
            before_start=functools.partial(
                refuse_if_in_use, name, Path(cfg.path).expanduser(), os.getpid()
            ),
        )
    from driftwatch.stores.chroma import ChromaStore

    return ChromaStore(name, cfg)

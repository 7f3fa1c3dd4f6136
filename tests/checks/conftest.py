"""Real Chroma collections of real corpus vectors, and real embedders, for the check tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest

from driftwatch.checks.base import CheckContext
from driftwatch.config import ChromaStoreConfig, CollectionConfig
from driftwatch.stores.base import CollectionHandle
from driftwatch.stores.chroma import ChromaStore, chroma_settings
from tests.support.chroma_server import chroma_server  # noqa: F401 (the `chroma run` fixture)
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.models import CANARY_QUERIES, MINILM, PARAPHRASE, corpus


@dataclass(frozen=True)
class Record:
    id: str
    text: str | None
    vector: np.ndarray
    metadata: Mapping[str, Any]


def corpus_records(
    indices: Sequence[int], model: str, prefix: str = "", with_text: bool = True
) -> list[Record]:
    """Corpus paragraphs with their real vectors, tagged with the model that embedded them."""
    docs, vectors = corpus(), corpus_vectors(model)
    return [
        Record(
            id=f"{prefix}{docs[i]['id']}",
            text=docs[i]["text"] if with_text else None,
            vector=vectors[i],
            metadata={"embedding_model": model, "embedding_version": "1"},
        )
        for i in indices
    ]


class ChromaFixture:
    """One embedded Chroma directory: write with chromadb, read through driftwatch's adapter."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
        # In-process on purpose: this process writes the directory too, and embedded
        # Chroma is single-process (the daemon isolates it: tests/stores/test_isolated.py).
        self._store = ChromaStore("test", ChromaStoreConfig(path=str(path)))

    def create(self, name: str, records: Sequence[Record] = ()) -> Any:
        coll = self.client.create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.add(coll, records)
        return coll

    @staticmethod
    def add(coll: Any, records: Sequence[Record], batch: int = 2000) -> None:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            kwargs: dict[str, Any] = {
                "ids": [r.id for r in chunk],
                "embeddings": np.stack([r.vector for r in chunk]),
                "metadatas": [dict(r.metadata) for r in chunk],
            }
            if all(r.text is not None for r in chunk):
                kwargs["documents"] = [r.text for r in chunk]
            coll.add(**kwargs)

    def handle(self, name: str) -> CollectionHandle:
        return self._store.open_collection(name)

    def close(self) -> None:
        self._store.close()


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaFixture]:
    fixture = ChromaFixture(tmp_path / "chroma")
    yield fixture
    fixture.close()


@pytest.fixture(scope="module")
def shared_chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaFixture]:
    """One Chroma directory for a module's read-only tests (building collections costs)."""
    fixture = ChromaFixture(tmp_path_factory.mktemp("chroma"))
    yield fixture
    fixture.close()


@pytest.fixture(scope="session")
def minilm() -> CachedEmbedder:
    return CachedEmbedder(MINILM)


@pytest.fixture(scope="session")
def paraphrase() -> CachedEmbedder:
    return CachedEmbedder(PARAPHRASE)


def collection_config(name: str = "docs", **overrides: Any) -> CollectionConfig:
    data: dict[str, Any] = {
        "store": "test",
        "name": name,
        "embedder": "live",
        "expected_model": MINILM,
        "canaries": [{"query": q} for q in CANARY_QUERIES],
    }
    data.update(overrides)
    return CollectionConfig.model_validate(data)


def context(
    check: str,
    collection: CollectionConfig,
    store: CollectionHandle,
    embedder: Any,
    seed: int = 0,
    **kwargs: Any,
) -> CheckContext:
    return CheckContext(
        collection=collection,
        store=store,
        embedder=embedder,
        rng=np.random.default_rng(seed),
        check=check,
        **kwargs,
    )

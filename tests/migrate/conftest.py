"""A real migration setup: blue filled with real corpus vectors (all-MiniLM-L6-v2,
as an application wrote them, with its own client), the candidate
paraphrase-MiniLM-L3-v2 served by a real OpenAI-compatible loopback endpoint
(so embed calls can be counted and made to fail), a config file and a state DB.

``MigrationEnv`` is made once per store kind (Chroma embedded, Chroma server,
pgvector) by ``env``; each test gets fresh collection names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from driftwatch.config import Config, load_config
from driftwatch.migrate.spec import Endpoints, migration_spec
from driftwatch.state.db import StateDB, open_state
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle, text_hash
from tests.stores.conftest import (  # noqa: F401 (fixtures)
    ADAPTERS,
    Records,
    StoreUnderTest,
    chroma_server,
    pg_vector_server,
    unique_name,
)
from tests.support.corpus_vectors import CachedEmbedder, corpus_vectors
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, corpus

CANDIDATE = "text-embedding-paraphrase"  # the name the endpoint serves paraphrase under
STORE_KINDS = ["chroma-embedded", "chroma-server", "pgvector"]


def canaries(indices: Sequence[int]) -> list[dict[str, Any]]:
    """Known-item canaries: a paragraph's first words must find that paragraph."""
    docs = corpus()
    return [
        {"query": " ".join(docs[i]["text"].split()[:12]), "expect": [docs[i]["id"]]}
        for i in indices
    ]


@pytest.fixture(scope="session")
def endpoint() -> Iterator[EmbeddingServer]:
    with EmbeddingServer({CANDIDATE: CachedEmbedder(PARAPHRASE)}) as server:
        yield server


def store_dict(sut: StoreUnderTest) -> dict[str, Any]:
    cfg = sut.store_config()
    if sut.kind == "pgvector":
        return {"kind": "pgvector", "url": getattr(cfg, "url", "")}
    if sut.kind == "qdrant":
        return {"kind": "qdrant", "path": getattr(cfg, "path", "")}
    url = getattr(cfg, "url", None)
    return {"kind": "chroma", "url": url} if url else {"kind": "chroma", "path": cfg.path}  # type: ignore[union-attr]


@dataclass
class MigrationEnv:
    sut: StoreUnderTest
    tmp: Path
    endpoint: EmbeddingServer
    blue: str = field(default_factory=lambda: unique_name("blue"))
    green: str = field(default_factory=lambda: unique_name("green"))
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config_path = self.tmp / "driftwatch.yaml"

    def write_config(self, **migration: Any) -> Config:
        data = {
            "state_url": f"sqlite:///{self.tmp / 'state.db'}",
            "embedders": {
                "live": {"kind": "onnx", "model": MINILM},
                "candidate": {
                    "kind": "openai",
                    "model": CANDIDATE,
                    "base_url": self.endpoint.base_url,
                    "batch_size": 16,
                    "max_retries": 1,
                    "retry_backoff": "10ms",
                    "price_per_million_tokens": 0.02,
                },
            },
            "stores": {"main": store_dict(self.sut)},
            "collections": [
                {
                    "store": "main",
                    "name": self.blue,
                    "embedder": "live",
                    "expected_model": MINILM,
                    "canaries": canaries(range(0, 200, 10)),
                    "sample_size": 100,
                    "migration": {
                        "to": "candidate",
                        "target": self.green,
                        "version": "2",
                        "batch_size": 20,
                        "concurrency": 2,
                        **migration,
                    },
                }
            ],
        }
        self.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return load_config(self.config_path)

    def fill_blue(self, indices: Sequence[int], without_text: Sequence[int] = ()) -> None:
        docs, vectors = corpus(), corpus_vectors(MINILM)
        self.sut.fill(
            self.blue,
            Records(
                vectors[list(indices)],
                ids=[docs[i]["id"] for i in indices],
                documents=[None if i in without_text else docs[i]["text"] for i in indices],
                metadatas=[
                    {"embedding_model": MINILM, "embedding_version": "1", "source": "docs"}
                    for _ in indices
                ],
            ),
        )

    def endpoints(self, config: Config | None = None) -> Endpoints:
        return Endpoints(migration_spec(config or load_config(self.config_path), None))

    @contextmanager
    def state(self) -> Iterator[StateDB]:
        db = open_state(load_config(self.config_path).state_url)
        try:
            yield db
        finally:
            db.close()

    def open(self, name: str) -> tuple[Any, CollectionHandle]:
        store = open_store("main", self.sut.store_config())
        return store, store.open_collection(name)

    def hashes(self, name: str) -> dict[str, str | None]:
        store, handle = self.open(name)
        try:
            pairs = [p for page in handle.iter_text_hashes() for p in page]
        finally:
            store.close()
        assert len(pairs) == len({rid for rid, _ in pairs}), "duplicate ids"
        return dict(pairs)

    def embedded_texts(self) -> list[str]:
        """Every text the candidate endpoint was asked to embed, in order."""
        return [t for body in self.endpoint.embedding_requests() for t in body["input"]]


@pytest.fixture(params=STORE_KINDS)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, endpoint: EmbeddingServer
) -> Iterator[MigrationEnv]:
    endpoint.reset()
    yield MigrationEnv(ADAPTERS[request.param](request, tmp_path), tmp_path, endpoint)
    endpoint.reset()


def expected_hashes(indices: Sequence[int]) -> dict[str, str | None]:
    docs = corpus()
    return {docs[i]["id"]: text_hash(docs[i]["text"]) for i in indices}


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def dump(obj: Any) -> str:
    return json.dumps(obj, default=str)


def app_write(
    env: MigrationEnv,
    name: str,
    upserts: Sequence[tuple[str, str, np.ndarray, dict[str, Any]]] = (),
    deletes: Sequence[str] = (),
) -> None:
    """Write as the application does, with the store's own client (never driftwatch)."""
    if env.sut.kind == "pgvector":
        from psycopg import sql
        from psycopg.types.json import Jsonb

        server = env.sut.server  # type: ignore[attr-defined]
        with server.admin() as conn:
            for rid, text, vec, meta in upserts:
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (id, embedding, content, metadata) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, "
                        "content = EXCLUDED.content, metadata = EXCLUDED.metadata"
                    ).format(sql.Identifier(name)),
                    (rid, "[" + ",".join(repr(float(x)) for x in vec) + "]", text, Jsonb(meta)),
                )
            if deletes:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(name)),
                    (list(deletes),),
                )
        return
    holder = getattr(env.sut, "chroma", None) or env.sut.server  # type: ignore[attr-defined]
    client = holder.client()
    try:
        coll = client.get_collection(name, embedding_function=None)
        if upserts:
            coll.upsert(
                ids=[u[0] for u in upserts],
                documents=[u[1] for u in upserts],
                embeddings=np.stack([u[2] for u in upserts]),
                metadatas=[u[3] for u in upserts],
            )
        if deletes:
            coll.delete(ids=list(deletes))
    finally:
        client.close()

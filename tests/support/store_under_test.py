"""Every store adapter under test, behind one shape: the conformance suite
(tests/stores/test_contract.py) and the scenario tests on every store
(tests/checks/test_scenarios_stores.py) run over ``ADAPTERS``.

An adapter joins both with one ``StoreUnderTest`` subclass and one ``ADAPTERS``
entry here::

    class QdrantUnderTest(StoreUnderTest):
        kind = "qdrant"
        def store_config(self) -> StoreConfig: ...          # where the data is
        def unreachable(self) -> tuple[StoreConfig, list[str]]: ...
        def fill(self, name, records) -> None: ...           # as an application would

    ADAPTERS["qdrant"] = lambda request, tmp_path: QdrantUnderTest(tmp_path)

``fill`` writes with the store's OWN client (chromadb, SQL, qdrant-client), never
through driftwatch's write capability, so the read side is tested against data
an application wrote; ``collection(...)`` then opens it through driftwatch's
factory and hands back ``(store, handle)``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from psycopg import sql

from driftwatch.config import StoreConfig
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle, CollectionOptions, Distance, VectorStore
from tests.support.chroma_server import ChromaServer, EmbeddedChroma
from tests.support.loopback import free_port
from tests.support.pgserver import PgVectorServer

# A credential put into every "unreachable" config: it must appear in no error.
SECRET = "s3cret-Pa55-do-not-show"


def unique_name(prefix: str = "coll") -> str:
    """A collection/table name no other test uses (servers are shared)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass
class Records:
    """What a test puts into a collection. ``documents``/``metadatas`` entries may
    be None: a record without text, or without metadata (so without a model tag)."""

    embeddings: np.ndarray
    ids: list[str] = field(default_factory=list)
    documents: list[str | None] | None = None
    metadatas: list[Mapping[str, Any] | None] | None = None
    distance: Distance = "cosine"

    def __post_init__(self) -> None:
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if not self.ids:
            self.ids = [f"doc-{i}" for i in range(len(self.embeddings))]

    def rows(self) -> Iterator[tuple[str, np.ndarray, str | None, Mapping[str, Any] | None]]:
        n = len(self.ids)
        docs = self.documents if self.documents is not None else [None] * n
        metas = self.metadatas if self.metadatas is not None else [None] * n
        yield from zip(self.ids, self.embeddings, docs, metas, strict=True)


class StoreUnderTest(ABC):
    """One adapter in the conformance suite: where its data lives and how an
    application would have written it."""

    kind: ClassVar[str]

    @abstractmethod
    def store_config(self) -> StoreConfig:
        """The config of the store holding the collections ``fill`` writes."""

    @abstractmethod
    def unreachable(self) -> tuple[StoreConfig, list[str]]:
        """A config of this kind whose server/location cannot be reached, carrying
        a credential (``SECRET``) where the kind has one, and the strings the
        StoreUnavailable message must contain (the server or location)."""

    @abstractmethod
    def fill(self, name: str, records: Records) -> None:
        """Create collection ``name`` with ``records``, with the store's own client."""

    def options(self, **overrides: Any) -> CollectionOptions:
        """The collection options this adapter's collections need (defaults)."""
        return CollectionOptions(**overrides)

    def collection(
        self,
        embeddings: np.ndarray,
        *,
        ids: Sequence[str] | None = None,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        distance: Distance = "cosine",
        name: str | None = None,
    ) -> tuple[VectorStore, CollectionHandle]:
        """Create a fresh collection with these records and open it through
        driftwatch's factory. The caller closes the store (or uses ``opened``)."""
        name = name or unique_name()
        records = Records(
            embeddings,
            ids=list(ids or []),
            documents=None if documents is None else list(documents),
            metadatas=None if metadatas is None else list(metadatas),
            distance=distance,
        )
        self.fill(name, records)
        store = open_store("sut", self.store_config())
        return store, store.open_collection(name, self.options())


# --- Chroma --------------------------------------------------------------------

_CHROMA_BATCH = 5000


def fill_chroma(client: Any, name: str, records: Records) -> None:
    """Chroma rejects None among documents in one add: records with and without
    text go in separate calls (ids keep their order within each)."""
    coll = client.create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": records.distance}}
    )
    rows = list(records.rows())
    for start in range(0, len(rows), _CHROMA_BATCH):
        batch = rows[start : start + _CHROMA_BATCH]
        for with_text in (True, False):
            part = [r for r in batch if (r[2] is not None) == with_text]
            if not part:
                continue
            kwargs: dict[str, Any] = {
                "ids": [r[0] for r in part],
                "embeddings": np.stack([r[1] for r in part]),
                "metadatas": [dict(r[3]) if r[3] else None for r in part],
            }
            if with_text:
                kwargs["documents"] = [r[2] for r in part]
            coll.add(**kwargs)


class ChromaEmbeddedUnderTest(StoreUnderTest):
    kind = "chroma-embedded"

    def __init__(self, tmp_path: Path) -> None:
        self.chroma = EmbeddedChroma(tmp_path / "chroma")

    def store_config(self) -> StoreConfig:
        return self.chroma.store_config()

    def unreachable(self) -> tuple[StoreConfig, list[str]]:
        missing = self.chroma.path.parent / "no-such-chroma"
        return self.chroma.store_config(path=str(missing)), [str(missing)]

    def fill(self, name: str, records: Records) -> None:
        client = self.chroma.client()
        try:
            fill_chroma(client, name, records)
        finally:
            client.close()


class ChromaServerUnderTest(StoreUnderTest):
    kind = "chroma-server"

    def __init__(self, server: ChromaServer) -> None:
        self.server = server

    def store_config(self) -> StoreConfig:
        return self.server.store_config()

    def unreachable(self) -> tuple[StoreConfig, list[str]]:
        port = free_port()
        cfg = self.server.store_config(
            url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout="2s",
        )
        return cfg, [f"127.0.0.1:{port}"]

    def fill(self, name: str, records: Records) -> None:
        client = self.server.client()
        try:
            fill_chroma(client, name, records)
        finally:
            client.close()


# --- pgvector ------------------------------------------------------------------

_PG_OPCLASS = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "ip": "vector_ip_ops"}


class PgvectorUnderTest(StoreUnderTest):
    """A table as an application creates it: id/embedding/content/metadata jsonb,
    an HNSW index whose opclass is the distance."""

    kind = "pgvector"

    def __init__(self, server: PgVectorServer) -> None:
        self.server = server

    def store_config(self) -> StoreConfig:
        return self.server.store_config()

    def unreachable(self) -> tuple[StoreConfig, list[str]]:
        port = free_port()
        cfg = self.server.store_config(
            url=f"postgresql://reader@127.0.0.1:{port}/rag",
            password=SECRET,
            connect_timeout="2s",
        )
        return cfg, [f"127.0.0.1:{port}", "rag"]

    def fill(self, name: str, records: Records) -> None:
        fill_pg_table(self.server, name, records)


def fill_pg_table(
    server: PgVectorServer,
    table: str,
    records: Records,
    *,
    vector_type: str = "vector",
    index: str | None = "hnsw",
) -> None:
    """Create ``table`` (id text, embedding vector(dim), content, metadata jsonb)
    with an index of the records' distance, and COPY the records in."""
    from psycopg.types.json import Jsonb

    dim = records.embeddings.shape[1]
    ident = sql.Identifier(*table.split("."))
    with server.admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id text PRIMARY KEY, embedding {}({}) NOT NULL, "
                "content text, metadata jsonb)"
            ).format(ident, sql.SQL(vector_type), sql.Literal(dim))
        )
        with (
            conn.cursor() as cur,
            cur.copy(
                sql.SQL("COPY {} (id, embedding, content, metadata) FROM STDIN").format(ident)
            ) as copy,
        ):
            for rid, vec, doc, meta in records.rows():
                copy.write_row(
                    (rid, _vector_literal(vec), doc, None if meta is None else Jsonb(dict(meta)))
                )
        if index is not None:
            opclass = _PG_OPCLASS[records.distance]
            if vector_type == "halfvec":
                opclass = opclass.replace("vector_", "halfvec_")
            conn.execute(
                sql.SQL("CREATE INDEX ON {} USING {} (embedding {})").format(
                    ident, sql.SQL(index), sql.SQL(opclass)
                )
            )
        conn.execute(sql.SQL("ANALYZE {}").format(ident))


def _vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vec) + "]"


# --- Qdrant (local mode: no Qdrant server can be installed here) ---------------


class QdrantUnderTest(StoreUnderTest):
    """A local-mode directory written with qdrant-client as an application would
    (tests/support/qdrant_local.py)."""

    kind = "qdrant"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "qdrant"
        self.path.mkdir(parents=True, exist_ok=True)

    def store_config(self) -> StoreConfig:
        from driftwatch.config import QdrantStoreConfig

        return QdrantStoreConfig(kind="qdrant", path=str(self.path))

    def unreachable(self) -> tuple[StoreConfig, list[str]]:
        from driftwatch.config import QdrantStoreConfig

        port = free_port()
        cfg = QdrantStoreConfig(
            kind="qdrant", url=f"http://127.0.0.1:{port}", api_key=SECRET, timeout="2s"
        )
        return cfg, [f"127.0.0.1:{port}"]

    def fill(self, name: str, records: Records) -> None:
        from tests.support.qdrant_local import fill_qdrant

        fill_qdrant(self.path, name, records.rows(), records.distance)


# --- the suite's parametrisation -----------------------------------------------

AdapterFactory = Callable[[pytest.FixtureRequest, Path], StoreUnderTest]

ADAPTERS: dict[str, AdapterFactory] = {
    "chroma-embedded": lambda request, tmp_path: ChromaEmbeddedUnderTest(tmp_path),
    "chroma-server": lambda request, tmp_path: ChromaServerUnderTest(
        request.getfixturevalue("chroma_server")
    ),
    "pgvector": lambda request, tmp_path: PgvectorUnderTest(
        request.getfixturevalue("pg_vector_server")
    ),
    "qdrant": lambda request, tmp_path: QdrantUnderTest(tmp_path),
}

"""The store contract: a read Protocol every adapter implements, and a write
capability for the adapters migrations write to.

    VectorStore.open_collection(name, options) -> CollectionHandle        (read)
    WritableStore.create_collection / open_writable -> WritableCollection  (write)

A check only ever sees a ``CollectionHandle``; it never knows which store it
reads. Similarities are cosine-like for every store and distance (1 = same
direction), converted by the adapter from the store's own distance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

# Called with (records done, records total) while a full scan runs.
ProgressCallback = Callable[[int, int], None]

# The distance a collection's index uses: cosine, (squared) euclidean, inner product.
Distance = Literal["cosine", "l2", "ip"]

# (model tag, version tag) -> records; None where a record carries no tag.
TagCounts = dict[tuple[str | None, str | None], int]

# A collection's vector-index settings as its store names them, with the store's
# kind: {"kind": "chroma", "hnsw": {...}}, {"kind": "pgvector", "method": "hnsw",
# "options": {...}}, {"kind": "qdrant", "hnsw": {...}}. A migration creates green
# with blue's, so that green searches as blue did; a store applies settings of
# its own kind and ignores another's.
IndexSettings = Mapping[str, Any]


def index_part(index: IndexSettings | None, kind: str, part: str) -> Mapping[str, Any]:
    """``index[part]`` where ``index`` came from a store of ``kind``, else empty: a
    store applies index settings of its own kind and ignores another's."""
    if not index or index.get("kind") != kind:
        return {}
    value = index.get(part)
    return value if isinstance(value, Mapping) else {}


def text_hash(text: str | None) -> str | None:
    """The hash migrations compare to tell a changed text from an unchanged one."""
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


@dataclass(frozen=True)
class CollectionOptions:
    """How one collection's records map onto driftwatch's record.

    Built from the collection's config; each adapter reads the fields that apply
    to it and ignores the rest. ``model_key``/``version_key`` name the metadata
    keys the version mix and migrations read and write; an adapter whose store
    keeps them elsewhere (pgvector plain columns) folds them into the record's
    metadata under these keys, so checks see the same shape everywhere.
    """

    model_key: str = "embedding_model"
    version_key: str = "embedding_version"
    # pgvector
    columns: Mapping[str, str] = field(
        default_factory=lambda: {
            "id": "id",
            "vector": "embedding",
            "text": "content",
            "metadata": "metadata",
        }
    )
    layout: Literal["table", "langchain"] = "table"
    model_column: str | None = None
    version_column: str | None = None
    # qdrant
    vector_name: str = ""
    text_key: str = "document"


@runtime_checkable
class CollectionHandle(Protocol):
    """One collection in a store, opened and known to exist (read only)."""

    @property
    def name(self) -> str: ...

    def count(self) -> int: ...

    def dimension(self) -> int | None:
        """Dimension of the stored vectors, None for an empty collection."""
        ...

    def distance(self) -> Distance:
        """The distance the collection's index uses."""
        ...

    def index_settings(self) -> IndexSettings | None:
        """The vector index's build and search settings, None without an index."""
        ...

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        """Yield the metadata of every record, one page at a time (bounded memory)."""
        ...

    def tag_counts(self) -> TagCounts | None:
        """Records per (model, version) tag, counted by the store itself
        (SQL GROUP BY, Qdrant count with filters); None where the store cannot,
        and the caller pages through ``iter_metadata`` instead."""
        ...

    def iter_text_hashes(
        self, page_size: int | None = None
    ) -> Iterator[Sequence[tuple[str, str | None]]]:
        """Yield (id, text_hash(text)) of every record, one page at a time."""
        ...

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """A uniform random sample of n records (or all, if fewer) across the collection."""
        ...

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        """Nearest stored records for each query vector."""
        ...


@runtime_checkable
class WritableCollection(CollectionHandle, Protocol):
    """A collection driftwatch may write: only ever a migration's target (green)."""

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        """Insert or replace records (id, text, vector, metadata); idempotent."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def finish_load(self) -> None:
        """Build what loading left out, once every record is written (pgvector: the
        vector index, built once rather than kept up row by row); idempotent, and
        nothing to do for a store that indexes as it writes."""
        ...

    def unfinished_load(self) -> str | None:
        """Why the collection is not ready to serve queries (``finish_load`` has not
        run), or None."""
        ...


@runtime_checkable
class RecordReader(Protocol):
    """Reading whole records by id: what a migration copies from blue (and what
    ``migrate evaluate`` reads for each canary's expected ids)."""

    def get_records(self, ids: Sequence[str], *, vectors: bool = True) -> list[StoredRecord]:
        """The records with these ids that exist (text, vector, metadata), any order;
        ``vectors=False`` leaves ``embedding`` None and does not read the vectors
        (a migration copies text and metadata, and embeds the text anew)."""
        ...


class VectorStore(Protocol):
    def open_collection(
        self, name: str, options: CollectionOptions | None = None
    ) -> CollectionHandle:
        """Raises CollectionNotFound or StoreUnavailable."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class WritableStore(VectorStore, Protocol):
    """A store migrations can write a new collection into."""

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: Distance,
        options: CollectionOptions | None = None,
        index: IndexSettings | None = None,
    ) -> WritableCollection:
        """Create the collection, or open it if it exists with this dimension and
        distance; raises StoreError naming both when it exists with others.
        ``index``: settings from ``index_settings()`` of a collection, applied
        when it is of this store's kind (an existing collection is left as it is)."""
        ...

    def open_writable(
        self, name: str, options: CollectionOptions | None = None
    ) -> WritableCollection:
        """Raises CollectionNotFound or StoreUnavailable."""
        ...


@runtime_checkable
class WriteLog(Protocol):
    """Optional read capability: which records were written after a point.

    The population check compares records written (added, updated or upserted)
    since the baseline with the baseline's reference sample. A store that keeps
    a sequence of writes implements this (embedded Chroma: the ``seq_id`` its
    SQLite file gives every write). Others (a Chroma server, pgvector without a
    write-time column, Qdrant) answer None from ``latest_write``, and the check
    falls back to a uniform sample. Checked with ``isinstance``.
    """

    def latest_write(self) -> int | None:
        """The position of the latest write (0 while empty); None: this store cannot tell."""
        ...

    def sample_written_since(
        self, position: int, n: int, rng: np.random.Generator
    ) -> tuple[list[StoredRecord], int]:
        """Up to ``n`` records drawn uniformly among those written after ``position``
        (vectors included), and how many such records there are."""
        ...

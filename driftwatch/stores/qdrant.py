"""Qdrant adapter: a server (``url:`` + secret ``api_key``) or local mode (``path:``).

How Qdrant's points map onto driftwatch's records (``CollectionOptions``):

- the vector: the collection's default vector, or the named vector
  ``vector_name``;
- the text: payload key ``text_key`` (LangChain's ``page_content``);
- the metadata: the rest of the payload. A ``model_key``/``version_key`` with a
  dot (``metadata.embedding_model``, LangChain's layout) is read from the nested
  payload and folded into the record's metadata under that dotted key, so the
  checks see the same shape as with every other store;
- the id: Qdrant ids are unsigned integers or UUIDs. Records driftwatch writes
  (migrations) get ``uuid5(id)`` as point id and keep their own id in payload
  ``ID_KEY``; a point without it is known by its Qdrant id.

Similarity is cosine-like: Cosine scores are cosines, Dot scores dot products
(cosines on unit vectors), Euclid scores distances ``d`` (as ``1 - d^2 / 2``).
Scans scroll with Qdrant's cursor (``next_page_offset``), so every page costs
the same; a sample is Qdrant's own random sample (``SampleQuery``), no scan;
records per tag come from facet counts where Qdrant can give them exactly.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from driftwatch.config import QdrantStoreConfig
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.redact import redact_url
from driftwatch.stores.base import (
    CollectionOptions,
    Distance,
    IndexSettings,
    ProgressCallback,
    QueryHits,
    StoredRecord,
    TagCounts,
    index_part,
    text_hash,
)

T = TypeVar("T")
C = TypeVar("C", bound="QdrantCollection")

# Payload key holding the record's own id when it is not a Qdrant id.
ID_KEY = "driftwatch_id"
# Namespace of the uuid5 point ids of records written by driftwatch.
ID_NAMESPACE = uuid.UUID("6f1b6c1e-2b43-5d8e-9a61-0c2f6b7d4e10")

_DISTANCES: dict[models.Distance, Distance] = {
    models.Distance.COSINE: "cosine",
    models.Distance.DOT: "ip",
    models.Distance.EUCLID: "l2",
}
_QDRANT_DISTANCE = {ours: theirs for theirs, ours in _DISTANCES.items()}
# Distinct tag values asked for per facet call; more than this: scan instead.
_FACET_LIMIT = 10_000


def point_id(record_id: str) -> str | int:
    """The Qdrant point id of a record id: itself if Qdrant accepts it, else uuid5."""
    if record_id.isdigit():
        return int(record_id)
    try:
        return str(uuid.UUID(record_id))
    except ValueError:
        return str(uuid.uuid5(ID_NAMESPACE, record_id))


class QdrantStore:
    """A Qdrant server or local-mode directory; connects on first use."""

    def __init__(self, name: str, cfg: QdrantStoreConfig) -> None:
        self.name = name
        self._cfg = cfg
        self._client: QdrantClient | None = None
        self._lock = threading.Lock()
        self.location = (
            f"qdrant server {redact_url(cfg.url)}" if cfg.url else f"qdrant directory {cfg.path}"
        )

    @property
    def local(self) -> bool:
        """qdrant-client's local mode (``path:``): points in this process, no index."""
        return self._cfg.url is None

    # --- VectorStore / WritableStore -------------------------------------------

    def open_collection(
        self, name: str, options: CollectionOptions | None = None
    ) -> QdrantCollection:
        return self._open(name, options, QdrantCollection)

    def open_writable(
        self, name: str, options: CollectionOptions | None = None
    ) -> WritableQdrantCollection:
        return self._open(name, options, WritableQdrantCollection)

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: Distance,
        options: CollectionOptions | None = None,
        index: IndexSettings | None = None,
    ) -> WritableQdrantCollection:
        """Create ``name`` (the vector ``vector_name``, this size and distance, the
        HNSW settings of ``index``: another Qdrant collection's), or open it if it
        exists with the same dimension and distance."""
        options = options or CollectionOptions()
        if distance not in _QDRANT_DISTANCE:
            raise StoreError(f"unsupported distance {distance!r} for Qdrant collection {name!r}")
        client = self.client()
        params = models.VectorParams(size=dimension, distance=_QDRANT_DISTANCE[distance])
        with self.guard(f"creating collection {name!r}"):
            if not client.collection_exists(name):
                vectors: Any = {options.vector_name: params} if options.vector_name else params
                hnsw = _hnsw_settings(index_part(index, "qdrant", "hnsw"))
                client.create_collection(
                    name,
                    vectors_config=vectors,
                    hnsw_config=models.HnswConfigDiff(**hnsw) if hnsw else None,
                )
        handle = self._open(name, options, WritableQdrantCollection)
        if handle.dimension() != dimension or handle.distance() != distance:
            raise StoreError(
                f"collection {name!r} already exists in store {self.name!r} ({self.location}) "
                f"with dimension {handle.dimension()} and distance {handle.distance()}, "
                f"not dimension {dimension} and distance {distance}"
            )
        return handle

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- connection and errors -------------------------------------------------

    def client(self) -> QdrantClient:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> QdrantClient:
        timeout = max(1, round(self._cfg.timeout.total_seconds()))
        if self._cfg.url:
            key = self._cfg.api_key.get_secret_value() if self._cfg.api_key else None
            with self.guard("connecting"):
                return QdrantClient(
                    url=self._cfg.url, api_key=key, timeout=timeout, check_compatibility=False
                )
        # Local mode creates a missing directory: a typo in `path` would quietly
        # watch a new, empty store, so insist on an existing one.
        path = Path(self._cfg.path or "").expanduser()
        if not path.is_dir():
            raise StoreUnavailable(
                f"store {self.name!r}: qdrant directory {path} does not exist "
                "(path must point at the application's existing Qdrant local-mode directory)"
            )
        with self.guard("opening"):
            return QdrantClient(path=str(path))

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Translate qdrant-client failures of ``action`` into driftwatch errors
        (never with the api key: only the redacted location is named)."""
        try:
            yield
        except (StoreError, CollectionNotFound):
            raise
        except ResponseHandlingException as exc:
            cause = exc.source if isinstance(exc.source, Exception) else exc
            raise StoreUnavailable(
                f"{self.location} is unreachable while {action} (store {self.name!r}): "
                f"{type(cause).__name__}: {cause}"
            ) from None
        except UnexpectedResponse as exc:
            hint = " (check api_key)" if exc.status_code in (401, 403) else ""
            raise StoreUnavailable(
                f"{self.location} answered HTTP {exc.status_code} while {action} "
                f"(store {self.name!r}){hint}"
            ) from None
        except RuntimeError as exc:
            # Local mode: another client (the application's process) holds the directory.
            raise StoreUnavailable(f"{self.location}: {action} failed: {exc}") from exc
        except (ValueError, KeyError, AssertionError) as exc:
            raise StoreError(f"{self.location}: {action} failed: {exc}") from exc

    def _open(self, name: str, options: CollectionOptions | None, kind: type[C]) -> C:
        client = self.client()
        with self.guard(f"opening collection {name!r}"):
            exists = client.collection_exists(name)
        if not exists:
            raise CollectionNotFound(
                f"collection {name!r} does not exist in store {self.name!r} ({self.location})"
            )
        return kind(self, client, name, options or CollectionOptions(), self._cfg.page_size)


class QdrantCollection:
    """One Qdrant collection (``CollectionHandle``, read only)."""

    def __init__(
        self,
        store: QdrantStore,
        client: QdrantClient,
        name: str,
        options: CollectionOptions,
        page_size: int,
    ) -> None:
        self._store = store
        self._client = client
        self._name = name
        self.options = options
        self._page_size = page_size
        self._params = self._vector_params()

    @property
    def name(self) -> str:
        return self._name

    def count(self) -> int:
        result = self._call("counting records", self._client.count, self._name, exact=True)
        return int(result.count)

    def dimension(self) -> int | None:
        """The vector size the collection is configured with."""
        return int(self._params.size)

    def index_settings(self) -> IndexSettings | None:
        """The collection's HNSW settings, with the vector's own overrides (a
        named vector may have them), but not max_indexing_threads (the machine's).
        None in local mode, which searches without an index (and reports only
        Qdrant's defaults, whatever a collection was created with)."""
        if self._store.local:
            return None
        info = self._call("reading the configuration", self._client.get_collection, self._name)
        hnsw = info.config.hnsw_config.model_dump(exclude_none=True)
        if self._params.hnsw_config is not None:
            hnsw |= self._params.hnsw_config.model_dump(exclude_none=True)
        return {"kind": "qdrant", "hnsw": _hnsw_settings(hnsw)}

    def distance(self) -> Distance:
        distance = _DISTANCES.get(self._params.distance)
        if distance is None:
            raise StoreError(
                f"collection {self._name!r} uses Qdrant distance {self._params.distance}, "
                "which has no cosine-like similarity (supported: Cosine, Dot, Euclid)"
            )
        return distance

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        total = self.count() if progress is not None else 0
        done = 0
        for points in self._scroll(page_size, payload=True):
            done += len(points)
            yield [self._metadata(p.payload) for p in points]
            if progress is not None:
                progress(done, max(total, done))

    def iter_text_hashes(
        self, page_size: int | None = None
    ) -> Iterator[Sequence[tuple[str, str | None]]]:
        for points in self._scroll(page_size, payload=[self.options.text_key, ID_KEY]):
            yield [(_record_id(p), text_hash(self._text(p.payload))) for p in points]

    def tag_counts(self) -> TagCounts | None:
        """Records per (model, version) from Qdrant's facet counts (exact), or None
        where facets cannot give the same numbers as a scan: a server without a
        payload index on the keys, float or list values, too many distinct values."""
        try:
            return self._facet_counts()
        except (StoreError, _NotExact):
            return None

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """Qdrant's own uniform random sample (``SampleQuery``): no scan.

        Qdrant draws with its own randomness, so ``rng`` does not make it
        repeatable; it only shuffles the order the records come back in.
        """
        if n <= 0:
            return []
        result = self._call(
            "sampling",
            self._client.query_points,
            self._name,
            query=models.SampleQuery(sample=models.Sample.RANDOM),
            using=self.options.vector_name or None,
            limit=n,
            with_payload=True,
            with_vectors=self._vectors_read(),
        )
        records = [self._record(p) for p in result.points]
        order = rng.permutation(len(records))
        return [records[int(i)] for i in order]

    def get_records(self, ids: Sequence[str], *, vectors: bool = True) -> list[StoredRecord]:
        """The records with these ids that exist (a migration copies them from blue)."""
        if not ids:
            return []
        points = self._call(
            "reading records by id",
            self._client.retrieve,
            self._name,
            ids=[point_id(i) for i in ids],
            with_payload=True,
            with_vectors=self._vectors_read(vectors),
        )
        return [self._record(p) for p in points]

    def _vectors_read(self, vectors: bool = True) -> bool | list[str]:
        """qdrant-client's ``with_vectors``: the named vector alone, all, or none."""
        if vectors and self.options.vector_name:
            return [self.options.vector_name]
        return vectors

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        queries = np.asarray(embeddings, dtype=np.float32)
        if len(queries) == 0:
            return []
        requests = [
            models.QueryRequest(
                query=q.tolist(),
                using=self.options.vector_name or None,
                limit=k,
                with_payload=[ID_KEY],
            )
            for q in queries
        ]
        responses = self._call(
            "querying", self._client.query_batch_points, self._name, requests=requests
        )
        convert = _SIMILARITY[self.distance()]
        return [
            QueryHits(
                ids=[_record_id(p) for p in r.points],
                similarities=[convert(float(p.score)) for p in r.points],
            )
            for r in responses
        ]

    # --- helpers ---------------------------------------------------------------

    def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._store.guard(f"{action} of collection {self._name!r}"):
            try:
                return fn(*args, **kwargs)
            except UnexpectedResponse as exc:
                if exc.status_code == 404:
                    raise CollectionNotFound(
                        f"collection {self._name!r} does not exist in store "
                        f"{self._store.name!r} ({self._store.location})"
                    ) from None
                raise

    def _vector_params(self) -> models.VectorParams:
        info = self._call("reading the configuration", self._client.get_collection, self._name)
        vectors = info.config.params.vectors
        wanted = self.options.vector_name
        if isinstance(vectors, models.VectorParams):
            if wanted:
                raise StoreError(
                    f"collection {self._name!r} has one unnamed vector, not a vector "
                    f'named {wanted!r} (set vector_name: "")'
                )
            return vectors
        named = dict(vectors or {})
        if wanted not in named:
            known = ", ".join(repr(k) for k in sorted(named)) or "none"
            raise StoreError(
                f"collection {self._name!r} has no vector named {wanted!r} "
                f"(its vectors: {known}); set vector_name to one of them"
            )
        return named[wanted]

    def _scroll(self, page_size: int | None, payload: bool | list[str]) -> Iterator[list[Any]]:
        """Every point, by Qdrant's scroll cursor (each page costs the same)."""
        size = page_size or self._page_size
        offset: Any = None
        while True:
            points, offset = self._call(
                "scrolling",
                self._client.scroll,
                self._name,
                limit=size,
                offset=offset,
                with_payload=payload,
                with_vectors=False,
            )
            if points:
                yield points
            if offset is None:
                return

    def _text(self, payload: Mapping[str, Any] | None) -> str | None:
        value = _lookup(payload or {}, self.options.text_key)
        return value if isinstance(value, str) else None

    def _metadata(self, payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The payload without the text and driftwatch's id key; dotted tag keys folded in."""
        if not payload:
            return None
        meta = {k: v for k, v in payload.items() if k not in (self.options.text_key, ID_KEY)}
        for key in (self.options.model_key, self.options.version_key):
            if "." in key:
                value = _lookup(payload, key)
                if value is not None:
                    meta[key] = value
        return meta or None

    def _record(self, point: Any) -> StoredRecord:
        vector = point.vector
        if isinstance(vector, dict):
            vector = vector.get(self.options.vector_name)
        return StoredRecord(
            id=_record_id(point),
            document=self._text(point.payload),
            embedding=None if vector is None else np.asarray(vector, dtype=np.float32),
            metadata=self._metadata(point.payload) or {},
        )

    def _facet_counts(self) -> TagCounts:
        from driftwatch.checks.base import metadata_tag

        model_key, version_key = self.options.model_key, self.options.version_key
        total = self.count()
        counts: TagCounts = {}

        def add(model: Any, version: Any, n: int) -> None:
            key = (metadata_tag({"k": model}, "k"), metadata_tag({"k": version}, "k"))
            counts[key] = counts.get(key, 0) + n

        models_hits = self._facet(model_key, None)
        untagged_filter = models.Filter(
            must=[models.IsEmptyCondition(is_empty=models.PayloadField(key=model_key))]
        )
        untagged = self._count(untagged_filter)
        if sum(h.count for h in models_hits) + untagged != total:
            raise _NotExact  # floats or lists among the model values
        groups = [(h.value, h.count, _match(model_key, h.value)) for h in models_hits]
        groups.append((None, untagged, untagged_filter))
        for model, n_model, where in groups:
            if n_model == 0:
                continue
            versions = self._facet(version_key, where)
            no_version = models.Filter(
                must=[
                    *(where.must or []),
                    models.IsEmptyCondition(is_empty=models.PayloadField(key=version_key)),
                ]
            )
            n_none = self._count(no_version)
            if sum(h.count for h in versions) + n_none != n_model:
                raise _NotExact
            for h in versions:
                add(model, h.value, h.count)
            if n_none:
                add(model, None, n_none)
        return counts

    def _facet(self, key: str, where: models.Filter | None) -> list[Any]:
        result = self._call(
            f"counting values of {key!r}",
            self._client.facet,
            self._name,
            key=key,
            facet_filter=where,
            limit=_FACET_LIMIT,
            exact=True,
        )
        if len(result.hits) >= _FACET_LIMIT:
            raise _NotExact
        return list(result.hits)

    def _count(self, where: models.Filter) -> int:
        result = self._call(
            "counting records", self._client.count, self._name, count_filter=where, exact=True
        )
        return int(result.count)


class WritableQdrantCollection(QdrantCollection):
    """A Qdrant collection driftwatch writes (``WritableCollection``): a migration target."""

    def finish_load(self) -> None:
        """Nothing to build: the store indexes records as they are written."""

    def unfinished_load(self) -> str | None:
        return None

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        missing = [r.id for r in records if r.embedding is None]
        if missing:
            raise StoreError(
                f"cannot upsert into collection {self._name!r}: no vector for ids {missing[:5]}"
            )
        for start in range(0, len(records), self._page_size):
            chunk = records[start : start + self._page_size]
            points = [self._point(r) for r in chunk]
            self._call(
                f"upserting {len(points)} records",
                self._client.upsert,
                self._name,
                points=points,
                wait=True,
            )

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self._page_size):
            chunk = [point_id(i) for i in ids[start : start + self._page_size]]
            self._call(
                f"deleting {len(chunk)} records",
                self._client.delete,
                self._name,
                points_selector=models.PointIdsList(points=chunk),
                wait=True,
            )

    def _point(self, record: StoredRecord) -> models.PointStruct:
        payload: dict[str, Any] = {}
        for key, value in record.metadata.items():
            _assign(payload, key, value)
        if record.document is not None:
            _assign(payload, self.options.text_key, record.document)
        payload[ID_KEY] = record.id
        vector = np.asarray(record.embedding, dtype=np.float32).tolist()
        name = self.options.vector_name
        return models.PointStruct(
            id=point_id(record.id), vector={name: vector} if name else vector, payload=payload
        )


class _NotExact(Exception):
    """Facet counts would not equal a scan's: the caller scans instead."""


_SIMILARITY: dict[Distance, Callable[[float], float]] = {
    "cosine": lambda s: s,
    "ip": lambda s: s,
    "l2": lambda d: 1.0 - d * d / 2.0,
}


def _hnsw_settings(hnsw: Mapping[str, Any]) -> dict[str, Any]:
    """HNSW settings as HnswConfigDiff takes them, but max_indexing_threads (the machine's)."""
    known = set(models.HnswConfigDiff.model_fields) - {"max_indexing_threads"}
    return {k: v for k, v in hnsw.items() if k in known and v is not None}


def _record_id(point: Any) -> str:
    own = (point.payload or {}).get(ID_KEY)
    return str(own) if own is not None else str(point.id)


def _lookup(payload: Mapping[str, Any], key: str) -> Any:
    """``payload[key]``, or the nested value for a dotted key (``metadata.model``)."""
    if key in payload:
        return payload[key]
    value: Any = payload
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _assign(payload: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` in ``payload``, nested for a dotted key (the way it is read back)."""
    parts = key.split(".")
    node = payload
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            payload[key] = value
            return
        node = child
    node[parts[-1]] = value


def _match(key: str, value: Any) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))]
    )

"""ChromaDB adapter: an embedded ``PersistentClient`` (``path:``) or a server (``url:``).

Every Chroma call goes through ``ChromaStore.guard``, which turns Chroma's and httpx's
exceptions into driftwatch's: an unreachable or slow server becomes
``StoreUnavailable`` (naming the server, without credentials), a missing
collection ``CollectionNotFound``. Telemetry is off (``anonymized_telemetry``),
so the client talks to nothing but the configured store.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings
from chromadb.errors import ChromaError, NotFoundError

from driftwatch.cache_home import cache_dir
from driftwatch.config import ChromaStoreConfig
from driftwatch.errors import (
    CollectionNotFound,
    EmbedderUnavailable,
    StoreError,
    StoreUnavailable,
)
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
from driftwatch.stores.chroma_id_cache import IdCache
from driftwatch.stores.chroma_ids import IdSnapshot, SnapshotSampler
from driftwatch.stores.chroma_inuse import refuse_if_in_use
from driftwatch.stores.chroma_sqlite import ChromaSqlite
from driftwatch.stores.chroma_tags import CountedTags, TagFilters, Uncountable

T = TypeVar("T")
C = TypeVar("C", bound="ChromaCollection")
K = TypeVar("K")

# Chroma's distance -> cosine similarity, per the collection's space. Chroma's
# "l2" is the squared distance, which on unit vectors is 2 - 2*cos; "cosine"
# is 1 - cos; "ip" is 1 - dot (= 1 - cos on unit vectors).
_SIMILARITY: dict[Distance, Callable[[np.ndarray], np.ndarray]] = {
    "cosine": lambda d: 1.0 - d,
    "ip": lambda d: 1.0 - d,
    "l2": lambda d: 1.0 - d / 2.0,
}
_DEFAULT_SPACE: Distance = "l2"  # Chroma's own default when a collection names none
# Collection metadata key recording the dimension driftwatch created a collection
# with, so that a second create_collection can compare before any record exists.
_DIMENSION_KEY = "driftwatch:dimension"
_SQLITE_FILE = "chroma.sqlite3"  # present in every embedded Chroma directory
# Ids per get by id (a sample's records, a migration's copies): ~0.4 MB of ids a page.
_ID_PAGE = 20_000
# Chroma 1.5 (embedded: measured; the server runs the same engine) fails a
# metadata page of more records than SQLite's 32,766 bound variables.
_MAX_METADATA_PAGE = 32_766
# The HNSW settings a migration's green takes from blue (Chroma 1.x configuration keys).
_HNSW_COPIED = frozenset(
    {
        "ef_construction",
        "ef_search",
        "max_neighbors",
        "resize_factor",
        "batch_size",
        "sync_threshold",
    }
)


def chroma_settings() -> Settings:
    """The client settings driftwatch uses everywhere (telemetry off).

    Chroma shares one client system per embedded directory in a process and
    refuses a second client with different settings, so anything opening the
    same directory in-process (tests, benchmarks) must use these too.
    """
    return Settings(anonymized_telemetry=False)


class KeptPerCollection(Generic[K]):
    """What a store keeps between calls, per collection name, for the collection
    that has the name now: one made again under the same name (a new id) starts
    afresh, and a name holds one entry however often that happens."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[str, K]] = {}

    def get(self, key: Hashable, collection_id: str) -> K | None:
        entry = self._kept.get(key)
        return entry[1] if entry is not None and entry[0] == collection_id else None

    def put(self, key: Hashable, collection_id: str, value: K) -> None:
        self._kept[key] = (collection_id, value)

    def values(self) -> list[K]:
        return [value for _, value in self._kept.values()]

    def clear(self) -> None:
        self._kept.clear()


class ChromaStore:
    """A Chroma store: connects on first use, one client for all its collections."""

    def __init__(self, name: str, cfg: ChromaStoreConfig, owner_pid: int | None = None) -> None:
        """``owner_pid``: the daemon whose store worker this runs in (default: this
        process); its process tree (its store workers) does not count as "another
        process" using an embedded directory."""
        self.name = name
        self._cfg = cfg
        self._owner_pid = owner_pid
        self._client: Any = None
        self._lock = threading.Lock()  # checks of several collections run in parallel
        self._handles: weakref.WeakSet[ChromaCollection] = weakref.WeakSet()
        # What a server's last count of a collection's tags found, per (name,
        # model key, version key): the next count starts from it (``chroma_tags``).
        self.counted_tags: KeptPerCollection[CountedTags] = KeptPerCollection()
        # The ids a server's collection held at its last sample, per name: the
        # next sample draws from them (``chroma_ids``).
        self.id_snapshots: KeptPerCollection[IdSnapshot] = KeptPerCollection()
        self.location = (
            f"chroma server {redact_url(cfg.url)}" if cfg.url else f"chroma directory {cfg.path}"
        )
        # ... and on disk, for the next process (``chroma_id_cache``).
        self.id_cache = IdCache(cache_dir("chroma-ids"), (self.location, cfg.tenant, cfg.database))

    def open_collection(
        self, name: str, options: CollectionOptions | None = None
    ) -> ChromaCollection:
        return self._open(name, options, ChromaCollection)

    def open_writable(
        self, name: str, options: CollectionOptions | None = None
    ) -> WritableChromaCollection:
        return self._open(name, options, WritableChromaCollection)

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: Distance,
        options: CollectionOptions | None = None,
        index: IndexSettings | None = None,
    ) -> WritableChromaCollection:
        """Create ``name`` with this distance (the hnsw space) and the HNSW
        settings of ``index`` (another Chroma collection's), or open it if it
        exists with the same dimension and distance."""
        if distance not in _SIMILARITY:
            raise StoreError(f"unsupported distance {distance!r} for Chroma collection {name!r}")
        with self._lock:
            client = self._connect()
            with self.guard(f"creating collection {name!r}"):
                try:
                    coll = client.get_collection(name, embedding_function=None)
                except NotFoundError:
                    coll = client.create_collection(
                        name,
                        embedding_function=None,
                        configuration={
                            "hnsw": {
                                **_hnsw_settings(index_part(index, "chroma", "hnsw")),
                                "space": distance,
                            }
                        },
                        metadata={_DIMENSION_KEY: dimension},
                    )
            handle = WritableChromaCollection(
                coll, self, self._cfg.page_size, options, self._sqlite_view(coll)
            )
            self._handles.add(handle)
        have_distance, have_dimension = handle.distance(), handle.dimension()
        if have_dimension is None:
            recorded = (coll.metadata or {}).get(_DIMENSION_KEY)
            have_dimension = recorded if isinstance(recorded, int) else None
        if have_distance != distance or have_dimension not in (None, dimension):
            raise StoreError(
                f"collection {name!r} already exists in store {self.name!r} "
                f"({self.location}) with dimension {have_dimension} and distance "
                f"{have_distance}, not dimension {dimension} and distance {distance}"
            )
        return handle

    def _open(self, name: str, options: CollectionOptions | None, kind: type[C]) -> C:
        # Under the lock until the handle is registered, so that a parallel
        # open_collection cannot close the client this handle is built on.
        with self._lock:
            client = self._connect()
            with self.guard(f"opening collection {name!r}"):
                try:
                    coll = client.get_collection(name, embedding_function=None)
                except NotFoundError:
                    raise CollectionNotFound(
                        f"collection {name!r} does not exist in store {self.name!r} "
                        f"({self.location})"
                    ) from None
            handle = kind(coll, self, self._cfg.page_size, options, self._sqlite_view(coll))
            self._handles.add(handle)
            return handle

    def _sqlite_view(self, coll: Any) -> ChromaSqlite | None:
        """For an embedded store, the read-only SQLite view of ``coll`` (chroma_sqlite.py)."""
        if self._cfg.path is None:
            return None
        return ChromaSqlite.open(Path(self._cfg.path).expanduser(), str(coll.id))

    def max_batch_size(self) -> int:
        """Records per write call the client accepts (Chroma rejects larger batches)."""
        with self._lock:
            client = self._connect()
        with self.guard("reading the maximum batch size"):
            return int(client.get_max_batch_size())

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _connect(self) -> Any:
        """The client, (re)connected as needed; the caller holds ``_lock``."""
        if self._client is not None and self._cfg.path and not self._handles:
            # An embedded client answers queries from the vector index as it
            # was when the client opened; the application writes from its own
            # process. Reopening (once no check holds a handle on the old
            # client) makes each check cycle see the application's writes.
            self._client.close()
            self._client = None
        if self._client is None:
            self._client = self._http_client() if self._cfg.url else self._embedded_client()
        return self._client

    def _embedded_client(self) -> Any:
        # Chroma creates a missing directory, so a typo in `path` would quietly
        # monitor a new, empty store: insist on an existing Chroma directory.
        path = Path(self._cfg.path or "").expanduser()
        if not path.is_dir():
            raise StoreUnavailable(
                f"store {self.name!r}: chroma directory {path} does not exist "
                "(path must point at the application's existing Chroma directory)"
            )
        if not (path / _SQLITE_FILE).is_file():
            raise StoreUnavailable(
                f"store {self.name!r}: {path} is not a Chroma directory (no {_SQLITE_FILE})"
            )
        # Opening a PersistentClient writes (Chroma persists its vector index on open).
        refuse_if_in_use(self.name, path, self._owner_pid or os.getpid())
        with self.guard("opening"):
            return chromadb.PersistentClient(
                str(path.resolve()),
                settings=chroma_settings(),
                tenant=self._cfg.tenant,
                database=self._cfg.database,
            )

    def _http_client(self) -> Any:
        url = self._cfg.url or ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreUnavailable(
                f"store {self.name!r}: url {redact_url(url)} is not an http(s)://host:port URL"
            )
        headers = {k: v.get_secret_value() for k, v in self._cfg.headers.items()}
        timeout = self._cfg.timeout.total_seconds()
        # chromadb's HTTP client has no timeout of its own and its constructor
        # already talks to the server, so reachability is checked first with one.
        with self.guard("connecting"):
            httpx.get(
                url.rstrip("/") + "/api/v2/heartbeat", headers=headers, timeout=timeout
            ).raise_for_status()
            client = chromadb.HttpClient(
                host=url,
                ssl=parts.scheme == "https",
                headers=headers,
                settings=chroma_settings(),
                tenant=self._cfg.tenant,
                database=self._cfg.database,
            )
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(timeout)
        return client

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Translate Chroma/httpx failures of ``action`` into driftwatch errors."""
        try:
            yield
        except (StoreError, EmbedderUnavailable):
            raise
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"{self.location} timed out after {self._cfg.timeout.total_seconds():g}s "
                f"while {action} (store {self.name!r}): {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"{self.location} is unreachable: {str(exc) or type(exc).__name__} "
                f"(store {self.name!r})"
            ) from exc
        except httpx.HTTPStatusError as exc:
            raise StoreUnavailable(
                f"{self.location} answered HTTP {exc.response.status_code} while {action} "
                f"(store {self.name!r})"
            ) from exc
        except ValueError as exc:
            # chromadb's client constructor reports a refused connection this way.
            cause = exc.__context__
            if isinstance(cause, httpx.TransportError):
                raise StoreUnavailable(
                    f"{self.location} is unreachable: {cause} (store {self.name!r})"
                ) from exc
            raise StoreError(f"{self.location}: {action} failed: {exc}") from exc
        except ChromaError as exc:
            raise StoreError(f"{self.location}: {action} failed: {exc}") from exc


class ChromaCollection:
    """One Chroma collection (``CollectionHandle``, read only)."""

    def __init__(
        self,
        collection: Any,
        store: ChromaStore,
        page_size: int,
        options: CollectionOptions | None = None,
        sqlite: ChromaSqlite | None = None,
    ) -> None:
        self._coll = collection
        self._store = store
        self._page_size = page_size
        self.options = options or CollectionOptions()
        self.space: Distance = collection_space(collection)
        # Embedded stores: counts, id pages, samples and tags read from SQLite
        # directly (linear scans, samples without a walk); servers: the API.
        self._sqlite = sqlite

    @property
    def name(self) -> str:
        return str(self._coll.name)

    @property
    def configuration_json(self) -> dict[str, Any]:
        """The collection's configuration, from which the chroma embedder rebuilds
        the application's embedding function (driftwatch.embedders.chroma)."""
        return dict(self._coll.configuration_json or {})

    def distance(self) -> Distance:
        return self.space

    def index_settings(self) -> IndexSettings | None:
        """The HNSW settings of the collection's configuration but its space
        (a collection on Chroma's distributed SPANN index has none to copy)."""
        hnsw = _hnsw_settings(self.configuration_json.get("hnsw") or {})
        return {"kind": "chroma", "hnsw": hnsw} if hnsw else None

    def tag_counts(self) -> TagCounts | None:
        """Records per (model, version) tag, named as ``metadata_tag`` names them.

        Embedded: GROUP BY in SQLite. Server: Chroma's ``where`` filters
        (``chroma_tags``), so the server does the counting: the requests grow
        with the distinct tags, not with the collection (an offset scan walks to
        each page's offset). None where a tag key holds a list (Chroma's filters
        do not match a list by its items) or a value of another type: the
        version mix then scans.
        """
        o = self.options
        if self._sqlite is not None:
            view = self._sqlite
            return self._read("counting tags", lambda: view.tag_counts(o.model_key, o.version_key))
        filters = TagFilters(
            get=lambda action, **kwargs: self._call(action, self._coll.get, **kwargs),
            count=self.count,
            model_key=o.model_key,
            version_key=o.version_key,
            page_size=min(self._page_size, _MAX_METADATA_PAGE),
        )
        kept, coll_id = self._store.counted_tags, str(self._coll.id)
        key = (self.name, o.model_key, o.version_key)
        try:
            counts, found = filters.counted(kept.get(key, coll_id))
        except Uncountable:
            return None
        kept.put(key, coll_id, found)
        return counts

    def count(self) -> int:
        if self._sqlite is not None:
            return self._read("counting records", self._sqlite.count)
        return int(self._call("counting records", self._coll.count))

    def dimension(self) -> int | None:
        if self._sqlite is not None:
            view = self._sqlite
            return self._read("reading the dimension", view.dimension)
        page = self._call("reading one embedding", self._coll.get, include=["embeddings"], limit=1)
        embeddings = page["embeddings"]
        return None if embeddings is None or len(embeddings) == 0 else len(embeddings[0])

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        """Yield metadata pages of ``page_size`` records (the store's default if None;
        at most ``_MAX_METADATA_PAGE``).

        Records added or deleted during a scan may be counted twice or missed,
        which a version mix tolerates (the next run is exact again).
        """
        if self._sqlite is not None:
            for records in self._sqlite_pages(page_size, progress):
                yield [meta for _, meta, _ in records]
            return
        for page in self._pages(["metadatas"], page_size, progress):
            yield page["metadatas"] or [None] * len(page["ids"])

    def iter_text_hashes(
        self, page_size: int | None = None
    ) -> Iterator[Sequence[tuple[str, str | None]]]:
        if self._sqlite is not None:
            for records in self._sqlite_pages(page_size, None):
                yield [(rid, text_hash(doc)) for rid, _, doc in records]
            return
        for page in self._pages(["documents"], page_size, None):
            documents = page["documents"] or [None] * len(page["ids"])
            yield [(rid, text_hash(doc)) for rid, doc in zip(page["ids"], documents, strict=True)]

    def _sqlite_pages(
        self, page_size: int | None, progress: ProgressCallback | None
    ) -> Iterator[list[tuple[str, dict[str, Any] | None, str | None]]]:
        """Embedded: records read from SQLite by a cursor on the integer key, so
        every page costs the same wherever it is (chroma_sqlite.py)."""
        assert self._sqlite is not None
        view, size = self._sqlite, page_size or self._page_size
        total = self.count()
        pages = self._read("listing records", lambda: view.record_pages(size))
        done = 0
        while (records := self._read("reading records", lambda: next(pages, None))) is not None:
            done += len(records)
            yield records
            if progress is not None:
                progress(done, max(total, done))
        if progress is not None and done == 0:
            progress(0, total)

    def _pages(
        self, include: list[str], page_size: int | None, progress: ProgressCallback | None
    ) -> Iterator[Mapping[str, Any]]:
        """Server: every record, ``include`` fields, by ``get(limit, offset)`` in
        storage order; each page walks to its offset (Chroma's API has no cursor)."""
        size = min(page_size or self._page_size, _MAX_METADATA_PAGE)
        total = self.count()
        done = 0
        while True:
            page = self._call(
                f"reading records at offset {done}",
                self._coll.get,
                include=include,
                limit=size,
                offset=done,
            )
            done += len(page["ids"])
            if page["ids"]:
                yield page
            if progress is not None:
                progress(done, max(total, done))
            if len(page["ids"]) < size:
                return

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """A uniform random sample of ``n`` records across the whole collection.

        Embedded: random integer keys in SQLite (``ChromaSqlite.sample_ids``),
        reading only what is drawn, then just those records by id. Server: drawn
        from the ids the store keeps between samples, brought up to date by the
        tail of the collection (``chroma_ids``): a sample reads the tail and the
        drawn records, not every id. A new process starts from the ids an earlier
        one kept on disk (``chroma_id_cache``); without them it lists every id.
        """
        if self._sqlite is not None:
            view = self._sqlite
            return self.get_records(self._read("sampling ids", lambda: view.sample_ids(n, rng)))
        sampler = SnapshotSampler(
            count=self.count,
            list_ids=lambda offset, limit: self._call(
                f"listing ids at offset {offset}",
                self._coll.get,
                include=[],
                limit=limit,
                offset=offset,
            )["ids"],
            fetch=self.get_records,
        )
        kept, on_disk, coll_id = self._store.id_snapshots, self._store.id_cache, str(self._coll.id)
        snapshot = kept.get(self.name, coll_id)
        if snapshot is None:
            snapshot = on_disk.load(coll_id)
        records, snapshot = sampler.sample(snapshot, n, rng)
        kept.put(self.name, coll_id, snapshot)
        on_disk.keep(coll_id, snapshot)
        return records

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        """Top-k per query; similarity converted from the collection space's distance."""
        queries = np.asarray(embeddings, dtype=np.float32)
        if len(queries) == 0:
            return []
        # Chroma returns fewer than k hits (none, if empty) for a smaller collection.
        result = self._call(
            "querying",
            self._coll.query,
            query_embeddings=queries,
            n_results=k,
            include=["distances"],
        )
        to_similarity = _SIMILARITY[self.space]
        return [
            QueryHits(
                ids=list(ids),
                similarities=to_similarity(np.asarray(dists, dtype=np.float64)).tolist(),
            )
            for ids, dists in zip(result["ids"], result["distances"] or [], strict=True)
        ]

    def latest_write(self) -> int | None:
        """``stores.base.WriteLog``: the seq_id of the latest write, read from an
        embedded store's SQLite; None for a server (its API does not expose it)."""
        if self._sqlite is None:
            return None
        return self._read("reading the latest write", self._sqlite.latest_write)

    def sample_written_since(
        self, position: int, n: int, rng: np.random.Generator
    ) -> tuple[list[StoredRecord], int]:
        """``stores.base.WriteLog``: up to n records written after seq_id ``position``."""
        if self._sqlite is None:
            return [], 0
        view = self._sqlite
        ids, written = self._read(
            "listing records written since the baseline",
            lambda: view.ids_written_since(position, n, rng),
        )
        return self.get_records(ids), written

    def get_records(self, ids: Sequence[str], *, vectors: bool = True) -> list[StoredRecord]:
        """The records with these ids (``stores.base.RecordReader``; migrations copy them)."""
        include = (
            ["embeddings", "documents", "metadatas"] if vectors else ["documents", "metadatas"]
        )
        records: list[StoredRecord] = []
        for start in range(0, len(ids), _ID_PAGE):
            page = self._call(
                "reading records by id",
                self._coll.get,
                ids=list(ids[start : start + _ID_PAGE]),
                include=include,
            )
            records += _records(page)
        return records

    def _call(self, action: str, fn: Callable[..., T], **kwargs: Any) -> T:
        with self._store.guard(f"{action} of collection {self.name!r}"):
            return fn(**kwargs)

    def _read(self, action: str, fn: Callable[[], T]) -> T:
        """A read of the embedded store's SQLite file, its failures as StoreError."""
        try:
            return fn()
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self._store.location}: {action} of collection {self.name!r} "
                f"failed reading chroma.sqlite3: {exc}"
            ) from exc


class WritableChromaCollection(ChromaCollection):
    """A Chroma collection driftwatch writes (``WritableCollection``): a migration target."""

    def finish_load(self) -> None:
        """Nothing to build: the store indexes records as they are written."""

    def unfinished_load(self) -> str | None:
        return None

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        """Upsert in batches of at most the client's maximum batch size."""
        missing = [r.id for r in records if r.embedding is None]
        if missing:
            raise StoreError(
                f"cannot upsert into collection {self.name!r}: no vector for ids {missing[:5]}"
            )
        batch = self._store.max_batch_size()
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            self._call(
                f"upserting {len(chunk)} records",
                self._coll.upsert,
                ids=[r.id for r in chunk],
                embeddings=np.stack([np.asarray(r.embedding, dtype=np.float32) for r in chunk]),
                documents=[r.document for r in chunk],
                # Chroma stores None as "no metadata" and rejects an empty dict.
                metadatas=[dict(r.metadata) or None for r in chunk],
            )

    def delete(self, ids: Sequence[str]) -> None:
        batch = self._store.max_batch_size()
        for start in range(0, len(ids), batch):
            chunk = list(ids[start : start + batch])
            self._call(f"deleting {len(chunk)} records", self._coll.delete, ids=chunk)


def _hnsw_settings(hnsw: Mapping[str, Any]) -> dict[str, Any]:
    """The HNSW build and search settings of a Chroma configuration's ``hnsw``:
    not the space (the migration's distance) nor num_threads (the machine's)."""
    return {k: v for k, v in hnsw.items() if k in _HNSW_COPIED and v is not None}


def collection_space(collection: Any) -> Distance:
    """The distance space: configuration (hnsw/spann), then schema, then legacy metadata."""
    config = collection.configuration_json or {}
    for index in ("hnsw", "spann"):
        space = (config.get(index) or {}).get("space")
        if space:
            return _known_space(space)
    schema = getattr(collection, "_model", None)
    serialized = getattr(schema, "serialized_schema", None) or {}
    vector = (
        serialized.get("keys", {})
        .get("#embedding", {})
        .get("float_list", {})
        .get("vector_index", {})
        .get("config", {})
    )
    if vector.get("space"):
        return _known_space(vector["space"])
    metadata = collection.metadata or {}
    return _known_space(metadata.get("hnsw:space", _DEFAULT_SPACE))


def _known_space(space: object) -> Distance:
    for known in _SIMILARITY:
        if space == known:
            return known
    raise StoreError(f"unsupported Chroma distance space {space!r}")


def _records(page: Mapping[str, Any]) -> list[StoredRecord]:
    ids = page["ids"]
    documents = page.get("documents") or [None] * len(ids)
    embeddings = page.get("embeddings")
    if embeddings is None:
        embeddings = [None] * len(ids)
    metadatas = page.get("metadatas") or [None] * len(ids)
    return [
        StoredRecord(
            id=rid,
            document=doc,
            embedding=None if emb is None else np.asarray(emb, dtype=np.float32),
            metadata=meta or {},
        )
        for rid, doc, emb, meta in zip(ids, documents, embeddings, metadatas, strict=True)
    ]

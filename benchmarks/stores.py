"""Store adapters at scale: what a probe cycle and a version-mix scan cost.

Collections of 384-d random unit vectors with short texts, tagged with three
(model, version) pairs and ~2% untagged, are built once per size and cached
under benchmarks/.work (``build``). ``run`` then times, per size, through
driftwatch's own Chroma adapter (``ChromaStore`` on the embedded directory):

- ``count()``;
- ``sample(300)``;
- the store's part of one probe cycle: count + dimension + sample(300) +
  query(300 vectors, top 10) + query(20 canaries, top 10) (embedding the texts
  is measured by benchmarks/probe_cycle.py and does not grow with the store);
- the version mix: ``check_version_mix`` (``tag_counts`` where the store
  counts by itself) and the full ``iter_metadata`` scan;
- baselines in the same run, alternated: Chroma's own API scan
  (``get(include=["metadatas"], limit, offset)`` loop, what the check did before)
  and one SQL ``GROUP BY`` over the whole collection on the SQLite file (the
  least work counting can be).

Growth for 2x the records (200k vs 100k) tells linear (~2x) from super-linear.

    python -m benchmarks.stores build --records 100000 200000 1000000   # once
    python -m benchmarks.stores run --records 100000 200000 1000000
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from benchmarks.common import WORK_DIR, Timing, best, peak_rss_mb, time_call, write_results
from benchmarks.version_mix_scan import raw_scan
from driftwatch.checks.base import CheckContext
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import ChromaStoreConfig, CollectionConfig
from driftwatch.stores.chroma import ChromaStore, chroma_settings

COLLECTION = "bench-stores"
DIM = 384
# The index the benchmark collections are built with. Lighter than Chroma's
# default (ef_construction 100, max_neighbors 16) so that 1M records build in
# well under an hour on 2 shared cores; what is measured here (sampling, scans,
# counting) reads SQLite, not the index, and queries use the default ef_search.
HNSW = {
    "space": "cosine",
    "ef_construction": 20,
    "max_neighbors": 8,
    "batch_size": 10_000,
    "sync_threshold": 200_000,
}
# (model, version, share of records); the rest are untagged.
TAGS = [
    ("all-MiniLM-L6-v2", "v1", 0.60),
    ("all-MiniLM-L6-v2", "v2", 0.25),
    ("paraphrase-MiniLM-L3-v2", "1", 0.13),
]


def chroma_path(records: int) -> Path:
    return WORK_DIR / f"stores-chroma-{records}"


def records_batch(start: int, n: int) -> dict[str, Any]:
    """Records start..start+n-1: deterministic per position, whatever the batching."""
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cut = np.cumsum([share for _, _, share in TAGS])
    picks = np.searchsorted(cut, rng.random(n))
    metadatas: list[Any] = [
        {"embedding_model": TAGS[p][0], "embedding_version": TAGS[p][1], "chunk": i}
        if p < len(TAGS)
        else {"chunk": i}
        for i, p in zip(range(start, start + n), picks, strict=True)
    ]
    return {
        "ids": [f"rec-{i:08d}" for i in range(start, start + n)],
        "embeddings": vectors,
        "metadatas": metadatas,
        "documents": [f"record {i} of the benchmark collection" for i in range(start, start + n)],
    }


def build_chroma(targets: list[int]) -> None:
    """Embedded Chroma collections of each target size, unless cached.

    One collection grows to each size in turn and is copied (client closed)
    at each, so building 100k, 200k and 1M costs what building 1M costs.
    """
    growing = WORK_DIR / "stores-chroma-growing"
    for records in sorted(targets):
        if chroma_path(records).is_dir():
            continue
        t, _ = time_call(lambda: grow_chroma(growing, records))  # noqa: B023
        shutil.copytree(growing, chroma_path(records))
        print(f"built {records} records ({t.wall_s:.1f}s)", flush=True)


def grow_chroma(path: Path, records: int) -> None:
    """Add records to the collection under ``path`` until it holds ``records``."""
    path.mkdir(parents=True, exist_ok=True)
    client: Any = chromadb.PersistentClient(str(path), settings=chroma_settings())
    try:
        coll = client.get_or_create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": HNSW}
        )
        done = coll.count()
        batch = client.get_max_batch_size()
        while done < records:
            n = min(batch, records - done)
            coll.add(**records_batch(done, n))
            done += n
            if done % (batch * 20) < batch:
                print(f"{done} records", flush=True)
    finally:
        client.close()


def raw_sql_group_by(path: Path, collection_id: str) -> int:
    """One GROUP BY over the whole collection in SQLite: the floor for counting tags."""
    conn = sqlite3.connect((path / "chroma.sqlite3").as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute(
            """SELECT m.string_value, v.string_value, count(*) FROM embeddings e
            JOIN segments s ON s.id = e.segment_id AND s.scope = 'METADATA'
            LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key = 'embedding_model'
            LEFT JOIN embedding_metadata v ON v.id = e.id AND v.key = 'embedding_version'
            WHERE s.collection = ? GROUP BY 1, 2""",
            (collection_id,),
        ).fetchall()
    finally:
        conn.close()
    return sum(int(r[2]) for r in rows)


def probe_store_part(handle: Any, rng: np.random.Generator, canaries: np.ndarray) -> int:
    """The store calls of one probe cycle (no embedding)."""
    handle.count()
    handle.dimension()
    sample = handle.sample(300, rng)
    vectors = np.stack([r.embedding for r in sample])
    handle.query(vectors, 10)
    handle.query(canaries, 10)
    return len(sample)


def run_size(records: int, repeats: int) -> dict[str, Any]:
    path = chroma_path(records)
    collection = CollectionConfig(
        store="bench", name=COLLECTION, embedder="none", expected_model=TAGS[0][0]
    )
    store = ChromaStore("bench", ChromaStoreConfig(path=str(path)))
    client: Any = chromadb.PersistentClient(str(path), settings=chroma_settings())
    timings: dict[str, list[Timing]] = {}

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        t, result = time_call(fn)
        timings.setdefault(label, []).append(t)
        return result

    try:
        raw = client.get_collection(COLLECTION, embedding_function=None)
        handle = store.open_collection(COLLECTION)
        assert handle.count() == records
        # Chroma loads a collection's segments on the first call that needs the
        # index, replaying records not yet persisted to it (the build's
        # sync_threshold); timed once, apart from the repeated measurements.
        canaries = records_batch(records + 1, 20)["embeddings"]
        first_open = time_call(lambda: handle.query(canaries[:1], 1))[0]
        rng = np.random.default_rng(0)
        ctx = CheckContext(collection=collection, store=handle, embedder=None)  # type: ignore[arg-type]
        for _ in range(repeats):
            assert timed("count", handle.count) == records
            assert len(timed("sample_300", lambda: handle.sample(300, rng))) == 300
            timed("probe_store_part", lambda: probe_store_part(handle, rng, canaries))
            result = timed("check_version_mix", lambda: check_version_mix(ctx))
            assert result.detail["total"] == records, result.detail
            scanned = timed(
                "iter_metadata_scan", lambda: sum(len(p) for p in handle.iter_metadata())
            )
            assert scanned == records
            assert timed("tag_counts", handle.tag_counts) is not None
            assert timed("raw_sql_group_by", lambda: raw_sql_group_by(path, str(raw.id))) == records
            if records <= 200_000 or repeats == 1:
                assert timed("raw_api_scan", lambda: raw_scan(raw, 5000)) == records
    finally:
        store.close()
        client.close()
    out: dict[str, Any] = {k: round(best(v).wall_s, 4) for k, v in timings.items()}
    out["version_mix_ratio_to_raw_sql_group_by"] = round(
        out["raw_sql_group_by"] / out["check_version_mix"], 3
    )
    if "raw_api_scan" in out:
        out["version_mix_ratio_to_raw_api_scan"] = round(
            out["raw_api_scan"] / out["check_version_mix"], 3
        )
    out["first_open_s"] = round(first_open.wall_s, 2)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--records", type=int, nargs="+", required=True)
    r = sub.add_parser("run")
    r.add_argument("--records", type=int, nargs="+", default=[100_000, 200_000, 1_000_000])
    r.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.command == "build":
        build_chroma(args.records)
        return
    sizes = {str(n): run_size(n, args.repeats) for n in sorted(args.records)}
    growth: dict[str, float] = {}
    if "100000" in sizes and "200000" in sizes:
        a, b2 = sizes["100000"], sizes["200000"]
        growth = {
            k: round(b2[k] / a[k], 2)
            for k in (
                "count",
                "sample_300",
                "probe_store_part",
                "check_version_mix",
                "iter_metadata_scan",
                "raw_api_scan",
            )
            if k in a and k in b2 and a[k] > 0
        }
    write_results(
        "stores_chroma_embedded_" + "_".join(str(n) for n in sorted(args.records)),
        {
            "records": sorted(args.records),
            "repeats": args.repeats,
            "dim": DIM,
            "hnsw": HNSW,
            "seconds_best_of_repeats": sizes,
            "growth_200k_over_100k": growth,
            "targets": {
                "probe_store_part_s": 3.0,
                "version_mix_scan_1m_s": 60.0,
                "version_mix_ratio_to_store_fastest_count": 0.8,
            },
        },
    )


if __name__ == "__main__":
    main()

"""The Qdrant adapter at scale, in qdrant-client's local mode: one probe's store
work, the version mix, sampling.

    python -m benchmarks.qdrant_store --records 20000 100000

Local mode (``path:``) is the only Qdrant that runs here (no server binary can
be installed): qdrant-client keeps every point in the Python process, searches
by brute force and counts by iterating, and its authors advise it for up to
~20,000 points. So these numbers are the local mode's, not a Qdrant server's;
what they show is the adapter's own cost over the client it drives.

Collections of N random unit 384-d vectors (60/25/13% tagged with three model/
version tags, 2% untagged; ``benchmarks.stores.records_batch``) are built once
under benchmarks/.work/qdrant and reused. Per size it times, through
driftwatch's adapter: ``count()``, ``sample(300)`` (Qdrant's SampleQuery), 20
top-10 queries, one probe's store work (count + dimension + sample(300) + 20
queries), ``check_version_mix`` (``tag_counts``: facet counts) against the same
facet and count calls made through qdrant-client directly (the store's own way
to count: ratio), and the full ``iter_metadata`` scroll. Loading the collection
(local mode reads every point at open) is reported apart.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from benchmarks.common import (
    WORK_DIR,
    best,
    peak_rss_mb,
    probe_store_timings,
    time_call,
    write_results,
)
from benchmarks.stores import DIM, records_batch
from driftwatch.checks.base import CheckContext
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import CollectionConfig, QdrantStoreConfig
from driftwatch.stores.qdrant import QdrantStore

DATA = WORK_DIR / "qdrant"
BATCH = 5_000
MODEL_KEY, VERSION_KEY = "embedding_model", "embedding_version"


def collection_name(records: int) -> str:
    return f"bench_{records}"


def build(records: int) -> float:
    """Create and fill the collection unless it is complete; seconds spent (0 if cached)."""
    DATA.mkdir(parents=True, exist_ok=True)
    name = collection_name(records)
    client = QdrantClient(path=str(DATA))
    try:
        if client.collection_exists(name):
            if client.count(name, exact=True).count == records:
                return 0.0
            client.delete_collection(name)
        start = time.perf_counter()
        client.create_collection(
            name, models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )
        for first in range(0, records, BATCH):
            batch = records_batch(first, min(BATCH, records - first))
            client.upsert(
                name,
                points=[
                    models.PointStruct(
                        id=first + i,
                        vector=np.asarray(vector, dtype=np.float32).tolist(),
                        payload={"document": text, **(meta or {})},
                    )
                    for i, (vector, text, meta) in enumerate(
                        zip(
                            batch["embeddings"], batch["documents"], batch["metadatas"], strict=True
                        )
                    )
                ],
                wait=True,
            )
        return time.perf_counter() - start
    finally:
        client.close()


def raw_facet_counts(client: QdrantClient, name: str) -> dict[tuple[Any, Any], int]:
    """What the adapter asks, through qdrant-client directly: the model facet, the
    untagged count, and per model group the version facet and the no-version count."""

    def empty(key: str) -> models.IsEmptyCondition:
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))

    counts: dict[tuple[Any, Any], int] = {}
    groups: list[tuple[Any, list[Any]]] = [
        (h.value, [models.FieldCondition(key=MODEL_KEY, match=models.MatchValue(value=h.value))])
        for h in client.facet(name, key=MODEL_KEY, limit=1000, exact=True).hits
    ]
    groups.append((None, [empty(MODEL_KEY)]))
    for model, must in groups:
        where = models.Filter(must=must)
        for h in client.facet(
            name, key=VERSION_KEY, facet_filter=where, limit=1000, exact=True
        ).hits:
            counts[(model, h.value)] = h.count
        no_version = models.Filter(must=[*must, empty(VERSION_KEY)])
        counts[(model, None)] = client.count(name, count_filter=no_version, exact=True).count
    return counts


def measure(records: int, reps: int) -> dict[str, Any]:
    name = collection_name(records)
    store = QdrantStore("bench", QdrantStoreConfig(kind="qdrant", path=str(DATA)))
    load, handle = time_call(lambda: store.open_collection(name))
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    out: dict[str, Any] = {"records": records, "open_s": round(load.wall_s, 2)}
    out |= probe_store_timings(handle, rng, queries, reps)
    cfg = CollectionConfig(store="bench", name=name, embedder="none")
    ctx = CheckContext(collection=cfg, store=handle, embedder=None)  # type: ignore[arg-type]
    client = store.client()
    raw_t, ours_t = [], []
    for _ in range(reps):  # alternate, so both see the same machine load
        raw_t.append(time_call(lambda: raw_facet_counts(client, name))[0])
        t, result = time_call(lambda: check_version_mix(ctx))
        assert result.detail["total"] == records, result.detail
        ours_t.append(t)
    raw, ours = best(raw_t).wall_s, best(ours_t).wall_s
    out["version_mix"] = {
        "best_s": round(ours, 4),
        "raw_facets_s": round(raw, 4),
        "ratio_raw_over_ours": round(raw / ours, 3),
        "by_facets": handle.tag_counts() is not None,
    }
    scan, n = time_call(lambda: sum(len(p) for p in handle.iter_metadata()))
    out["iter_metadata_scan"] = {"wall_s": round(scan.wall_s, 3), "records": n}
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    results = []
    for records in args.records:
        built = build(records)
        row = measure(records, args.reps)
        row["build_s"] = round(built, 1)
        print(row, flush=True)
        results.append(row)
    write_results(
        "qdrant_store",
        {
            "mode": "local (path:)",
            "per_size": {str(r["records"]): r for r in results},
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()

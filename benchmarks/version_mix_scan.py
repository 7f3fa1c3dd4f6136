"""How fast the version-mix check scans a 100k-record Chroma collection.

Builds (once, cached under benchmarks/.work/) an embedded Chroma collection of
100,000 records: 384-d random unit vectors (meaning does not matter for
counting tags) tagged with three (model, version) pairs and a few untagged
records. Then, in the same run and alternating so that machine load hits both
alike, it times:

- raw: a bare ``collection.get(include=["metadatas"], limit, offset)`` loop,
  the least work any scan of every record's metadata can do through Chroma;
- check: ``check_version_mix`` through ``ChromaStore`` over the same collection.

Reported: records/s of both, their ratio (target >= 0.8), peak RSS after
those scans, and the raw loop's records/s per page size. It also
times the two ways ``ChromaCollection.sample`` could draw a uniform sample
(ids-only scan + get by ids, vs one ``get`` per random offset), which is how
the sampling approach was chosen.

    python -m benchmarks.version_mix_scan [--records 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from benchmarks.common import (
    WORK_DIR,
    Timing,
    best,
    current_rss_mb,
    peak_rss_mb,
    time_call,
    write_results,
)
from driftwatch.checks.base import CheckContext
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import ChromaStoreConfig, CollectionConfig
from driftwatch.stores import open_store
from driftwatch.stores.chroma import chroma_settings

COLLECTION = "bench-version-mix"
# Page sizes the raw loop is also timed with, to choose ChromaStoreConfig.page_size
# (32,766 is the most Chroma serves with metadata in one call).
SWEEP_PAGE_SIZES = (1000, 2500, 5000, 10000, 20000, 32766)
DIM = 384
# (model, version, share of records); the rest are untagged.
TAGS = [
    ("all-MiniLM-L6-v2", "v1", 0.60),
    ("all-MiniLM-L6-v2", "v2", 0.25),
    ("paraphrase-MiniLM-L3-v2", "1", 0.13),
]


def build(path: Path, records: int) -> None:
    """Create the collection under ``path`` unless a complete one is cached there."""
    path.mkdir(parents=True, exist_ok=True)
    client: Any = chromadb.PersistentClient(str(path), settings=chroma_settings())
    try:
        existing = client.get_or_create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        if existing.count() == records:
            return
        client.delete_collection(COLLECTION)
        coll = client.create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        rng = np.random.default_rng(42)
        cut = np.cumsum([share for _, _, share in TAGS])
        batch = client.get_max_batch_size()
        for start in range(0, records, batch):
            n = min(batch, records - start)
            vectors = rng.standard_normal((n, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            picks = np.searchsorted(cut, rng.random(n))
            metadatas: list[Any] = [
                {"embedding_model": TAGS[p][0], "embedding_version": TAGS[p][1], "chunk": i}
                if p < len(TAGS)
                else {"chunk": i}
                for i, p in zip(range(start, start + n), picks, strict=True)
            ]
            coll.add(
                ids=[f"doc-{i}" for i in range(start, start + n)],
                embeddings=vectors,
                metadatas=metadatas,
            )
    finally:
        client.close()


def raw_scan(coll: Any, page_size: int) -> int:
    """Chroma's API, offset paging: the baseline a scan is compared with."""
    done = 0
    while True:
        page = coll.get(include=["metadatas"], limit=page_size, offset=done)
        done += len(page["ids"])
        if len(page["ids"]) < page_size:
            return done


def sample_by_ids(coll: Any, n: int, page_size: int, rng: np.random.Generator) -> int:
    ids: list[str] = []
    while True:
        page = coll.get(include=[], limit=page_size, offset=len(ids))
        ids += page["ids"]
        if len(page["ids"]) < page_size:
            break
    chosen = [ids[i] for i in rng.choice(len(ids), size=n, replace=False)]
    got = coll.get(ids=chosen, include=["embeddings", "documents", "metadatas"])
    return len(got["ids"])


def sample_by_offsets(coll: Any, n: int, rng: np.random.Generator) -> int:
    total = coll.count()
    got = 0
    for offset in sorted(rng.choice(total, size=n, replace=False).tolist()):
        page = coll.get(include=["embeddings", "documents", "metadatas"], limit=1, offset=offset)
        got += len(page["ids"])
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--sample", type=int, default=300, help="sample size to time")
    args = parser.parse_args()

    path = WORK_DIR / f"chroma-{args.records}"
    build_t, _ = time_call(lambda: build(path, args.records))

    cfg = ChromaStoreConfig(path=str(path))
    page_size = args.page_size or cfg.page_size
    if args.page_size:
        cfg = cfg.model_copy(update={"page_size": page_size})
    collection = CollectionConfig(
        store="bench", name=COLLECTION, embedder="none", expected_model=TAGS[0][0]
    )
    store = open_store("bench", cfg)
    client: Any = chromadb.PersistentClient(str(path), settings=chroma_settings())
    try:
        raw_coll = client.get_collection(COLLECTION, embedding_function=None)
        handle = store.open_collection(COLLECTION)
        handle.count()  # the first call loads Chroma's segments; not part of a scan
        rss_before = current_rss_mb()
        raw_times: list[Timing] = []
        check_times: list[Timing] = []
        verdict = ""
        for _ in range(args.repeats):
            t, scanned = time_call(lambda: raw_scan(raw_coll, page_size))
            assert scanned == args.records, scanned
            raw_times.append(t)
            ctx = CheckContext(collection=collection, store=handle, embedder=None)  # type: ignore[arg-type]
            t, result = time_call(lambda: check_version_mix(ctx))  # noqa: B023
            assert result.detail["total"] == args.records, result.detail
            verdict = result.status
            check_times.append(t)

        scan_rss = peak_rss_mb()  # before the sweep's larger pages raise it
        sweep: dict[int, list[Timing]] = {}
        for _ in range(2):
            for size in SWEEP_PAGE_SIZES:
                sweep.setdefault(size, []).append(time_call(lambda: raw_scan(raw_coll, size))[0])  # noqa: B023

        rng = np.random.default_rng(0)
        by_ids, by_offsets, ours = [], [], []
        for _ in range(max(1, args.repeats // 2)):
            t, _ = time_call(lambda: sample_by_ids(raw_coll, args.sample, page_size, rng))
            by_ids.append(t)
            t, _ = time_call(lambda: sample_by_offsets(raw_coll, args.sample, rng))
            by_offsets.append(t)
            t, _ = time_call(lambda: handle.sample(args.sample, rng))
            ours.append(t)
    finally:
        store.close()
        client.close()

    raw, check = best(raw_times), best(check_times)
    raw_rate, check_rate = args.records / raw.wall_s, args.records / check.wall_s
    write_results(
        "version_mix_scan",
        {
            "records": args.records,
            "page_size": page_size,
            "repeats": args.repeats,
            "build_s": round(build_t.wall_s, 2),
            "raw_get_loop": {**raw.as_dict(), "records_per_s": round(raw_rate)},
            "check_version_mix": {**check.as_dict(), "records_per_s": round(check_rate)},
            "ratio_check_to_raw": round(check_rate / raw_rate, 3),
            "target_ratio": 0.8,
            "verdict": verdict,
            "raw_records_per_s_by_page_size": {
                str(size): round(args.records / best(times).wall_s) for size, times in sweep.items()
            },
            "sample": {
                "n": args.sample,
                "ids_scan_then_get_s": round(best(by_ids).wall_s, 4),
                "get_per_random_offset_s": round(best(by_offsets).wall_s, 4),
                "chroma_collection_sample_s": round(best(ours).wall_s, 4),
            },
            "rss_mb_before_scans": round(rss_before, 1),
            "peak_rss_mb_scans": round(scan_rss, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()

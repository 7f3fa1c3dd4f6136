"""One full probe cycle on a 100k-record Chroma collection, and the canary query overhead.

Builds (once, cached under benchmarks/.work/) an embedded Chroma collection of
``--records`` records whose texts are the 1,912 CPython documentation
paragraphs of examples/corpus, each stored with its real vector from
``--model``. Each paragraph appears ~53 times under distinct ids; every copy's
vector gets a small seeded jitter (sigma 0.003 per component, cosine ~0.998 to
the original) so the HNSW graph is not built over exact duplicates.

Then, with the local ONNX embedder of ``--model`` (uncached: every text is
embedded for real):

- probe cycle: dimension + fingerprint (40 texts) + consistency (300-record
  sample re-embedded) + canary (20 queries, top 10) + score distribution, as the
  runner runs them; wall and CPU seconds, per check and in total (target <= 3 s);
- canary overhead: ``check_canary`` vs a bare ``collection.query`` of the same
  already-embedded query vectors (the check gets them from a memo, so both sides
  do the same search), alternated in the same run; ratio of medians (target <= 1.1).
  Also timed: ``ChromaCollection.query`` (driftwatch's store adapter), which the
  check calls, to separate the adapter's cost from the check's own.

    python -m benchmarks.probe_cycle [--records 100000] [--model paraphrase-MiniLM-L3-v2]
        [--optimize-for speed|memory|throughput]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from benchmarks.common import WORK_DIR, Timing, best, peak_rss_mb, time_call, write_results
from driftwatch.checks.base import CheckContext
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.canary import check_canary
from driftwatch.checks.dimensions import PROBE_TEXT
from driftwatch.checks.registry import CHECKS
from driftwatch.config import ChromaStoreConfig, CollectionConfig, OnnxEmbedderConfig
from driftwatch.embedders.onnx import OnnxEmbedder
from driftwatch.stores import open_store
from driftwatch.stores.chroma import chroma_settings
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import CANARY_QUERIES, PARAPHRASE, corpus

JITTER = 0.003


def build(path: Path, name: str, model: str, records: int) -> None:
    """Create the collection unless a complete one is cached."""
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    space: Any = {"hnsw": {"space": "cosine"}}
    coll = client.get_or_create_collection(name, embedding_function=None, configuration=space)
    if coll.count() == records:
        return
    client.delete_collection(name)
    coll = client.create_collection(name, embedding_function=None, configuration=space)
    docs, vectors = corpus(), corpus_vectors(model)
    rng = np.random.default_rng(42)
    batch = min(5000, client.get_max_batch_size())
    for start in range(0, records, batch):
        idx = np.arange(start, min(records, start + batch))
        src = idx % len(docs)
        jittered = vectors[src] + rng.normal(0, JITTER, (len(idx), vectors.shape[1]))
        jittered /= np.linalg.norm(jittered, axis=1, keepdims=True)
        coll.add(
            ids=[f"r{i}" for i in idx],
            embeddings=jittered.astype(np.float32),
            documents=[docs[s]["text"] for s in src],
            metadatas=[{"embedding_model": model, "embedding_version": "1"}] * len(idx),
        )


class Memo:
    """Returns vectors embedded earlier, so only the search is timed."""

    def __init__(self, real: OnnxEmbedder, texts: Sequence[str]) -> None:
        self._model = real.model
        self._vectors = dict(zip(texts, real.embed(list(texts)), strict=True))

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vectors[t] for t in texts])

    def close(self) -> None:
        """Nothing to release."""


def probe(coll: CollectionConfig, handle: Any, live: Any, baseline: Any, seed: int) -> Any:
    """Every probe-scheduled check once, timed each; returns (timings, statuses)."""
    timings: dict[str, Timing] = {}
    statuses: dict[str, str] = {}
    window = list(baseline.scores) * coll.score_window
    for name in [n for n, spec in CHECKS.items() if spec.schedule == "probe"]:
        ctx = CheckContext(
            collection=coll,
            store=handle,
            embedder=live,
            baseline=baseline,
            recent_scores=window,
            rng=np.random.default_rng(seed),
            check=name,
        )
        timings[name], result = time_call(lambda: CHECKS[name].function(ctx))  # noqa: B023
        statuses[name] = result.status
    return timings, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--model", default=PARAPHRASE)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument(
        "--optimize-for",
        choices=["speed", "memory", "throughput"],
        default="speed",
        help="the embedder's optimize_for (speed is the default a user's config gets)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--query-repeats", type=int, default=30)
    args = parser.parse_args()

    name = f"probe-{args.model}"
    # Per model: the stored vectors are the model's own (a cache built with another
    # model's vectors would make consistency and the fingerprint report drift).
    path = WORK_DIR / f"chroma-probe-{args.model}-{args.records}"
    build_t, _ = time_call(lambda: build(path, name, args.model, args.records))

    live = OnnxEmbedder(
        OnnxEmbedderConfig(
            kind="onnx", model=args.model, threads=args.threads, optimize_for=args.optimize_for
        )
    )
    coll = CollectionConfig.model_validate(
        {
            "store": "bench",
            "name": name,
            "embedder": "live",
            "canaries": [{"query": q} for q in CANARY_QUERIES],
        }
    )
    store = open_store("bench", ChromaStoreConfig(path=str(path)))
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    try:
        handle = store.open_collection(name)
        raw = client.get_collection(name, embedding_function=None)
        assert handle.count() == args.records
        baseline = capture_baseline(CheckContext(collection=coll, store=handle, embedder=live))

        cycles: list[dict[str, Timing]] = []
        statuses: dict[str, str] = {}
        for rep in range(args.repeats):
            timings, statuses = probe(coll, handle, live, baseline, seed=rep)
            cycles.append(timings)
        totals = [
            Timing(sum(t.wall_s for t in c.values()), sum(t.cpu_s for t in c.values()))
            for c in cycles
        ]

        # The check also embeds its dimension probe text (checks/dimensions.py).
        memo = Memo(live, [*CANARY_QUERIES, PROBE_TEXT])
        vectors = memo.embed(CANARY_QUERIES)
        raw_walls, adapter_walls, check_walls = [], [], []
        for _ in range(args.query_repeats):
            t, _ = time_call(
                lambda: raw.query(query_embeddings=vectors, n_results=10, include=["distances"])
            )
            raw_walls.append(t.wall_s)
            t, _ = time_call(lambda: handle.query(vectors, 10))
            adapter_walls.append(t.wall_s)
            ctx = CheckContext(collection=coll, store=handle, embedder=memo, baseline=baseline)
            t, _ = time_call(lambda: check_canary(ctx))  # noqa: B023
            check_walls.append(t.wall_s)
    finally:
        store.close()

    per_check = {
        name: {
            "best_wall_s": round(min(c[name].wall_s for c in cycles), 3),
            "best_cpu_s": round(min(c[name].cpu_s for c in cycles), 3),
        }
        for name in cycles[0]
    }
    fastest = best(totals)
    write_results(
        # 100k (the README's headline size) keeps the name earlier results used.
        f"probe_cycle_{args.model}"
        + ("" if args.records == 100_000 else f"_{args.records}")
        + ("" if args.optimize_for == "speed" else f"_{args.optimize_for}"),
        {
            "records": args.records,
            "model": args.model,
            "onnx_threads": args.threads,
            "optimize_for": args.optimize_for,
            "repeats": args.repeats,
            "build_s": round(build_t.wall_s, 1),
            "cycle_best": fastest.as_dict(),
            "cycle_median_wall_s": round(statistics.median(t.wall_s for t in totals), 3),
            "target_wall_s": 3.0,
            "per_check": per_check,
            "statuses": statuses,
            "canary_overhead": {
                "raw_query_median_s": round(statistics.median(raw_walls), 5),
                "adapter_query_median_s": round(statistics.median(adapter_walls), 5),
                "check_canary_median_s": round(statistics.median(check_walls), 5),
                "ratio": round(statistics.median(check_walls) / statistics.median(raw_walls), 3),
                "ratio_to_adapter_query": round(
                    statistics.median(check_walls) / statistics.median(adapter_walls), 3
                ),
                "target_ratio": 1.1,
            },
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()

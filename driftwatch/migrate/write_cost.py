"""What writing green will cost, measured without writing to any configured store.

``migrate plan`` reads blue only. Where the target's engine can run inside
this process, the plan writes the records it timed the candidate on (their
text, metadata and candidate vectors) into a scratch collection in a temporary
directory, in ``migrate run``'s batches, and times that:

- Chroma, embedded or server: the same Rust core writes both, so a scratch
  embedded collection with green's distance writes as green will;
- Qdrant in local mode (``path:``): a scratch local-mode collection.

Elsewhere (a pgvector table, a Qdrant server) the writing happens in a server
the plan cannot try without writing there: ``measure_write_rate`` answers None
and the plan's time covers embedding only (``time_method`` says which).

A write into Chroma costs more as its HNSW index grows (each insert searches
the graph, and a larger graph outgrows the CPU caches), so the rate measured
on the small scratch collection is scaled by ``hnsw_growth``, fitted to what
benchmarks/chroma_write_growth.py measured (Chroma's default HNSW, 384-d).
The timed records are written ``SCRATCH_ROUNDS`` times under new ids, with a
small jitter (an index of exact duplicates is not a typical index): over
256 records the cost measured 0.22 to 0.47 ms per record in five runs, over
1,024 records 0.32 to 0.38 ms.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from driftwatch.config import ChromaStoreConfig, PgvectorStoreConfig, QdrantStoreConfig
from driftwatch.stores.base import Distance, IndexSettings, StoredRecord, WritableStore

SCRATCH_COLLECTION = "driftwatch-plan-scratch"


def measure_write_rate(
    target: ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig,
    records: Sequence[StoredRecord],
    distance: Distance,
    batch_size: int,
    total: int,
    *,
    index: IndexSettings | None = None,
) -> float | None:
    """Records/s writing green of ``total`` records, from writing ``records``
    (``SCRATCH_ROUNDS`` times over) into a scratch collection of the target's
    kind, built with the index settings green will get (blue's, ``index``),
    scaled by ``growth``; None where no scratch store can stand in for the
    target, or with fewer than two records."""
    if len(records) < 2 or records[0].embedding is None:
        return None
    with tempfile.TemporaryDirectory(prefix="driftwatch-plan-") as tmp:
        store = _scratch_store(target, Path(tmp))
        if store is None:
            return None
        try:
            dimension = len(records[0].embedding)
            coll = store.create_collection(SCRATCH_COLLECTION, dimension, distance, None, index)
            # The first record pays for creating the segment files: untimed.
            coll.upsert(records[:1])
            timed = scratch_records(records, SCRATCH_ROUNDS)
            t0 = time.perf_counter()
            for start in range(0, len(timed), batch_size):
                coll.upsert(timed[start : start + batch_size])
            elapsed = time.perf_counter() - t0
        finally:
            store.close()
    if elapsed <= 0:
        return None
    return len(timed) / elapsed / growth(target, 1 + len(timed), total)


def growth(
    target: ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig,
    measured_at: int,
    total: int,
) -> float:
    """How much more an average write into green costs than into the scratch
    collection of ``measured_at`` records: Chroma's HNSW grows with the index
    (``hnsw_growth``); Qdrant's local mode keeps vectors in arrays without an
    index, so its writes do not."""
    return hnsw_growth(measured_at, total) if isinstance(target, ChromaStoreConfig) else 1.0


# The average cost per record written grows by this share of the scratch
# collection's per doubling of the records: benchmarks/chroma_write_growth.py
# measured 2.13 to 2.29 times the cost at 1,024 records for 100k records (6.6
# doublings) in five runs: 0.17 to 0.20. Beyond 100k records it was not measured.
GROWTH_PER_DOUBLING = 0.18
SCRATCH_ROUNDS = 4
JITTER = 0.01


def hnsw_growth(measured_at: int, total: int) -> float:
    """How much more an average write costs while the index grows to ``total``
    records than while it grew to ``measured_at``."""
    if total <= measured_at or measured_at < 1:
        return 1.0
    return 1.0 + GROWTH_PER_DOUBLING * math.log2(total / measured_at)


def scratch_records(records: Sequence[StoredRecord], rounds: int) -> list[StoredRecord]:
    """``records`` ``rounds`` times under new ids, each vector jittered and of its norm."""
    rng = np.random.default_rng(0)
    out: list[StoredRecord] = []
    for r in range(rounds):
        for rec in records:
            vector = np.asarray(rec.embedding, dtype=np.float32)
            noisy = vector + rng.normal(0, JITTER * float(np.abs(vector).mean() or 1), vector.shape)
            norm = float(np.linalg.norm(noisy)) or 1.0
            out.append(
                replace(
                    rec,
                    id=f"{rec.id}#{r}",
                    embedding=(noisy * (float(np.linalg.norm(vector)) / norm)).astype(np.float32),
                )
            )
    return out


def _scratch_store(
    target: ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig, directory: Path
) -> WritableStore | None:
    if isinstance(target, ChromaStoreConfig):
        import chromadb

        from driftwatch.stores.chroma import ChromaStore, chroma_settings

        # ChromaStore opens existing directories only (a typo must not create one).
        client: Any = chromadb.PersistentClient(str(directory), settings=chroma_settings())
        client.close()
        return ChromaStore("plan-scratch", ChromaStoreConfig(path=str(directory)))
    if isinstance(target, QdrantStoreConfig) and target.path is not None:
        from driftwatch.stores.qdrant import QdrantStore

        return QdrantStore("plan-scratch", QdrantStoreConfig(kind="qdrant", path=str(directory)))
    return None

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

An HNSW index costs more per insert as it grows (each insert searches the
graph: ~log n distance evaluations per layer), so the rate measured on a small
scratch collection is scaled by ``hnsw_growth`` to the target's size.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftwatch.config import ChromaStoreConfig, PgvectorStoreConfig, QdrantStoreConfig
from driftwatch.stores.base import Distance, StoredRecord, WritableStore

SCRATCH_COLLECTION = "driftwatch-plan-scratch"


def measure_write_rate(
    target: ChromaStoreConfig | PgvectorStoreConfig | QdrantStoreConfig,
    records: Sequence[StoredRecord],
    distance: Distance,
    batch_size: int,
) -> float | None:
    """Records/s writing ``records`` into a scratch collection of the target's
    kind, at the scratch collection's size; None where no scratch store can
    stand in for the target, or with fewer than two records."""
    if len(records) < 2 or records[0].embedding is None:
        return None
    with tempfile.TemporaryDirectory(prefix="driftwatch-plan-") as tmp:
        store = _scratch_store(target, Path(tmp))
        if store is None:
            return None
        try:
            dimension = len(records[0].embedding)
            coll = store.create_collection(SCRATCH_COLLECTION, dimension, distance)
            # The first batch pays for creating the segment files: untimed.
            coll.upsert(records[:1])
            timed = records[1:]
            t0 = time.perf_counter()
            for start in range(0, len(timed), batch_size):
                coll.upsert(timed[start : start + batch_size])
            elapsed = time.perf_counter() - t0
        finally:
            store.close()
    return len(timed) / elapsed if elapsed > 0 else None


def hnsw_growth(measured_at: int, total: int) -> float:
    """How much slower an average insert is while an HNSW index grows to
    ``total`` than while it grew to ``measured_at``: the mean of log2(n) over
    each range (an insert into n records costs ~log n)."""
    if total <= measured_at or measured_at < 2:
        return 1.0
    return _mean_log2(total) / _mean_log2(measured_at)


def _mean_log2(n: int) -> float:
    # mean of log2(k) for k = 1..n, ~ log2(n) - 1/ln 2 (Stirling), floored for small n
    return max(1.0, math.log2(n) - 1 / math.log(2))


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

"""What one record costs to write into an embedded Chroma collection as it grows.

``migrate plan`` times green's writes on a scratch collection of ~1,000
records (``driftwatch.migrate.write_cost``) and scales that rate to green's
size. A larger HNSW index costs more per insert (a longer search, a graph that
outgrows the CPU caches); the SQLite rows and the log do not grow. This
measures the growth with Chroma's default HNSW and 384-d unit vectors written
in batches of 256 with a short text and three metadata keys, as a migration
writes them:

- the average cost per record written so far, at 256, 1k, 4k, 10k, 30k and
  100k records;
- the growth per doubling, c = (r - 1) / log2(last / 1,024), where r is the
  ratio of the last mark's cost to the 1,024 mark's (the plan's scratch size):
  what ``write_cost.GROWTH_PER_DOUBLING`` holds. The curve is not log-shaped
  (flat to ~4k records, then steeper), so c is fitted to the two ends the plan
  uses.

    python -m benchmarks.chroma_write_growth [--records 100000]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from typing import Any

import chromadb
import numpy as np

from benchmarks.common import WORK_DIR, write_results
from driftwatch.migrate.write_cost import GROWTH_PER_DOUBLING
from driftwatch.stores.chroma import chroma_settings

BATCH = 256
DIM = 384
SCRATCH_MARK = 1_024
MARKS = (256, 1_024, 4_096, 10_240, 30_208, 100_096, 300_032, 1_000_192)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    points: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(dir=WORK_DIR) as tmp:
        client: Any = chromadb.PersistentClient(tmp, settings=chroma_settings())
        try:
            coll = client.create_collection(
                "write-growth", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            done, elapsed = 0, 0.0
            while done < args.records:
                vectors = rng.standard_normal((BATCH, DIM)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                ids = [f"r{i}" for i in range(done, done + BATCH)]
                t0 = time.perf_counter()
                coll.add(
                    ids=ids,
                    embeddings=vectors,
                    documents=[f"a paragraph of text, record {i}, " * 8 for i in ids],
                    metadatas=[
                        {"embedding_model": "m", "embedding_version": "2", "embedded_at": "x"}
                    ]
                    * BATCH,
                )
                elapsed += time.perf_counter() - t0
                done += BATCH
                if done in MARKS:
                    points.append((done, elapsed / done))
                    print(f"{done:>9} records: {1000 * elapsed / done:.3f} ms/record", flush=True)
        finally:
            client.close()
    first, first_cost = next(p for p in points if p[0] == SCRATCH_MARK)
    last, last_cost = points[-1]
    ratio = last_cost / first_cost
    write_results(
        "chroma_write_growth",
        {
            "dim": DIM,
            "batch": BATCH,
            "ms_per_record": {str(n): round(1000 * c, 4) for n, c in points},
            "ratio_last_to_scratch_size": round(ratio, 3),
            "growth_per_doubling": round((ratio - 1) / math.log2(last / first), 3),
            "growth_per_doubling_in_use": GROWTH_PER_DOUBLING,
        },
    )


if __name__ == "__main__":
    main()

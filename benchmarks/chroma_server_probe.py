"""One probe's store work on a Chroma server, at 100k and 1M records.

    python -m benchmarks.chroma_server_probe [--records 100000 1000000] [--repeats 5]

Uses the collections ``benchmarks.chroma_server_tags`` builds and caches under
benchmarks/.work/ (384-d random unit vectors; built here if missing). Per size,
through ``ChromaStore`` on a ``chroma run`` server on 127.0.0.1:

- first sample: ``sample(300)`` in a new process with nothing kept, which lists
  every id once (``driftwatch.stores.chroma_ids``);
- restart sample: ``sample(300)`` in the next new process, which starts from the
  ids the first one kept on disk (``driftwatch.stores.chroma_id_cache``);
- sample: ``sample(300)`` as every later probe runs it: ``count()``, the tail
  of the collection from the kept ids, the drawn records by id;
- probe store work: count + dimension + sample(300) + 20 top-10 queries;
- listing: every id listed in pages of 20,000, what each sample cost before
  the store kept the ids (the baseline, alternated with the samples);
- sweep: every sample of one whole sweep (each lists one more page of ids
  before the tail, from the start of the collection to the tail): how many
  samples a sweep takes, their median and their worst.

Also a chi-square p-value of 50 samples' ids over 20 buckets of insertion order.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from benchmarks.chroma_server_tags import DATA, build
from benchmarks.common import Timing, median_wall, peak_rss_mb, time_call, write_results
from driftwatch.stores.chroma import ChromaCollection, ChromaStore
from driftwatch.stores.chroma_ids import IdSnapshot
from tests.support.chroma_server import start_chroma_server

LIST_PAGE = 20_000


def list_every_id(coll: Any) -> int:
    listed, offset = 0, 0
    while True:
        page = coll.get(include=[], limit=LIST_PAGE, offset=offset)["ids"]
        listed += len(page)
        offset += LIST_PAGE
        if len(page) < LIST_PAGE:
            return listed


def uniformity(handle: ChromaCollection, records: int, rng: np.random.Generator) -> float:
    """p-value of 50 samples of 300 over 20 buckets of insertion order (ids rec-N)."""
    buckets: Counter[int] = Counter()
    for _ in range(50):
        sample = handle.sample(300, rng)
        buckets.update(int(r.id.rsplit("-", 1)[1]) * 20 // records for r in sample)
    return float(stats.chisquare([buckets[b] for b in range(20)]).pvalue)


def kept_ids(store: ChromaStore, handle: ChromaCollection) -> IdSnapshot:
    kept = store.id_snapshots.get(handle.name, str(handle._coll.id))
    assert kept is not None, "sampled before"
    return kept


def whole_sweep(
    handle: ChromaCollection, store: ChromaStore, rng: np.random.Generator
) -> list[Timing]:
    """Each sample's time from a sweep's start (position 0) until it reaches the tail."""
    kept = kept_ids(store, handle)
    store.id_snapshots.put(handle.name, str(handle._coll.id), replace(kept, swept_to=0))
    timings = []
    while True:
        timings.append(time_call(lambda: handle.sample(300, rng))[0])
        if kept_ids(store, handle).swept_to == 0:
            return timings


def new_process_sample(server: Any, name: str, rng: np.random.Generator) -> Timing:
    """``sample(300)`` on a store made anew (as a new process makes it: nothing in
    memory, the ids on disk if an earlier one kept them)."""
    store = ChromaStore("bench", server.store_config())
    try:
        handle = store.open_collection(name)
        return time_call(lambda: handle.sample(300, rng))[0]
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    # The ids the stores keep on disk go to directories of this run, not the user's.
    main_cache_home = tempfile.mkdtemp()
    os.environ["XDG_CACHE_HOME"] = main_cache_home
    server = start_chroma_server(DATA)
    store = ChromaStore("bench", server.store_config())
    results: dict[str, Any] = {}
    try:
        for records in args.records:
            name = f"bench-tags-{records}"
            build(server, name, records)
            handle = store.open_collection(name)
            rng = np.random.default_rng(0)
            queries = rng.standard_normal((20, 384)).astype(np.float32)
            handle.query(queries, 10)  # the server loads the index once
            with tempfile.TemporaryDirectory() as cache_home:  # nothing kept on disk
                os.environ["XDG_CACHE_HOME"] = cache_home
                first = new_process_sample(server, name, rng)
                restart = new_process_sample(server, name, rng)
            os.environ["XDG_CACHE_HOME"] = main_cache_home
            handle.sample(300, rng)
            kept = kept_ids(store, handle)
            kept_mb = (len(kept.blob) + kept.ends.nbytes + kept.hashes.nbytes) / 2**20

            def probe() -> None:
                handle.count()  # noqa: B023
                handle.dimension()  # noqa: B023
                handle.sample(300, rng)  # noqa: B023
                handle.query(queries, 10)  # noqa: B023

            times: dict[str, list[Any]] = {"sample": [], "probe_store_work": [], "listing": []}
            for _ in range(args.repeats):
                times["sample"].append(time_call(lambda: handle.sample(300, rng))[0])  # noqa: B023
                times["probe_store_work"].append(time_call(probe)[0])
                times["listing"].append(time_call(lambda: list_every_id(handle._coll))[0])  # noqa: B023
            sweep = whole_sweep(handle, store, rng)
            medians = {label: median_wall(ts) for label, ts in times.items()}
            results[str(records)] = {
                "first_sample_s": round(first.wall_s, 3),
                "restart_sample_s": round(restart.wall_s, 3),
                "kept_ids_mb": round(kept_mb, 1),
                **{f"{label}_median_s": round(s, 3) for label, s in medians.items()},
                "sample_to_listing_ratio": round(medians["sample"] / medians["listing"], 3),
                "sweep": {
                    "samples": len(sweep),
                    "sample_median_s": round(median_wall(sweep), 3),
                    "sample_max_s": round(max(t.wall_s for t in sweep), 3),
                },
                "all_s": {label: [round(t.wall_s, 3) for t in ts] for label, ts in times.items()},
                "uniformity_pvalue": round(uniformity(handle, records, rng), 4),
            }
    finally:
        store.close()
        server.stop()
        shutil.rmtree(main_cache_home)
    write_results(
        "chroma_server_probe",
        {"repeats": args.repeats, "per_size": results, "peak_rss_mb": round(peak_rss_mb(), 1)},
    )


if __name__ == "__main__":
    main()

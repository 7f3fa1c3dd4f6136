"""The version mix on a Chroma server: counted by ``where`` filters vs the offset scan.

Starts a ``chroma run`` server on 127.0.0.1 over a directory cached under
benchmarks/.work/ holding one collection per size (384-d random unit vectors,
three (model, version) tags and ~2% untagged: ``benchmarks.stores.records_batch``).
Then, alternating sizes and methods in one run so that machine load hits all
alike, it times ``check_version_mix`` through ``ChromaStore``:

- filters: ``tag_counts()`` on the server (``driftwatch.stores.chroma_tags``),
  as the daemon runs it every cycle: the store keeps what its last count
  found (the tag pairs, the ids of the records lacking a tag), so a count asks
  for each pair and reads those records by id;
- first: the same with nothing remembered (the first cycle after a start);
- scan: the same handle with ``tag_counts`` off, so the check pages through
  ``iter_metadata`` (``get(limit, offset)``, what it did on a server before);
- floor: one ids-only ``get(where={model, version})`` per tag, the tags known
  in advance: the least a server can be asked to count them.

Reported per size: medians, requests per version mix, growth for 2x records.

    python -m benchmarks.chroma_server_tags [--records 20000 100000 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from benchmarks.common import WORK_DIR, Timing, median_wall, peak_rss_mb, time_call, write_results
from benchmarks.stores import HNSW, TAGS, records_batch
from driftwatch.checks.base import CheckContext
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import CollectionConfig
from driftwatch.stores.chroma import ChromaCollection, ChromaStore
from tests.support.chroma_server import ChromaServer, CountingGets, start_chroma_server

DATA = WORK_DIR / "chroma-server-tags"


class ScanningCollection(ChromaCollection):
    """The check's fallback: tags counted by scanning every record's metadata."""

    def tag_counts(self) -> None:
        return None


def build(server: ChromaServer, name: str, records: int) -> None:
    """Collection ``name`` of ``records`` records on the server, unless it exists."""
    client = server.client()
    try:
        coll = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": HNSW}
        )
        done, batch = coll.count(), 5000
        while done < records:
            n = min(batch, records - done)
            coll.add(**records_batch(done, n))
            done += n
    finally:
        client.close()


def floor(coll: Any) -> int:
    """Every tag counted by one ids-only request each, the tags known beforehand."""
    return sum(
        len(
            coll.get(
                where={"$and": [{"embedding_model": m}, {"embedding_version": v}]}, include=[]
            )["ids"]
        )
        for m, v, _ in TAGS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[20_000, 40_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scan-max",
        type=int,
        default=200_000,
        help="time the offset scan up to this size only (it grows super-linearly)",
    )
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    server = start_chroma_server(DATA)
    store = ChromaStore("bench", server.store_config())
    forgetful = ChromaStore("bench-first", server.store_config())  # keeps nothing between counts
    try:
        names = {n: f"bench-tags-{n}" for n in args.records}
        for records, name in names.items():
            build(server, name, records)
        handles: dict[int, dict[str, ChromaCollection]] = {}
        for records, name in names.items():
            cfg = CollectionConfig(store="bench", name=name, embedder="none")
            handles[records] = {
                "filters": store.open_collection(name, cfg.options()),
                "first": forgetful.open_collection(name, cfg.options()),
            }
            if records <= args.scan_max:
                handles[records]["scan"] = store._open(name, cfg.options(), ScanningCollection)
            handles[records]["filters"].tag_counts()  # a cycle before the timed ones
        times: dict[int, dict[str, list[Timing]]] = {n: {} for n in args.records}
        requests: dict[int, dict[str, int]] = {n: {} for n in args.records}
        for _ in range(args.repeats):
            for records in args.records:
                for method, handle in handles[records].items():
                    forgetful.counted_tags.clear()
                    gets = CountingGets(handle._coll)
                    handle._coll = gets
                    cfg = CollectionConfig(store="bench", name=handle.name, embedder="none")
                    ctx = CheckContext(collection=cfg, store=handle, embedder=None)  # type: ignore[arg-type]
                    t, result = time_call(lambda: check_version_mix(ctx))  # noqa: B023
                    assert result.detail["total"] == records, result.detail
                    handle._coll = gets._coll
                    times[records].setdefault(method, []).append(t)
                    requests[records][method] = gets.gets
                coll = handles[records]["filters"]._coll
                run: Callable[[], int] = lambda: floor(coll)  # noqa: B023, E731
                times[records].setdefault("floor", []).append(time_call(run)[0])
                requests[records]["floor"] = len(TAGS)
    finally:
        store.close()
        forgetful.close()
        server.stop()

    medians = {n: {m: median_wall(ts) for m, ts in times[n].items()} for n in args.records}
    small, large = min(args.records), max(args.records)
    write_results(
        "chroma_server_tags",
        {
            "repeats": args.repeats,
            "per_size": {
                str(n): {
                    **{f"{m}_median_s": round(s, 3) for m, s in medians[n].items()},
                    "requests": requests[n],
                    "floor_to_filters_ratio": round(medians[n]["floor"] / medians[n]["filters"], 3),
                    "floor_to_first_ratio": round(medians[n]["floor"] / medians[n]["first"], 3),
                    "all_s": {m: [round(t.wall_s, 3) for t in ts] for m, ts in times[n].items()},
                }
                for n in args.records
            },
            f"growth_{large}_vs_{small}": {
                m: round(medians[large][m] / medians[small][m], 2)
                for m in medians[small]
                if m in medians[large]
            },
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()

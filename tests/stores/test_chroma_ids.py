"""Samples of a Chroma server's collection (driftwatch.stores.chroma_ids): drawn
from the ids the store keeps, brought up to date by the collection's tail, and
still uniform over the records there now after adds, deletes and re-adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftwatch.stores import chroma_ids
from driftwatch.stores.chroma import ChromaCollection, ChromaStore
from driftwatch.stores.chroma_ids import IdSnapshot
from tests.support.chroma_server import ChromaServer, CountingGets, unique_name
from tests.support.vectors import unit_vectors

RECORDS = 3_000  # more than the tail window (chroma_ids._ANCHOR), so a tail is not everything


def test_snapshot_keeps_ids_in_order_and_knows_them() -> None:
    ids = ["doc-1", "ü-2", "", "doc-1000", "doc-3"]
    snapshot = IdSnapshot.of(ids)
    assert [snapshot.id_at(i) for i in range(len(snapshot))] == ids
    assert snapshot.unknown(["doc-3", "new", "ü-2", "new", "also new"]) == ["new", "also new"]
    extended = snapshot.extended(["new", "also new"])
    assert [extended.id_at(i) for i in range(len(extended))] == [*ids, "new", "also new"]
    assert extended.unknown(["new", "doc-1", "later"]) == ["later"]
    empty = IdSnapshot.of([])
    assert len(empty) == 0 and empty.unknown(["a", "a"]) == ["a"]


@pytest.fixture
def collection(chroma_server: ChromaServer) -> tuple[ChromaServer, str]:
    name = unique_name()
    chroma_server.create_collection(name, unit_vectors(RECORDS, 4))
    return chroma_server, name


def counted(store: ChromaStore, name: str) -> tuple[ChromaCollection, CountingGets]:
    handle = store.open_collection(name)
    gets = CountingGets(handle._coll)
    handle._coll = gets
    return handle, gets


def listings(gets: CountingGets) -> list[int]:
    """The offsets of the id listings among the requests (not the fetches by id)."""
    return [call["offset"] for call in gets.calls if "offset" in call]


def test_a_later_sample_lists_the_tail_and_one_sweep_page(
    collection: tuple[ChromaServer, str],
) -> None:
    server, name = collection
    store = ChromaStore("s", server.store_config())
    rng = np.random.default_rng(1)
    handle, gets = counted(store, name)
    first = handle.sample(300, rng)
    assert listings(gets) == [0]  # one page of 20,000 ids holds all 3,000
    handle, gets = counted(store, name)
    second = handle.sample(300, rng)
    # The tail, then the sweep's page before it (here all 2,000 ids before the tail).
    assert listings(gets) == [RECORDS - chroma_ids._ANCHOR, 0]
    assert gets.gets == 3  # and the drawn records by id
    for sample in (first, second):
        assert len({r.id for r in sample}) == 300
    store.close()


def edit(server: ChromaServer, name: str, **changes: Any) -> None:
    client = server.client()
    try:
        coll = client.get_collection(name)
        if "delete" in changes:
            coll.delete(ids=changes["delete"])
        if "add" in changes:
            ids = changes["add"]
            coll.add(ids=ids, embeddings=unit_vectors(len(ids), 4, seed=len(ids)))
        if "update" in changes:
            ids = changes["update"]
            coll.update(ids=ids, metadatas=[{"touched": True}] * len(ids))
    finally:
        client.close()


def test_samples_follow_adds_deletes_and_re_adds(collection: tuple[ChromaServer, str]) -> None:
    """After the application deletes, adds, updates, and deletes and adds ids
    again, samples hold only records there now, each as likely as any other:
    the new ones are not missed, the re-added ones are not drawn twice as often."""
    server, name = collection
    store = ChromaStore("s", server.store_config())
    rng = np.random.default_rng(2)
    store.open_collection(name).sample(50, rng)

    deleted = [f"doc-{i}" for i in range(0, 600, 3)]  # 200, fewer than the window
    re_added = [f"doc-{i}" for i in range(1000, 1050)]
    added = [f"new-{i}" for i in range(300)]
    edit(server, name, delete=deleted + re_added)
    edit(
        server,
        name,
        add=added[:150] + re_added + added[150:],
        update=[f"doc-{i}" for i in range(7, 27)],
    )
    now = {f"doc-{i}" for i in range(RECORDS)} - set(deleted) | set(added)

    handle, gets = counted(store, name)
    everything = handle.sample(RECORDS * 2, rng)
    assert listings(gets)[0] > 0  # the tail, not a listing anew
    assert sorted(r.id for r in everything) == sorted(now)

    draws, n = 80, 100
    picked = [r.id for _ in range(draws) for r in store.open_collection(name).sample(n, rng)]
    for group in (set(added), set(re_added)):
        hits = sum(i in group for i in picked)
        assert stats.binomtest(hits, len(picked), len(group) / len(now)).pvalue > 0.001, hits
    assert not set(picked) & set(deleted)
    store.close()


def test_more_deletions_than_the_window_list_anew(collection: tuple[ChromaServer, str]) -> None:
    server, name = collection
    store = ChromaStore("s", server.store_config())
    rng = np.random.default_rng(3)
    store.open_collection(name).sample(50, rng)
    deleted = [f"doc-{i}" for i in range(0, RECORDS, 2)]  # 1,500
    edit(server, name, delete=deleted, add=["late-1", "late-2"])

    handle, gets = counted(store, name)
    everything = handle.sample(RECORDS, rng)
    assert 0 in listings(gets)
    assert sorted(r.id for r in everything) == sorted(
        {f"doc-{i}" for i in range(1, RECORDS, 2)} | {"late-1", "late-2"}
    )
    store.close()


def test_ids_the_tail_cannot_see_are_found_by_the_sweep(
    collection: tuple[ChromaServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the server ever list a record before where the known ids end, the
    sweep finds it: each sample lists the next page before the tail, from where
    the last one ended less the deletion window, and starts over at the tail."""
    monkeypatch.setattr(chroma_ids, "_LIST_PAGE", 500)
    monkeypatch.setattr(chroma_ids, "_ANCHOR", 100)
    server, name = collection
    store = ChromaStore("s", server.store_config())
    rng = np.random.default_rng(4)
    handle = store.open_collection(name)
    handle.sample(10, rng)
    (kept,) = store.id_snapshots.values()
    # A snapshot that lost 100 ids and holds 100 of deleted records instead: the
    # counts agree, so only listing those positions again can tell.
    hidden = {f"doc-{i}" for i in range(1000, 1100)}  # positions 1,000-1,099
    ids = [kept.id_at(i) for i in range(len(kept))]
    known = [f"gone-{i}" if i in hidden else i for i in ids]
    store.id_snapshots.put(name, str(handle._coll.id), IdSnapshot.of(known))

    sweep_pages, drawn = [], set()
    for _ in range(8):
        handle, gets = counted(store, name)
        drawn |= {r.id for r in handle.sample(RECORDS, rng)}
        tail, *sweep = listings(gets)
        assert tail > 0  # never a listing anew
        sweep_pages += sweep
        if len(sweep_pages) == 2:  # the sweep has not reached position 1,000 yet
            assert not drawn & hidden
    # Pages of 500 overlapping by 100, up to the tail (3,000 known ids less 100).
    assert sweep_pages == [0, 400, 800, 1200, 1600, 2000, 2400, 0]
    assert drawn == {f"doc-{i}" for i in range(RECORDS)}
    (kept,) = store.id_snapshots.values()
    assert len(kept) == RECORDS + len(hidden) and not kept.unknown(sorted(hidden))
    store.close()


def test_ids_gone_after_the_count_are_replaced_by_more_draws(
    collection: tuple[ChromaServer, str],
) -> None:
    """Records deleted between the count and the fetch (here: a count that is
    behind) leave holes in the first draw; more are drawn until the sample is full."""
    server, name = collection
    store = ChromaStore("s", server.store_config())
    store.open_collection(name).sample(10, np.random.default_rng(5))
    (kept,) = store.id_snapshots.values()
    deleted = {f"doc-{i}" for i in range(0, 1500, 3)}  # 500 of the first draw's ids, ~1 in 6
    edit(server, name, delete=sorted(deleted))

    client = server.client()
    coll = client.get_collection(name)
    sampler = chroma_ids.SnapshotSampler(
        count=lambda: RECORDS,  # still the number before the deletions
        list_ids=lambda offset, limit: coll.get(include=[], limit=limit, offset=offset)["ids"],
        fetch=store.open_collection(name).get_records,
    )
    sample, _ = sampler.sample(kept, 300, np.random.default_rng(6))
    client.close()
    ids = [r.id for r in sample]
    assert len(ids) == len(set(ids)) == 300
    assert not set(ids) & deleted
    store.close()


def test_a_collection_made_again_under_its_name_starts_afresh(
    collection: tuple[ChromaServer, str],
) -> None:
    """The kept ids belong to the collection (its id), and a name keeps one entry:
    an application that recreates its collection does not grow the daemon."""
    server, name = collection
    store = ChromaStore("s", server.store_config())
    rng = np.random.default_rng(7)
    store.open_collection(name).sample(10, rng)
    client = server.client()
    client.delete_collection(name)
    client.close()
    server.create_collection(name, unit_vectors(50, 4), ids=[f"again-{i}" for i in range(50)])

    handle, gets = counted(store, name)
    assert sorted(r.id for r in handle.sample(100, rng)) == sorted(f"again-{i}" for i in range(50))
    assert listings(gets) == [0]
    (kept,) = store.id_snapshots.values()
    assert len(kept) == 50
    store.close()


def test_a_new_process_starts_from_the_ids_the_last_one_kept_on_disk(
    collection: tuple[ChromaServer, str],
) -> None:
    """A restarted daemon, or the next ``driftwatch check``, reads the ids an
    earlier process kept instead of listing every id; what was added meanwhile is
    in the tail, so its sample still covers every record there now."""
    server, name = collection
    before = ChromaStore("s", server.store_config())
    before.open_collection(name).sample(10, np.random.default_rng(8))
    before.close()
    edit(server, name, add=[f"meanwhile-{i}" for i in range(40)], delete=["doc-5"])

    after = ChromaStore("s", server.store_config())  # nothing kept in memory
    handle, gets = counted(after, name)
    everything = handle.sample(RECORDS * 2, np.random.default_rng(9))
    tail, *_ = listings(gets)
    assert tail == RECORDS - chroma_ids._ANCHOR  # where the kept ids end, not 0
    assert sorted(r.id for r in everything) == sorted(
        {f"doc-{i}" for i in range(RECORDS)} - {"doc-5"} | {f"meanwhile-{i}" for i in range(40)}
    )
    after.close()


def test_without_a_writable_cache_every_new_process_lists_every_id(
    collection: tuple[ChromaServer, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, name = collection
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    for seed in (10, 11):
        store = ChromaStore("s", server.store_config())
        handle, gets = counted(store, name)
        assert len(handle.sample(100, np.random.default_rng(seed))) == 100
        assert listings(gets) == [0]
        store.close()

"""Records per tag on Chroma (driftwatch.stores.chroma_tags): a server counts by
``where`` filters, starting from what its last count found, and agrees with a
scan of every record's metadata; embedded Chroma counts by SQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftwatch.checks.base import CheckContext, CheckResult
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import CollectionConfig
from driftwatch.stores import chroma_tags
from driftwatch.stores.chroma import ChromaCollection, ChromaStore
from tests.support.chroma_server import ChromaServer, ChromaTestStore, CountingGets, unique_name
from tests.support.models import MINILM, embedder
from tests.support.vectors import unit_vectors


def open_collection(backend: ChromaTestStore, name: str, **cfg: Any) -> ChromaCollection:
    return ChromaStore("test-store", backend.store_config(**cfg)).open_collection(name)


def test_tag_counts_embedded_by_sql_server_by_filters(chroma_store: ChromaTestStore) -> None:
    """Embedded: GROUP BY in SQLite; a server: Chroma's where filters. Same counts."""
    name = unique_name()
    metadatas = [{"embedding_model": "m", "embedding_version": 1}] * 3 + [{"a": 1}, None]
    chroma_store.create_collection(name, unit_vectors(5, 4), metadatas=metadatas)

    counts = open_collection(chroma_store, name).tag_counts()

    assert counts == {("m", "1"): 3, (None, None): 2}


def mixed_tags() -> list[dict[str, Any] | None]:
    """Records tagged every way a scan names alike or apart, shuffled so that
    untagged records and new values fall in the same filtered pages."""
    groups: list[tuple[dict[str, Any] | None, int]] = [
        ({"embedding_model": "minilm", "embedding_version": "v1"}, 40),
        ({"embedding_model": "minilm", "embedding_version": "v2"}, 17),
        ({"embedding_model": "minilm"}, 6),  # no version
        ({"embedding_model": "minilm", "embedding_version": ""}, 2),
        ({"embedding_model": 3, "embedding_version": 2}, 9),
        ({"embedding_model": 3.0, "embedding_version": 2.0}, 4),  # named as 3 / 2
        ({"embedding_model": "3", "embedding_version": "2"}, 5),  # named as 3 / 2 too
        ({"embedding_model": 3, "embedding_version": 1.5}, 3),
        ({"embedding_model": True, "embedding_version": 1}, 7),  # "True", not "1"
        ({"embedding_model": 1, "embedding_version": True}, 2),
        ({"embedding_model": False, "embedding_version": False}, 3),
        ({"embedding_model": "", "embedding_version": "v1"}, 4),  # untagged model
        ({"embedding_version": "v9"}, 5),
        ({"source": "upload"}, 8),
        (None, 6),
    ]
    records = [meta for meta, n in groups for _ in range(n)]
    order = np.random.default_rng(3).permutation(len(records))
    return [records[int(i)] for i in order]


class ScanningCollection(ChromaCollection):
    """The same server collection with the store's counting turned off, so that
    the version mix takes its ``iter_metadata`` scan (what it did before)."""

    def tag_counts(self) -> None:
        return None


@pytest.mark.parametrize("page_size", [7, 5000])
def test_server_tag_counts_match_the_version_mix_scan(
    chroma_server: ChromaServer, page_size: int
) -> None:
    name = unique_name()
    metadatas = mixed_tags()
    chroma_server.create_collection(name, unit_vectors(len(metadatas), 4), metadatas=metadatas)
    cfg = CollectionConfig(store="s", name=name, embedder="live", expected_model="minilm")
    store = ChromaStore("s", chroma_server.store_config(page_size=page_size))
    counting = store.open_collection(name, cfg.options())
    scanning = store._open(name, cfg.options(), ScanningCollection)

    def version_mix(handle: ChromaCollection) -> CheckResult:
        ctx = CheckContext(collection=cfg, store=handle, embedder=embedder(MINILM))
        return check_version_mix(ctx)

    by_filters, by_scan = version_mix(counting), version_mix(scanning)

    assert counting.tag_counts() == {
        ("minilm", "v1"): 40,
        ("minilm", "v2"): 17,
        ("minilm", None): 8,
        ("3", "2"): 18,
        ("3", "1.5"): 3,
        ("True", "1"): 7,
        ("1", "True"): 2,
        ("False", "False"): 3,
        (None, "v1"): 4,
        (None, "v9"): 5,
        (None, None): 14,
    }
    assert by_filters.status == by_scan.status == "drift"
    assert by_filters.message == by_scan.message
    assert by_filters.value == by_scan.value
    assert by_filters.detail == by_scan.detail


def mixed_tags_store(server: ChromaServer) -> tuple[str, ChromaStore]:
    """A new collection of ``mixed_tags`` on the server, and a store that has counted nothing."""
    name = unique_name()
    metadatas = mixed_tags()
    server.create_collection(name, unit_vectors(len(metadatas), 4), metadatas=metadatas)
    return name, ChromaStore("s", server.store_config(page_size=5000))


def counting_requests(store: ChromaStore, name: str) -> tuple[Any, int]:
    """The collection's tag counts through ``store``, and the ``get`` requests they took."""
    cfg = CollectionConfig(store="s", name=name, embedder="live")
    handle = store.open_collection(name, cfg.options())
    gets = CountingGets(handle._coll)
    handle._coll = gets
    return handle.tag_counts(), gets.gets


def fresh_count(server: ChromaServer, name: str) -> Any:
    """The tag counts of a store that remembers nothing."""
    fresh = ChromaStore("fresh", server.store_config(page_size=5000))
    try:
        return counting_requests(fresh, name)[0]
    finally:
        fresh.close()


def test_server_tag_counts_start_from_what_the_last_count_found(
    chroma_server: ChromaServer,
) -> None:
    """The daemon counts every cycle: the store remembers the pairs and the
    records lacking a tag, so the next count asks only for the pairs and those
    records, and still sees pairs that came and went."""
    name, store = mixed_tags_store(chroma_server)

    first, first_requests = counting_requests(store, name)
    second, second_requests = counting_requests(store, name)
    # One request per pair (the filters see 8 pairs here: 3 and "3" apart, though
    # named alike) and one for the 31 records lacking a tag, read by their ids.
    assert second == first and second_requests == 8 + 1 < first_requests

    # The application drops v2, re-embeds eight v1 records as v3, and adds a model.
    client = chroma_server.client()
    try:
        coll = client.get_collection(name)
        coll.delete(where={"embedding_version": "v2"})
        v1 = coll.get(where={"embedding_version": "v1"}, limit=8)["ids"]
        coll.update(
            ids=v1, metadatas=[{"embedding_model": "minilm", "embedding_version": "v3"}] * 8
        )
        coll.add(
            ids=["bge-1", "bge-2"],
            embeddings=unit_vectors(2, 4, seed=9),
            metadatas=[{"embedding_model": "bge", "embedding_version": "1"}] * 2,
        )
    finally:
        client.close()
    expected = dict(first)
    del expected[("minilm", "v2")]
    expected[("minilm", "v1")] -= 8
    expected |= {("minilm", "v3"): 8, ("bge", "1"): 2}

    # 8 pairs; the records outside them outnumber those kept, so the models' and
    # versions' filters look for new values (a page each); then v3 and bge.
    third, third_requests = counting_requests(store, name)
    assert third == fresh_count(chroma_server, name) == expected
    assert third_requests == 8 + 2 + 2
    fourth, fourth_requests = counting_requests(store, name)
    assert fourth == expected and fourth_requests == 9 + 1  # v2 forgotten; v3, bge kept


def test_server_tag_counts_see_a_record_tagged_as_another_leaves_the_residue(
    chroma_server: ChromaServer,
) -> None:
    """As many records outside the known pairs as last time does not prove that
    nothing changed: an untagged record joins a known pair while a new model
    arrives. The count reads the kept records, sees it, and looks anew."""
    name, store = mixed_tags_store(chroma_server)
    first, _ = counting_requests(store, name)

    client = chroma_server.client()
    try:
        coll = client.get_collection(name)
        untagged = next(i for i, m in enumerate(mixed_tags()) if m is None)
        coll.update(
            ids=[f"doc-{untagged}"],
            metadatas=[{"embedding_model": "minilm", "embedding_version": "v1"}],
        )
        coll.add(
            ids=["e5-1"],
            embeddings=unit_vectors(1, 4, seed=7),
            metadatas=[{"embedding_model": "e5", "embedding_version": "2"}],
        )
    finally:
        client.close()
    expected = dict(first)
    expected[(None, None)] -= 1
    expected[("minilm", "v1")] += 1
    expected[("e5", "2")] = 1

    counts, requests = counting_requests(store, name)
    assert counts == fresh_count(chroma_server, name) == expected
    assert requests == 8 + 1 + 2 + 1  # pairs, kept records, both stages, e5


def test_server_tag_counts_keep_no_residue_over_the_bound(
    chroma_server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records lacking a tag beyond ``RESIDUE_KEPT`` are not kept: each count
    finds them by the filters, with the same result."""
    monkeypatch.setattr(chroma_tags, "RESIDUE_KEPT", 30)  # the residue here is 31
    name, store = mixed_tags_store(chroma_server)
    first, _ = counting_requests(store, name)
    second, second_requests = counting_requests(store, name)
    assert second == first == fresh_count(chroma_server, name)
    assert second_requests == 8 + 2  # pairs, then a full page for each stage


def test_list_valued_tags_leave_the_count_to_the_scan(chroma_store: ChromaTestStore) -> None:
    """Chroma's filters do not match a list by its items: None, and the version mix scans."""
    lists_in_model = unique_name()
    lists_in_version = unique_name()
    tagged: list[dict[str, Any] | None] = [{"embedding_model": "m", "embedding_version": "1"}] * 4
    chroma_store.create_collection(
        lists_in_model,
        unit_vectors(5, 4),
        metadatas=[*tagged, {"embedding_model": ["m", "n"], "embedding_version": "1"}],
    )
    chroma_store.create_collection(
        lists_in_version,
        unit_vectors(6, 4),
        metadatas=[*tagged, {"embedding_model": "m", "embedding_version": [1, 2]}, None],
    )

    # Pages of 2: on a server, the list version is found by the versions' filter,
    # after the model's first page has found the model and version "1".
    assert open_collection(chroma_store, lists_in_model, page_size=2).tag_counts() is None
    assert open_collection(chroma_store, lists_in_version, page_size=2).tag_counts() is None

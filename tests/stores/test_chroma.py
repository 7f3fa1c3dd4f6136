"""ChromaStore / ChromaCollection against real Chroma: embedded directory and server.

The adapter is built directly here (``ChromaStore``), so its Chroma-specific
parts are visible; ``open_store`` puts an embedded store behind a worker
process (tests/stores/test_isolated.py), and the contract every adapter meets
is tested in test_contract.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftwatch.config import ChromaStoreConfig
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import StoredRecord, WritableCollection, WritableStore, text_hash
from driftwatch.stores.chroma import ChromaCollection, ChromaStore
from tests.support.chroma_server import (
    ChromaTestStore,
    EmbeddedChroma,
    free_port,
    start_chroma_server,
    unique_name,
)
from tests.support.loopback import LoopbackServer, Reply
from tests.support.models import MINILM, corpus, embedder
from tests.support.vectors import unit_vectors


def open_collection(backend: ChromaTestStore, name: str, **cfg: Any) -> ChromaCollection:
    return ChromaStore("test-store", backend.store_config(**cfg)).open_collection(name)


@pytest.fixture(scope="module")
def paragraphs() -> tuple[list[str], np.ndarray]:
    """60 real documentation paragraphs (first 300 characters) and their MiniLM vectors."""
    texts = [row["text"][:300] for row in corpus()[:60]]
    return texts, embedder(MINILM).embed(texts)


def test_count_and_dimension(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    chroma_store.create_collection(name, unit_vectors(37, 24))

    coll = open_collection(chroma_store, name)

    assert coll.name == name
    assert coll.count() == 37
    assert coll.dimension() == 24


def test_empty_collection(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    chroma_store.create_collection(name, np.zeros((0, 8), dtype=np.float32))

    coll = open_collection(chroma_store, name)

    assert coll.count() == 0
    assert coll.dimension() is None
    assert list(coll.iter_metadata()) == []
    assert coll.sample(5, np.random.default_rng(0)) == []
    hits = coll.query(unit_vectors(2, 8), k=3)
    assert [h.ids for h in hits] == [[], []]


def test_iter_metadata_pages_over_every_record(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    n = 1050
    chroma_store.create_collection(
        name, unit_vectors(n, 8), metadatas=[{"pos": i} for i in range(n)]
    )
    coll = open_collection(chroma_store, name)
    progress: list[tuple[int, int]] = []

    pages = list(coll.iter_metadata(page_size=100, progress=lambda d, t: progress.append((d, t))))

    assert [len(p) for p in pages] == [100] * 10 + [50]
    positions = sorted(m["pos"] for page in pages for m in page if m is not None)
    assert positions == list(range(n))
    assert progress[-1] == (n, n)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_iter_metadata_uses_the_configured_page_size(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    chroma_store.create_collection(name, unit_vectors(70, 4), metadatas=[{"a": 1}] * 70)

    coll = open_collection(chroma_store, name, page_size=30)

    assert [len(p) for p in coll.iter_metadata()] == [30, 30, 10]


def test_records_without_metadata_and_non_string_values(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    metadatas: list[dict[str, Any] | None] = [
        None,
        {"embedding_model": 3, "embedding_version": 2.5},
        {"embedding_model": True, "embedding_version": 1.0},
        {"other": "x"},
    ]
    chroma_store.create_collection(name, unit_vectors(4, 4), metadatas=metadatas)
    coll = open_collection(chroma_store, name)

    (page,) = list(coll.iter_metadata())
    records = {r.id: r for r in coll.sample(10, np.random.default_rng(0))}

    assert page[0] is None
    assert page[1] == {"embedding_model": 3, "embedding_version": 2.5}
    assert page[2] is not None
    assert page[2]["embedding_model"] is True
    assert page[3] == {"other": "x"}
    assert records["doc-0"].metadata == {}
    assert records["doc-1"].metadata == {"embedding_model": 3, "embedding_version": 2.5}


def test_sample_is_uniform_across_the_whole_collection(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    n = 600
    vectors = unit_vectors(n, 8)
    metadatas = [{"pos": i} for i in range(n)]
    documents = [f"text {i}" for i in range(n)]
    chroma_store.create_collection(name, vectors, metadatas=metadatas, documents=documents)
    coll = open_collection(chroma_store, name, page_size=100)
    rng = np.random.default_rng(7)

    positions: list[int] = []
    for _ in range(40):
        sample = coll.sample(30, rng)
        assert len({r.id for r in sample}) == 30
        for record in sample:
            pos = int(record.metadata["pos"])
            assert record.id == f"doc-{pos}"
            assert record.document == f"text {pos}"
            assert record.embedding is not None
            np.testing.assert_allclose(record.embedding, vectors[pos], rtol=1e-6)
            positions.append(pos)

    # 1,200 draws over 10 equal bins of the collection: a sampler that favours
    # the first page (or any region) fails this by a wide margin.
    counts = np.bincount(np.array(positions) * 10 // n, minlength=10)
    assert stats.chisquare(counts).pvalue > 0.001, counts
    assert max(positions) >= n - 60 and min(positions) < 60


def test_sample_larger_than_collection_returns_everything(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    chroma_store.create_collection(name, unit_vectors(12, 4))

    sample = open_collection(chroma_store, name).sample(50, np.random.default_rng(0))

    assert sorted(r.id for r in sample) == sorted(f"doc-{i}" for i in range(12))


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_query_similarity_is_cosine(
    chroma_store: ChromaTestStore, space: str, paragraphs: tuple[list[str], np.ndarray]
) -> None:
    texts, vectors = paragraphs
    name = unique_name()
    stored, others = vectors[:50], vectors[50:]
    chroma_store.create_collection(name, stored, documents=texts[:50], space=space)
    coll = open_collection(chroma_store, name)
    queries = np.vstack([others, stored[:5]])

    hits = coll.query(queries, k=5)

    assert coll.space == space
    assert coll.distance() == space
    cosine = (
        queries
        @ stored.T
        / np.outer(np.linalg.norm(queries, axis=1), np.linalg.norm(stored, axis=1))
    )
    for row, hit in zip(cosine, hits, strict=True):
        assert len(hit.ids) == 5
        expected = [row[int(i.removeprefix("doc-"))] for i in hit.ids]
        np.testing.assert_allclose(hit.similarities, expected, atol=1e-4)
        assert hit.ids[0] == f"doc-{int(np.argmax(row))}"
        assert hit.similarities == sorted(hit.similarities, reverse=True)
    # A stored text's own vector finds that text first, at similarity 1.
    assert [h.ids[0] for h in hits[-5:]] == [f"doc-{i}" for i in range(5)]
    assert all(h.similarities[0] == pytest.approx(1.0, abs=1e-5) for h in hits[-5:])


def test_missing_collection_names_collection_and_store(chroma_store: ChromaTestStore) -> None:
    chroma_store.create_collection(unique_name(), unit_vectors(1, 4))
    store = ChromaStore("prod-chroma", chroma_store.store_config())

    with pytest.raises(CollectionNotFound) as err:
        store.open_collection("no-such-collection")

    assert "'no-such-collection'" in str(err.value)
    assert "'prod-chroma'" in str(err.value)


def test_unreachable_server_is_store_unavailable() -> None:
    port = free_port()  # nothing listens there
    store = open_store("remote", ChromaStoreConfig(url=f"http://127.0.0.1:{port}"))

    with pytest.raises(StoreUnavailable) as err:
        store.open_collection("docs")

    message = str(err.value)
    assert message.startswith(f"chroma server http://127.0.0.1:{port} is unreachable: ")
    assert "refused" in message.lower()


def test_credentials_in_the_url_never_reach_the_message() -> None:
    port = free_port()
    cfg = ChromaStoreConfig(url=f"http://admin:hunter2@127.0.0.1:{port}/")
    store = open_store("remote", cfg)

    with pytest.raises(StoreUnavailable) as err:
        store.open_collection("docs")

    assert "hunter2" not in str(err.value)
    assert f"127.0.0.1:{port}" in str(err.value)


def test_slow_server_times_out_as_store_unavailable() -> None:
    with LoopbackServer() as server:
        server.route("/api/v2/heartbeat", lambda _req: Reply(200, b"{}", delay_s=2.0))
        cfg = ChromaStoreConfig(url=server.url(""), timeout="300ms")

        with pytest.raises(StoreUnavailable) as err:
            open_store("slow", cfg).open_collection("docs")

    assert "timed out after 0.3s" in str(err.value)
    assert server.url("") in str(err.value)


@pytest.mark.slow
def test_server_going_away_is_store_unavailable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = start_chroma_server(data)
    try:
        name = unique_name()
        server.create_collection(name, unit_vectors(5, 4))
        coll = open_store("remote", server.store_config()).open_collection(name)
        assert coll.count() == 5
    finally:
        server.stop()

    with pytest.raises(StoreUnavailable, match=r"is unreachable"):
        coll.count()


def test_embedded_path_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    store = ChromaStore("local", ChromaStoreConfig(path=str(missing)))

    with pytest.raises(StoreUnavailable, match=r"does not exist") as err:
        store.open_collection("docs")

    assert str(missing) in str(err.value)
    assert not missing.exists()


def test_embedded_directory_without_chroma_data_is_refused(tmp_path: Path) -> None:
    store = ChromaStore("local", ChromaStoreConfig(path=str(tmp_path)))

    with pytest.raises(StoreUnavailable, match=r"is not a Chroma directory"):
        store.open_collection("docs")

    assert list(tmp_path.iterdir()) == []


WRITER = """
import sys
import chromadb
import numpy as np
from chromadb.config import Settings

client = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
coll = client.get_collection(sys.argv[2], embedding_function=None)
vectors = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
coll.add(ids=[f"new-{i}" for i in range(5)], embeddings=vectors)
"""


def test_embedded_store_sees_writes_of_the_application_process(tmp_path: Path) -> None:
    backend = EmbeddedChroma(tmp_path / "chroma")
    name = unique_name()
    backend.create_collection(name, unit_vectors(10, 8))
    store = ChromaStore("local", backend.store_config())
    query = unit_vectors(1, 8, seed=3)
    coll = store.open_collection(name)
    assert len(coll.query(query, k=50)[0].ids) == 10
    del coll  # the check cycle is over

    # The application, in its own process, adds records between two cycles.
    subprocess.run([sys.executable, "-c", WRITER, str(backend.path), name], check=True)

    coll = store.open_collection(name)
    assert coll.count() == 15
    hits = coll.query(query, k=50)[0]
    assert len(hits.ids) == 15
    assert {f"new-{i}" for i in range(5)} <= set(hits.ids)


def test_collection_without_a_space_uses_chromas_default_l2(
    chroma_store: ChromaTestStore,
) -> None:
    name = unique_name()
    client = chroma_store.client()
    try:
        client.create_collection(name, embedding_function=None).add(
            ids=["a"], embeddings=unit_vectors(1, 4)
        )
    finally:
        client.close()

    assert open_collection(chroma_store, name).distance() == "l2"


def writable(backend: ChromaTestStore) -> ChromaStore:
    """The adapter on an existing store (driftwatch never creates a Chroma directory)."""
    backend.client().close()
    return ChromaStore("green", backend.store_config())


def _records(n: int, dim: int = 8, seed: int = 0) -> list[StoredRecord]:
    vectors = unit_vectors(n, dim, seed)
    return [
        StoredRecord(
            id=f"r-{i}",
            document=None if i % 4 == 0 else f"text {i}",
            embedding=vectors[i],
            metadata={} if i % 5 == 0 else {"embedding_model": "m", "embedding_version": i % 2},
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("distance", ["cosine", "l2", "ip"])
def test_create_collection_writes_and_reads_back(
    chroma_store: ChromaTestStore, distance: Any
) -> None:
    store = writable(chroma_store)
    assert isinstance(store, WritableStore)
    name = unique_name()
    records = _records(30)

    coll = store.create_collection(name, dimension=8, distance=distance)
    assert isinstance(coll, WritableCollection)
    coll.upsert(records)

    assert coll.count() == 30
    assert coll.dimension() == 8
    assert coll.distance() == distance
    hashes = dict(pair for page in coll.iter_text_hashes(page_size=7) for pair in page)
    assert hashes == {r.id: text_hash(r.document) for r in records}
    back = {r.id: r for r in coll.sample(30, np.random.default_rng(0))}
    assert back["r-0"].document is None and back["r-0"].metadata == {}
    assert back["r-3"].metadata == {"embedding_model": "m", "embedding_version": 1}
    assert back["r-3"].embedding is not None
    np.testing.assert_allclose(back["r-3"].embedding, records[3].embedding, rtol=1e-6)
    hit = coll.query(np.stack([records[7].embedding]), k=1)[0]  # type: ignore[list-item]
    assert hit.ids == ["r-7"] and hit.similarities[0] == pytest.approx(1.0, abs=1e-5)


def test_upsert_replaces_and_delete_removes(chroma_store: ChromaTestStore) -> None:
    store = writable(chroma_store)
    name = unique_name()
    coll = store.create_collection(name, dimension=8, distance="cosine")
    records = _records(10)
    coll.upsert(records)
    changed = StoredRecord("r-1", "new text", records[2].embedding, {"embedding_version": 9})

    coll.upsert([changed])
    coll.delete(["r-2", "r-3", "no-such-id"])

    assert coll.count() == 8
    hashes = dict(pair for page in coll.iter_text_hashes() for pair in page)
    assert hashes["r-1"] == text_hash("new text")
    assert "r-2" not in hashes and "r-3" not in hashes
    reopened = store.open_writable(name)
    assert reopened.count() == 8


def test_upsert_in_batches_beyond_the_clients_limit(chroma_store: ChromaTestStore) -> None:
    store = writable(chroma_store)
    n = store.max_batch_size() + 10
    coll = store.create_collection(unique_name(), dimension=4, distance="l2")

    coll.upsert(_records(n, dim=4))

    assert coll.count() == n


def test_create_collection_again_opens_it(chroma_store: ChromaTestStore) -> None:
    store = writable(chroma_store)
    name = unique_name()
    store.create_collection(name, dimension=8, distance="ip")  # empty: no record yet

    again = store.create_collection(name, dimension=8, distance="ip")

    assert again.count() == 0 and again.distance() == "ip"


@pytest.mark.parametrize(
    ("dimension", "distance"), [(16, "cosine"), (8, "l2")], ids=["dimension", "distance"]
)
def test_create_collection_that_exists_otherwise_names_both(
    chroma_store: ChromaTestStore, dimension: int, distance: Any
) -> None:
    store = writable(chroma_store)
    name = unique_name()
    store.create_collection(name, dimension=8, distance="cosine")

    with pytest.raises(StoreError) as err:
        store.create_collection(name, dimension=dimension, distance=distance)

    message = str(err.value)
    assert f"{name!r} already exists" in message
    assert "dimension 8 and distance cosine" in message
    assert f"not dimension {dimension} and distance {distance}" in message


def test_an_applications_collection_that_exists_otherwise_is_refused(
    chroma_store: ChromaTestStore,
) -> None:
    name = unique_name()
    chroma_store.create_collection(name, unit_vectors(3, 12), space="cosine")
    store = writable(chroma_store)

    with pytest.raises(StoreError, match=r"with dimension 12 and distance cosine"):
        store.create_collection(name, dimension=8, distance="cosine")


def test_upsert_without_a_vector_is_refused(chroma_store: ChromaTestStore) -> None:
    store = writable(chroma_store)
    coll = store.create_collection(unique_name(), dimension=4, distance="cosine")

    with pytest.raises(StoreError, match=r"no vector for ids \['x'\]"):
        coll.upsert([StoredRecord("x", "text", None, {})])
    assert coll.count() == 0


def test_open_writable_of_a_missing_collection(chroma_store: ChromaTestStore) -> None:
    store = writable(chroma_store)

    with pytest.raises(CollectionNotFound, match=r"'missing-one'"):
        store.open_writable("missing-one")


def test_a_read_handle_cannot_write(chroma_store: ChromaTestStore) -> None:
    name = unique_name()
    chroma_store.create_collection(name, unit_vectors(2, 4))

    assert not isinstance(open_collection(chroma_store, name), WritableCollection)

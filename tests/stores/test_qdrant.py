"""QdrantStore / QdrantCollection on qdrant-client's local mode (``path:``).

No Qdrant server binary can be installed here, so the data side runs in local
mode only; the ``url:`` side is tested where a loopback HTTP server is honest:
nothing listening, and a server answering 401. What every adapter must do is in
test_contract.py; this file covers what is Qdrant's own: named vectors, the
LangChain payload layout (nested metadata), facet counts, point ids.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftwatch.checks.base import metadata_tag
from driftwatch.config import QdrantStoreConfig
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import (
    CollectionOptions,
    StoredRecord,
    WritableCollection,
    WritableStore,
    text_hash,
)
from driftwatch.stores.qdrant import QdrantStore, point_id
from tests.support.loopback import LoopbackServer, Reply, free_port
from tests.support.qdrant_local import fill_qdrant

SECRET = "qdrant-key-never-shown"
LANGCHAIN = CollectionOptions(
    vector_name="dense",
    text_key="page_content",
    model_key="metadata.embedding_model",
    version_key="metadata.embedding_version",
)


def vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def local_store(path: Path) -> QdrantStore:
    return QdrantStore("qd", QdrantStoreConfig(kind="qdrant", path=str(path)))


@pytest.fixture
def langchain_dir(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A LangChain-style collection: text in page_content, metadata nested, a named vector."""
    n = 90
    metas: list[dict[str, Any]] = []
    for i in range(n):
        meta: dict[str, Any] = {"source": f"doc{i}.md"}
        if i % 6:
            meta["embedding_model"] = "m-a" if i % 3 else "m-b"
        if i % 4:
            meta["embedding_version"] = i % 2 + 1
        metas.append(meta)
    rows = [
        (f"doc-{i}", v, f"text {i}", m)
        for i, (v, m) in enumerate(zip(vectors(n), metas, strict=True))
    ]
    fill_qdrant(
        tmp_path, "lc", rows, vector_name="dense", text_key="page_content", metadata_key="metadata"
    )
    return tmp_path, metas


def test_langchain_layout_nested_tags_and_named_vector(
    langchain_dir: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, metas = langchain_dir
    store = local_store(path)
    handle = store.open_collection("lc", LANGCHAIN)
    try:
        scanned = [m for page in handle.iter_metadata(page_size=20) for m in page]
        native = handle.tag_counts()
        sample = {r.id: r for r in handle.sample(90, np.random.default_rng(0))}
        hashes = dict(pair for page in handle.iter_text_hashes(page_size=25) for pair in page)
        hit = handle.query(vectors(90)[5:6], k=1)[0]
    finally:
        store.close()

    expected = Counter(
        (metadata_tag(m, "embedding_model"), metadata_tag(m, "embedding_version")) for m in metas
    )
    counted = Counter(
        (metadata_tag(m, LANGCHAIN.model_key), metadata_tag(m, LANGCHAIN.version_key))
        for m in scanned
    )
    assert counted == expected
    assert native == dict(expected)  # facet counts, no scan
    assert sample["doc-7"].document == "text 7"
    assert sample["doc-7"].metadata[LANGCHAIN.model_key] == "m-a"
    assert sample["doc-7"].metadata["metadata"]["source"] == "doc7.md"
    assert hashes["doc-3"] == text_hash("text 3")
    assert handle.dimension() == 8
    assert hit.ids == ["doc-5"] and hit.similarities[0] == pytest.approx(1.0, abs=1e-5)


def test_a_vector_name_the_collection_lacks_names_the_ones_it_has(
    langchain_dir: tuple[Path, list[dict[str, Any]]],
) -> None:
    store = local_store(langchain_dir[0])
    try:
        with pytest.raises(StoreError, match=r"no vector named 'sparse' \(its vectors: 'dense'\)"):
            store.open_collection("lc", CollectionOptions(vector_name="sparse"))
    finally:
        store.close()


def test_tags_facets_cannot_count_exactly_fall_back_to_the_scan(tmp_path: Path) -> None:
    """Float versions are not faceted by Qdrant: tag_counts says None, not wrong numbers."""
    metas = [{"embedding_model": "m", "embedding_version": 1.5 if i % 2 else 2} for i in range(10)]
    fill_qdrant(
        tmp_path,
        "floats",
        [(f"r{i}", v, None, m) for i, (v, m) in enumerate(zip(vectors(10), metas, strict=True))],
    )
    store = local_store(tmp_path)
    try:
        assert store.open_collection("floats").tag_counts() is None
    finally:
        store.close()


def test_missing_collection_and_missing_directory(tmp_path: Path) -> None:
    fill_qdrant(tmp_path, "one", [("a", vectors(1)[0], None, None)])
    store = local_store(tmp_path)
    try:
        with pytest.raises(CollectionNotFound, match=r"'two' does not exist in store 'qd'"):
            store.open_collection("two")
    finally:
        store.close()
    missing = tmp_path / "typo"
    with pytest.raises(StoreUnavailable, match=r"does not exist"):
        local_store(missing).open_collection("one")
    assert not missing.exists()


def test_unreachable_server_names_it_without_the_api_key() -> None:
    port = free_port()
    cfg = QdrantStoreConfig(kind="qdrant", url=f"http://127.0.0.1:{port}", api_key=SECRET)

    with pytest.raises(StoreUnavailable) as err:
        open_store("qd", cfg).open_collection("docs")

    assert f"qdrant server http://127.0.0.1:{port} is unreachable" in str(err.value)
    assert SECRET not in str(err.value)


def test_a_server_refusing_the_api_key_is_a_clear_error(recwarn: pytest.WarningsRecorder) -> None:
    with LoopbackServer() as server:
        refused = Reply(
            401, b'{"status": {"error": "Invalid api-key"}}', {"content-type": "application/json"}
        )
        server.route("/collections/docs/exists", lambda _req: refused)
        cfg = QdrantStoreConfig(kind="qdrant", url=server.url(""), api_key=SECRET)

        with pytest.raises(StoreUnavailable) as err:
            open_store("qd", cfg).open_collection("docs")

        sent = server.requests_to("/collections/docs/exists")
    message = str(err.value)
    assert "answered HTTP 401" in message and "check api_key" in message
    assert SECRET not in message
    assert (
        sent and sent[0].headers.get("api-key") == SECRET
    )  # the key did travel, to the server only


def test_write_round_trip_with_named_vector_and_nested_tags(tmp_path: Path) -> None:
    fill_qdrant(tmp_path, "app", [("a", vectors(1)[0], None, None)])  # an existing store
    store = local_store(tmp_path)
    assert isinstance(store, WritableStore)
    ids = ["doc-1", "42", "8f4b4e4c-1d7e-4a8e-9a55-3b1f0c2e7d11", "ünï cödé"]
    vecs = vectors(4, dim=6, seed=3)
    records = [
        StoredRecord(
            rid,
            None if i == 0 else f"text {i}",
            vecs[i],
            {"metadata.embedding_model": "new", "metadata.embedding_version": "2"},
        )
        for i, rid in enumerate(ids)
    ]
    try:
        green = store.create_collection("green", 6, "l2", LANGCHAIN)
        assert isinstance(green, WritableCollection)
        green.upsert(records)
        green.upsert([StoredRecord("42", "changed", vecs[1], {})])
        green.delete(["doc-1", "never-there"])

        again = store.create_collection("green", 6, "l2", LANGCHAIN)
        assert again.count() == 3 and again.distance() == "l2" and again.dimension() == 6
        hashes = dict(pair for page in again.iter_text_hashes() for pair in page)
        assert hashes == {
            "42": text_hash("changed"),
            ids[2]: text_hash("text 2"),
            ids[3]: text_hash("text 3"),
        }
        assert again.tag_counts() == {("new", "2"): 2, (None, None): 1}
        hit = again.query(vecs[3:4], k=1)[0]
        assert hit.ids == [ids[3]] and hit.similarities[0] == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(StoreError) as err:
            store.create_collection("green", 8, "cosine", LANGCHAIN)
    finally:
        store.close()
    assert "with dimension 6 and distance l2, not dimension 8 and distance cosine" in str(err.value)
    assert point_id("42") == 42 and point_id(ids[2]) == ids[2]
    assert point_id("doc-1") == point_id("doc-1") != point_id("doc-2")

"""kind: chroma — the collection's own embedding function, on a real embedded Chroma."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from driftwatch.config import ChromaEmbedderConfig, ChromaStoreConfig
from driftwatch.embedders import build_embedder
from driftwatch.embedders.chroma import ChromaEmbedder
from driftwatch.errors import EmbedderError, EmbedderResponseError, EmbedderUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle
from driftwatch.stores.chroma import chroma_settings
from tests.support.models import MINILM, corpus, embedder

CONFIG = ChromaEmbedderConfig(kind="chroma", model=MINILM)


class LocalOnnxFunction(EmbeddingFunction[Documents]):
    """What an application would configure: a real local model as Chroma's embedding function.

    Its vectors are scaled by 3 (not unit length) so the test sees the wrapper normalise.
    ``mode`` "fail" makes it raise and "nan" return NaNs, as broken application functions do.
    """

    def __init__(self, model: str = MINILM, mode: str = "ok") -> None:
        self.model = model
        self.mode = mode

    def __call__(self, input: Documents) -> Embeddings:
        if self.mode == "fail":
            raise RuntimeError("model server for the embedding function is down")
        vectors = 3.0 * embedder(self.model).embed(list(input))
        if self.mode == "nan":
            vectors[0, 0] = np.nan
        return list(vectors)

    @staticmethod
    def name() -> str:
        return "driftwatch-test-local-onnx"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalOnnxFunction:
        return LocalOnnxFunction(config["model"], config["mode"])


@pytest.fixture(scope="module")
def chroma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma")
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    docs = [row["text"] for row in corpus() if len(row["text"]) <= 300][:5]
    ok = client.create_collection("docs", embedding_function=LocalOnnxFunction())  # type: ignore[arg-type]
    ok.add(ids=[f"d{i}" for i in range(len(docs))], documents=docs)
    for mode in ("fail", "nan"):
        broken = LocalOnnxFunction(mode=mode)
        client.create_collection(mode, embedding_function=broken)  # type: ignore[arg-type]
    client.create_collection("no-function", embedding_function=None)
    # Chroma's own default function (all-MiniLM-L6-v2, downloaded on first use).
    client.create_collection("chroma-default").add(ids=["a"], embeddings=[[0.5] * 384])
    client.close()
    return path


@pytest.fixture
def open_collection(chroma_dir: Path) -> Iterator[Any]:
    store = open_store("local", ChromaStoreConfig(kind="chroma", path=str(chroma_dir)))
    yield store.open_collection
    store.close()


def test_embeds_like_the_collections_own_function(open_collection: Any) -> None:
    texts = ["how do I open a file", "list comprehensions", "asyncio event loop"]
    own = build_embedder("app", CONFIG, open_collection("docs"))
    vectors = own.embed(texts)
    assert own.model == MINILM
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert ((vectors * embedder(MINILM).embed(texts)).sum(axis=1) > 0.99999).all()


def test_a_query_finds_the_stored_document(open_collection: Any) -> None:
    handle: CollectionHandle = open_collection("docs")
    docs = [row["text"] for row in corpus() if len(row["text"]) <= 300][:5]
    hits = handle.query(ChromaEmbedder(CONFIG, handle).embed([docs[2]]), k=1)
    assert hits[0].ids == ["d2"]


def test_a_failing_function_is_an_embedder_error_naming_the_collection(
    open_collection: Any,
) -> None:
    own = build_embedder("app", CONFIG, open_collection("fail"))
    with pytest.raises(EmbedderError, match=r"'fail'.*model server .* is down"):
        own.embed(["hello"])


def test_nan_from_the_function_is_a_response_error(open_collection: Any) -> None:
    own = build_embedder("app", CONFIG, open_collection("nan"))
    with pytest.raises(EmbedderResponseError, match=r"collection 'nan'.*NaN"):
        own.embed(["hello", "world"])


def test_without_a_collection_it_is_unavailable() -> None:
    with pytest.raises(EmbedderUnavailable, match=r"embedder 'app' \(kind chroma\)"):
        build_embedder("app", CONFIG)


def test_a_collection_without_a_function_is_unavailable(open_collection: Any) -> None:
    own = build_embedder("app", CONFIG, open_collection("no-function"))
    with pytest.raises(EmbedderUnavailable, match=r"'no-function' has no embedding function"):
        own.embed(["hello"])


def test_chromas_default_function_is_never_downloaded(
    open_collection: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    # Chroma's model cache, pointed at an empty directory: the model "is not there".
    cache = tmp_path / "cache"
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", cache)
    own = build_embedder("app", CONFIG, open_collection("chroma-default"))

    with pytest.raises(EmbedderUnavailable, match=r"does not download models"):
        own.embed(["hello"])
    assert not cache.exists()


def test_the_function_runs_in_this_process_not_the_store_worker(
    chroma_dir: Path,
) -> None:
    """An embedded store is held by a worker process (stores/isolated.py); the
    function is rebuilt here from the collection's configuration, so an
    application's function class registered in this process is found."""
    store = open_store("local", ChromaStoreConfig(kind="chroma", path=str(chroma_dir)))
    try:
        handle = store.open_collection("docs")
        assert getattr(store, "worker_pid", None) is not None  # really isolated
        vectors = build_embedder("app", CONFIG, handle).embed(["list comprehensions"])
    finally:
        store.close()
    assert vectors.shape == (1, 384)


def test_a_collection_of_another_store_has_no_own_function(tmp_path: Path) -> None:
    from driftwatch.config import QdrantStoreConfig
    from tests.support.qdrant_local import fill_qdrant

    fill_qdrant(tmp_path, "docs", [("a", np.ones(4, dtype=np.float32), "text", None)])
    store = open_store("qd", QdrantStoreConfig(kind="qdrant", path=str(tmp_path)))
    try:
        own = build_embedder("app", CONFIG, store.open_collection("docs"))
        with pytest.raises(EmbedderUnavailable, match=r"is not in a Chroma store"):
            own.embed(["hello"])
    finally:
        store.close()

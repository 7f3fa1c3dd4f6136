"""build_embedder and EmbedderPool (driftwatch/embedders/__init__.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from driftwatch.config import EmbedderConfig, parse_config
from driftwatch.embedders import EmbedderPool, build_embedder
from driftwatch.embedders.onnx import OnnxEmbedder
from driftwatch.embedders.openai import OpenAIEmbedder
from driftwatch.errors import EmbedderUnavailable
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, embedder


def _embedders(**entries: object) -> dict[str, EmbedderConfig]:
    return parse_config({"embedders": entries}).embedders


def test_build_embedder_picks_the_adapter_by_kind() -> None:
    cfgs = _embedders(
        live={"kind": "onnx", "model": PARAPHRASE},
        provider={"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"},
    )
    live = build_embedder("live", cfgs["live"])
    provider = build_embedder("provider", cfgs["provider"])
    assert isinstance(live, OnnxEmbedder)
    assert isinstance(provider, OpenAIEmbedder)
    assert (live.model, provider.model) == (PARAPHRASE, "m")
    provider.close()


def test_pool_loads_each_onnx_model_once() -> None:
    pool = EmbedderPool(
        _embedders(
            live={"kind": "onnx", "model": MINILM},
            same_file={"kind": "onnx", "model": "minilm-by-path", "path": MINILM},
            other={"kind": "onnx", "model": PARAPHRASE},
        )
    )
    live = pool.get("live")
    assert pool.get("live") is live
    same_file = pool.get("same_file")
    assert same_file.model == "minilm-by-path"
    pool.get("other")
    assert pool.loaded_onnx_models == 2
    text = ["shared sessions give identical vectors"]
    np.testing.assert_array_equal(live.embed(text), same_file.embed(text))
    pool.close()
    assert pool.loaded_onnx_models == 0


def test_pool_builds_once_under_concurrent_gets() -> None:
    pool = EmbedderPool(_embedders(live={"kind": "onnx", "model": PARAPHRASE}))
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(pool.get("live"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in got}) == 1
    assert pool.loaded_onnx_models == 1


def test_pool_retries_a_failed_build(tmp_path: Path) -> None:
    model_file = tmp_path / "model.onnx"
    pool = EmbedderPool(
        _embedders(live={"kind": "onnx", "model": "custom", "path": str(model_file)})
    )
    with pytest.raises(EmbedderUnavailable, match="does not exist"):
        pool.get("live")
    model_file.write_bytes(embedder(PARAPHRASE).model_path.read_bytes())
    assert pool.get("live").embed(["now it is there"]).shape == (1, 384)


def test_pool_serves_openai_embedders() -> None:
    with EmbeddingServer({"served": embedder(MINILM)}) as server:
        pool = EmbedderPool(
            _embedders(provider={"kind": "openai", "model": "served", "base_url": server.base_url})
        )
        assert pool.get("provider").embed(["hi"]).shape == (1, 384)
        pool.close()


def test_pool_names_an_unknown_embedder() -> None:
    pool = EmbedderPool(_embedders(live={"kind": "onnx", "model": MINILM}))
    with pytest.raises(EmbedderUnavailable, match=r"'nope'.*known: live"):
        pool.get("nope")


def test_pool_chroma_kind_needs_a_collection() -> None:
    pool = EmbedderPool(_embedders(app={"kind": "chroma", "model": MINILM}))
    with pytest.raises(EmbedderUnavailable, match=r"embedder 'app' \(kind chroma\)"):
        pool.get("app")

"""Embedders: turn texts into vectors the way the application does.

``build_embedder`` makes one embedder from its config; ``EmbedderPool`` is
what the daemon holds: one embedder per configured name, built on first use,
with each ONNX model loaded once even when several embedder names (or
collections) use the same file::

    pool = EmbedderPool(config.embedders)
    live = pool.get("live")                       # onnx / openai
    own = pool.get("app", collection=handle)      # kind chroma needs the collection
    vectors = live.embed(["how do I reset my password"])
    pool.close()
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from driftwatch.config import (
    ChromaEmbedderConfig,
    EmbedderConfig,
    OnnxEmbedderConfig,
    OpenAIEmbedderConfig,
)
from driftwatch.embedders.base import Embedder
from driftwatch.embedders.onnx import OnnxEmbedder, OnnxModel, OnnxModelKey
from driftwatch.errors import EmbedderUnavailable
from driftwatch.stores.base import CollectionHandle

__all__ = ["Embedder", "EmbedderPool", "build_embedder"]


def build_embedder(
    name: str, cfg: EmbedderConfig, collection: CollectionHandle | None = None
) -> Embedder:
    """A new embedder for config entry ``name``; kind chroma needs ``collection``."""
    if isinstance(cfg, OnnxEmbedderConfig):
        return OnnxEmbedder(cfg)
    if isinstance(cfg, OpenAIEmbedderConfig):
        from driftwatch.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(cfg, name=name)
    return _chroma_embedder(name, cfg, collection)


def _chroma_embedder(
    name: str, cfg: ChromaEmbedderConfig, collection: CollectionHandle | None
) -> Embedder:
    from driftwatch.embedders.chroma import ChromaEmbedder

    if collection is None:
        raise EmbedderUnavailable(
            f"embedder {name!r} (kind chroma) uses a collection's own embedding function, "
            "so it can only be used for a collection"
        )
    return ChromaEmbedder(cfg, collection, name=name)


class EmbedderPool:
    """Configured embedders by name, built lazily and shared; thread-safe.

    A failed build (model file missing, package not installed) is not
    remembered: the next ``get`` tries again, so fixing the cause needs no restart.
    """

    def __init__(self, configs: Mapping[str, EmbedderConfig]) -> None:
        self._configs = dict(configs)
        self._lock = threading.Lock()
        self._embedders: dict[str, Embedder] = {}
        self._onnx_models: dict[OnnxModelKey, OnnxModel] = {}

    def get(self, name: str, collection: CollectionHandle | None = None) -> Embedder:
        """The embedder configured as ``name`` (for ``collection``, if its kind is chroma)."""
        cfg = self._configs.get(name)
        if cfg is None:
            known = ", ".join(sorted(self._configs)) or "none"
            raise EmbedderUnavailable(f"no embedder named {name!r} is configured (known: {known})")
        if isinstance(cfg, ChromaEmbedderConfig):
            # A thin wrapper per call: the collection handle is the caller's.
            return _chroma_embedder(name, cfg, collection)
        with self._lock:
            embedder = self._embedders.get(name)
            if embedder is None:
                embedder = self._build(name, cfg)
                self._embedders[name] = embedder
            return embedder

    def _build(self, name: str, cfg: OnnxEmbedderConfig | OpenAIEmbedderConfig) -> Embedder:
        if not isinstance(cfg, OnnxEmbedderConfig):
            return build_embedder(name, cfg)
        key = OnnxModelKey.from_config(cfg)
        model = self._onnx_models.get(key)
        if model is None:
            model = OnnxModel(key)
            self._onnx_models[key] = model
        return OnnxEmbedder(cfg, shared=model)

    @property
    def loaded_onnx_models(self) -> int:
        """How many ONNX models are in memory (each file + settings at most once)."""
        with self._lock:
            return len(self._onnx_models)

    def close(self) -> None:
        """Close every embedder built so far; the pool can be used again afterwards."""
        with self._lock:
            embedders = list(self._embedders.values())
            self._embedders.clear()
            self._onnx_models.clear()
        for embedder in embedders:
            embedder.close()

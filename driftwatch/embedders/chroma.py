"""The collection's own embedding function (``kind: chroma``).

For applications that let Chroma embed their queries: the embedding function
configured on the collection is exactly what the application uses, so
driftwatch probes with it. Only a Chroma collection has one, so this lives here
rather than in the store contract: ``embed_with_own_function`` finds and calls
it, and ``ChromaEmbedder`` checks the answer and L2-normalises it like every
other embedder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from driftwatch.config import ChromaEmbedderConfig
from driftwatch.embedders.base import l2_normalise
from driftwatch.errors import (
    DriftwatchError,
    EmbedderError,
    EmbedderResponseError,
    EmbedderUnavailable,
    StoreError,
)
from driftwatch.stores.base import CollectionHandle


def own_embedding_function(collection: CollectionHandle) -> Any:
    """The embedding function configured on a Chroma collection, built in this process.

    Rebuilt from the collection's configuration (``configuration_json``), so it
    works alike for a collection opened in this process and one held by an
    isolated store worker (``stores/isolated.py`` forwards the attribute), and it
    runs here, where the application's own function classes are registered.
    Chroma's built-in default function would download its model on first use;
    driftwatch never downloads at check time, so that function is only used
    when its model files are already in Chroma's cache.
    """
    where = _where(collection)
    try:
        config_json = collection.configuration_json  # type: ignore[attr-defined]
    except (AttributeError, StoreError) as exc:
        raise EmbedderUnavailable(
            f"{where}: kind chroma uses a Chroma collection's own embedding function, "
            "and this collection is not in a Chroma store"
        ) from exc
    from chromadb.api.collection_configuration import load_collection_configuration_from_json

    try:
        function = load_collection_configuration_from_json(config_json).get("embedding_function")
    except Exception as exc:  # Chroma raises ValueError and its own errors here
        raise EmbedderUnavailable(f"{where}: cannot load its embedding function: {exc}") from exc
    if function is None:
        raise EmbedderUnavailable(f"{where} has no embedding function configured")
    _require_cached_default_model(function, where)
    return function


def embed_with_own_function(
    collection: CollectionHandle, texts: Sequence[str], function: Any = None
) -> np.ndarray:
    """Embed ``texts`` with the collection's own function (``own_embedding_function``)."""
    function = function or own_embedding_function(collection)
    try:
        vectors = function(list(texts))
    except Exception as exc:  # a user-configured function may fail in any way
        raise EmbedderUnavailable(
            f"{_where(collection)}: its embedding function {_function_name(function)!r} "
            f"failed: {exc}"
        ) from exc
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _where(collection: CollectionHandle) -> str:
    return f"collection {collection.name!r}"


def _function_name(function: Any) -> str:
    name = getattr(function, "name", None)
    return str(name()) if callable(name) else type(function).__name__


def _require_cached_default_model(function: Any, where: str) -> None:
    if _function_name(function) not in ("default", "onnx_mini_lm_l6_v2"):
        return
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    model = Path(ONNXMiniLM_L6_V2.DOWNLOAD_PATH) / ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
    if not (model / "model.onnx").is_file() or not (model / "tokenizer.json").is_file():
        raise EmbedderUnavailable(
            f"{where} uses Chroma's default embedding function, whose model is not in {model}; "
            "driftwatch does not download models (run the application once, or use an "
            "onnx embedder)"
        )


class ChromaEmbedder:
    """Embeds with ``collection``'s own embedding function (a Chroma collection only)."""

    def __init__(
        self, config: ChromaEmbedderConfig, collection: CollectionHandle, *, name: str | None = None
    ) -> None:
        label = f"embedder {name!r}" if name else "chroma embedder"
        self._cfg = config
        self._collection = collection
        self._function: Any = None  # built on first use
        self._where = f"{label} (embedding function of collection {collection.name!r})"

    @property
    def model(self) -> str:
        return self._cfg.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            if self._function is None:
                self._function = own_embedding_function(self._collection)
            raw = embed_with_own_function(self._collection, texts, self._function)
        except DriftwatchError:
            raise
        except Exception as exc:  # the application's own function may raise anything
            raise EmbedderError(f"{self._where} failed: {type(exc).__name__}: {exc}") from exc
        try:
            vectors = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise EmbedderResponseError(f"{self._where} returned non-numeric values") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] == 0:
            raise EmbedderResponseError(
                f"{self._where} returned shape {vectors.shape} for {len(texts)} texts"
            )
        if not np.isfinite(vectors).all():
            raise EmbedderResponseError(f"{self._where} returned NaN or infinite values")
        return l2_normalise(vectors)

    def close(self) -> None:
        """Nothing to release: the collection belongs to its store."""

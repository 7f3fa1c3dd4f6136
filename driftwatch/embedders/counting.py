"""Count what a check asks its embedder for: texts and tokens (what a paid provider bills).

The runner wraps the collection's embedder in a ``CountingEmbedder`` for each
check run and adds the counts to the result's detail (``embedded_texts``,
``embedded_tokens``); metrics.py turns them into
``driftwatch_embedded_texts_total`` / ``driftwatch_embedded_tokens_total``
{collection, check}. Tokens come from the provider's own report
(``reported_tokens``: the OpenAI-compatible ``usage``) or the local tokenizer
(``token_counts``: ONNX); an embedder with neither reports texts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftwatch.embedders.base import Embedder


class CountingEmbedder:
    """An ``Embedder`` that forwards to ``inner`` and counts texts and tokens."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.texts = 0
        self.tokens: int | None = None

    @property
    def model(self) -> str:
        return self._inner.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        before = getattr(self._inner, "reported_tokens", None)
        out = self._inner.embed(texts)
        self.texts += len(texts)
        after = getattr(self._inner, "reported_tokens", None)
        counted: int | None = None
        if isinstance(before, int) and isinstance(after, int) and after > before:
            counted = after - before
        elif callable(getattr(self._inner, "token_counts", None)):
            per_text = self._inner.token_counts(texts)  # type: ignore[attr-defined]
            counted = None if per_text is None else sum(per_text)
        if counted is not None:
            self.tokens = (self.tokens or 0) + counted
        return out

    def close(self) -> None:
        """The inner embedder is shared by the collection's checks: not closed here."""

    def __getattr__(self, attr: str) -> Any:
        """Anything else (``dimension``, Chroma's own embedding function) is the inner one's."""
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._inner, attr)

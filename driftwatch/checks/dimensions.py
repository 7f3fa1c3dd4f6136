"""One answer to "do the live embedder's vectors fit this collection?", settled cheaply.

Every check that embeds (dimension, fingerprint, consistency, canary) and the
baseline capture ask it *before* embedding their own texts: with a 768-d
embedder against a 384-d collection, consistency would otherwise re-embed its
whole sample (300 texts, 94 s through an HTTP embedder) only to find that no
record can match. The live dimension costs one short text, or nothing when
the embedder already knows it (the runner's embedder remembers the width of
everything it embedded in the cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftwatch.checks.base import CheckContext
    from driftwatch.embedders.base import Embedder

# Embedded to learn the live dimension when the embedder does not know it; any short text does.
PROBE_TEXT = "dimension probe"


@dataclass(frozen=True)
class Dimensions:
    """The live embedder's dimension against the stored one (None: nothing stored yet)."""

    live: int
    stored: int | None
    model: str
    collection: str
    source: str  # "collection" or "baseline": where ``stored`` was read

    @property
    def mismatch(self) -> bool:
        return self.stored is not None and self.live != self.stored

    def describe(self) -> str:
        """One clause naming both dimensions, for a result message."""
        where = (
            f"collection {self.collection!r} stores"
            if self.source == "collection"
            else f"the baseline of {self.collection!r} has"
        )
        return (
            f"live embedder {self.model!r} produces {self.live}-d vectors, {where} "
            f"{self.stored}-d vectors"
        )


def live_dimension(embedder: Embedder) -> int:
    """The width of the embedder's vectors: declared or remembered, else one short text."""
    known = getattr(embedder, "dimension", None)
    if isinstance(known, int) and not isinstance(known, bool) and known > 0:
        return known
    return int(embedder.embed([PROBE_TEXT]).shape[1])


def settle_dimensions(ctx: CheckContext, use_baseline: bool = True) -> Dimensions:
    """Live vs stored dimension for ``ctx``; the baseline's, when there is one, spares a
    store round trip (capture refuses a baseline whose dimension differs from the store's).
    """
    base = ctx.baseline if use_baseline else None
    if base is not None and base.dimension:
        stored: int | None = base.dimension
        source = "baseline"
    else:
        stored, source = ctx.store.dimension(), "collection"
    return Dimensions(
        live=live_dimension(ctx.embedder),
        stored=stored,
        model=ctx.embedder.model,
        collection=ctx.collection.name,
        source=source,
    )

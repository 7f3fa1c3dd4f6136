"""Dimension: does the live embedder produce vectors of the stored dimension?

A mismatch is the bluntest form of drift: every query fails (or, in stores
that pad or truncate, returns garbage). It runs first so that on-call reads
"live embedder produces 256-d vectors, collection stores 384-d" before the
other checks restate it in their own terms. An empty collection has no
stored dimension: "unavailable".
"""

from __future__ import annotations

from driftwatch.checks.base import CheckContext, CheckResult

# Embedded to learn the live dimension; any short text does.
PROBE_TEXT = "dimension probe"


def check_dimension(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    stored = ctx.store.dimension()
    if stored is None:
        return ctx.result(
            "unavailable",
            f"collection {coll.name!r} is empty: no stored vectors to compare dimensions with",
        )
    vectors = ctx.embedder.embed([PROBE_TEXT])
    live = int(vectors.shape[1])
    detail = {"embedder_dimension": live, "collection_dimension": stored}
    if live != stored:
        return ctx.result(
            "drift",
            f"live embedder {ctx.embedder.model!r} produces {live}-d vectors, "
            f"collection {coll.name!r} stores {stored}-d vectors",
            value=live,
            threshold=stored,
            **detail,
        )
    return ctx.result(
        "ok",
        f"live embedder and collection both use {live}-d vectors",
        value=live,
        threshold=stored,
        **detail,
    )

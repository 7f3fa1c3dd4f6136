"""Dimension: does the live embedder produce vectors of the stored dimension?

A mismatch is the bluntest form of drift: every query fails (or, in stores
that pad or truncate, returns garbage). It runs first so that on-call reads
"live embedder produces 256-d vectors, collection stores 384-d" before the
other checks restate it in their own terms. An empty collection has no
stored dimension: "unavailable".
"""

from __future__ import annotations

from driftwatch.checks.base import CheckContext, CheckResult
from driftwatch.checks.dimensions import settle_dimensions


def check_dimension(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    if ctx.store.dimension() is None:
        return ctx.result(
            "unavailable",
            f"collection {coll.name!r} is empty: no stored vectors to compare dimensions with",
        )
    # The store's own dimension, not the baseline's: this check is the ground truth.
    dims = settle_dimensions(ctx, use_baseline=False)
    live, stored = dims.live, dims.stored
    detail = {"embedder_dimension": live, "collection_dimension": stored}
    if dims.mismatch:
        return ctx.result("drift", dims.describe(), value=live, threshold=stored, **detail)
    return ctx.result(
        "ok",
        f"live embedder and collection both use {live}-d vectors",
        value=live,
        threshold=stored,
        **detail,
    )

"""Capture a baseline: what the live embedder and the store look like when all is well.

``capture_baseline`` embeds the fingerprint texts, embeds the canary queries,
runs them and keeps their top-k ids and similarities (which are also the
reference score window), stamped with the embedder's model name, the
dimension and the time. The state layer stores it; the checks compare against it.

A baseline is *complete* when every configured canary holds a full top-k.
One captured on an empty or small collection (fewer than ``top_k`` records)
is not: its canaries found nothing to compare with later. It keeps the canary
query vectors the baseline's model produced, so ``complete_baseline`` can run
them once the collection holds enough records. That fills the canaries in as
the *baseline's* model sees the collection, whatever the live model is by
then: a model swapped in the meantime is still caught, instead of being taken
as the known-good state.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from driftwatch.checks.base import Baseline, CanaryBaseline, CheckContext
from driftwatch.checks.dimensions import settle_dimensions
from driftwatch.checks.fingerprint import fingerprint_texts
from driftwatch.checks.population import reference_sample, write_position
from driftwatch.config import CollectionConfig
from driftwatch.embedders.base import l2_normalise
from driftwatch.errors import EmbedderError
from driftwatch.stats.similarity import cosine_rows
from driftwatch.stores.base import CollectionHandle, QueryHits


def capture_baseline(ctx: CheckContext) -> Baseline:
    """A new baseline for ``ctx.collection``, stamped ``ctx.started_at``.

    Refuses a baseline the checks could not compare with: raises EmbedderError
    when the live embedder's dimension differs from the stored vectors'
    (canaries cannot run, and comparing later runs with it would hide that).
    The dimension is settled before anything else is embedded.
    """
    collection, store, embedder = ctx.collection, ctx.store, ctx.embedder
    dims = settle_dimensions(ctx, use_baseline=False)
    if dims.mismatch:
        raise EmbedderError(
            f"cannot capture a baseline for collection {collection.name!r}: {dims.describe()}"
        )
    texts = fingerprint_texts(collection)
    vectors = l2_normalise(embedder.embed(texts))
    canaries: list[CanaryBaseline] = []
    if collection.canaries:
        queries = [c.query for c in collection.canaries]
        query_vectors = np.asarray(embedder.embed(queries), dtype=np.float32)
        if dims.stored is None:  # empty: nothing to find yet
            hits = [QueryHits(ids=[], similarities=[]) for _ in queries]
        else:
            hits = store.query(query_vectors, collection.top_k)
        canaries = [
            CanaryBaseline(
                query=q,
                ids=list(h.ids),
                scores=[float(s) for s in h.similarities],
                vector=[float(x) for x in v],
            )
            for q, v, h in zip(queries, query_vectors, hits, strict=True)
        ]
    # The population check's reference: stored vectors as they are now (no embedding),
    # and the write position before they were read (what is written after is "recent").
    position = write_position(store)
    reference, reference_tags = (
        (None, [])
        if dims.stored is None
        else reference_sample(
            store, collection.population.reference_size, ctx.rng, collection.model_key
        )
    )
    return Baseline(
        collection=collection.name,
        model=embedder.model,
        created_at=ctx.started_at,
        dimension=int(vectors.shape[1]),
        fingerprint_texts=texts,
        fingerprint_vectors=np.asarray(vectors, dtype=np.float32),
        canaries=canaries,
        scores=[s for c in canaries for s in c.scores],
        reference_vectors=reference,
        reference_tags=reference_tags or None,
        write_position=position,
    )


def missing_canaries(baseline: Baseline, collection: CollectionConfig) -> list[str]:
    """Configured canary queries the baseline holds no full top-k for (empty: complete)."""
    have = {c.query: c for c in baseline.canaries}
    return [
        c.query
        for c in collection.canaries
        if c.query not in have or len(have[c.query].ids) < collection.top_k
    ]


def incomplete_reason(baseline: Baseline, collection: CollectionConfig) -> str | None:
    """Why the baseline cannot judge canaries yet, as a clause for messages; None if complete."""
    missing = missing_canaries(baseline, collection)
    if not missing:
        return None
    n = len(collection.canaries)
    return (
        f"the baseline captured with {baseline.model!r} on "
        f"{baseline.created_at:%Y-%m-%d %H:%M} UTC is incomplete: {len(missing)} of {n} "
        f"canaries have no full top-{collection.top_k} in it (the collection held fewer "
        f"than {collection.top_k} records then); it is completed automatically once the "
        f"collection holds {collection.top_k}"
    )


def can_complete(baseline: Baseline, collection: CollectionConfig) -> bool:
    """True when every missing canary kept its query vector (baselines since this change)."""
    have = {c.query: c for c in baseline.canaries}
    return all(
        q in have and have[q].vector is not None for q in missing_canaries(baseline, collection)
    )


def complete_baseline(
    baseline: Baseline, collection: CollectionConfig, store: CollectionHandle
) -> Baseline:
    """The baseline with its missing canaries run now, from the query vectors the
    baseline's model produced at capture (see the module docstring).

    Call only when ``can_complete``; canaries that still find fewer than top_k
    records stay incomplete.
    """
    have = {c.query: c for c in baseline.canaries}
    missing = missing_canaries(baseline, collection)
    vectors = np.asarray([have[q].vector for q in missing], dtype=np.float32)
    hits = dict(zip(missing, store.query(vectors, collection.top_k), strict=True))
    canaries = []
    for c in collection.canaries:
        old = have[c.query]
        hit = hits.get(c.query)
        canaries.append(
            old
            if hit is None
            else replace(old, ids=list(hit.ids), scores=[float(s) for s in hit.similarities])
        )
    reference, tags = baseline.reference_vectors, baseline.reference_tags
    position = baseline.write_position
    if reference is None:  # the collection was empty at capture: its first content is the reference
        position = write_position(store)
        reference, found = reference_sample(
            store,
            collection.population.reference_size,
            np.random.default_rng(),
            collection.model_key,
        )
        tags = found or None
    return replace(
        baseline,
        canaries=canaries,
        scores=[s for c in canaries for s in c.scores],
        reference_vectors=reference,
        reference_tags=tags,
        write_position=position,
        id=None,
    )


def same_embedder(ctx: CheckContext, baseline: Baseline) -> tuple[bool, float]:
    """Does the live embedder reproduce the baseline's fingerprint vectors exactly?

    Returns (identical, lowest cosine). Used before re-capturing an old
    incomplete baseline that kept no canary query vectors: only an unchanged
    model may replace the known-good state.
    """
    from driftwatch.checks.dimensions import live_dimension

    if live_dimension(ctx.embedder) != baseline.fingerprint_vectors.shape[1]:
        return False, 0.0
    live = ctx.embedder.embed(list(baseline.fingerprint_texts))
    cosines = cosine_rows(baseline.fingerprint_vectors, live)
    lowest = float(cosines.min()) if cosines.size else 1.0
    return lowest >= ctx.collection.thresholds.fingerprint_identical, lowest

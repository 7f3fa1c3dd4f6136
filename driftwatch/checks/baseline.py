"""Capture a baseline: what the live embedder and the store look like when all is well.

``capture_baseline`` embeds the fingerprint texts, runs the canary queries and
keeps their top-k ids and similarities (which are also the reference score
window), stamped with the embedder's model name, the dimension and the time.
The state layer stores it; the checks compare against it.
"""

from __future__ import annotations

import numpy as np

from driftwatch.checks.base import Baseline, CanaryBaseline, CheckContext
from driftwatch.checks.fingerprint import fingerprint_texts
from driftwatch.embedders.base import l2_normalise
from driftwatch.errors import EmbedderError


def capture_baseline(ctx: CheckContext) -> Baseline:
    """A new baseline for ``ctx.collection``, stamped ``ctx.started_at``.

    Refuses a baseline the checks could not compare with: raises EmbedderError
    when the live embedder's dimension differs from the stored vectors'
    (canaries cannot run, and comparing later runs with it would hide that).
    """
    collection, store, embedder = ctx.collection, ctx.store, ctx.embedder
    texts = fingerprint_texts(collection)
    vectors = l2_normalise(embedder.embed(texts))
    dimension = int(vectors.shape[1])
    stored = store.dimension()
    if stored is not None and stored != dimension:
        raise EmbedderError(
            f"cannot capture a baseline for collection {collection.name!r}: live embedder "
            f"{embedder.model!r} produces {dimension}-d vectors, the collection stores {stored}-d"
        )
    canaries: list[CanaryBaseline] = []
    if collection.canaries and stored is not None:
        queries = [c.query for c in collection.canaries]
        hits = store.query(embedder.embed(queries), collection.top_k)
        canaries = [
            CanaryBaseline(query=q, ids=list(h.ids), scores=[float(s) for s in h.similarities])
            for q, h in zip(queries, hits, strict=True)
        ]
    return Baseline(
        collection=collection.name,
        model=embedder.model,
        created_at=ctx.started_at,
        dimension=dimension,
        fingerprint_texts=texts,
        fingerprint_vectors=np.asarray(vectors, dtype=np.float32),
        canaries=canaries,
        scores=[s for c in canaries for s in c.scores],
    )

"""Canaries: fixed queries whose results are compared with the baseline's.

Each configured canary query is embedded with the live embedder and run
against the collection (top ``top_k``). Evidence, averaged over canaries:

- ``overlap``: overlap@k of the returned ids with the baseline's;
- ``rbo``: rank-biased overlap (p=0.9, extrapolated) with the baseline's ids;
- ``recall`` / ``mrr``: recall@k and reciprocal rank of the ``expect`` ids
  (canaries that list some);
- ``top1_similarity`` / ``mean_similarity``: similarity of the first / all
  top-k hits, with the baseline's as ``baseline_*``; ``similarity_drop`` is
  the relative drop of the mean;
- ``scores``: every top-k similarity of this run (the score window is built
  from these).

Normal churn — records added and deleted — changes which ids come back, so
id agreement alone cannot tell churn from a model swap: on the 600-record
test corpus, 20 cycles of +10%/-5% churn bring overlap@10 down to 0.21, the
same as querying with the other model (0.21). What churn does not do is make
the hits less similar (churn: mean top-k similarity 0.445 -> 0.485), while a
query in another model's space finds nothing close (0.445 -> 0.191, a 57% drop).
So the verdicts are:

- drift: expected ids are lost (mean recall < ``canary_min_recall``), or the
  ids disagree (overlap < ``canary_min_overlap`` and rbo < ``canary_min_rbo``)
  *and* the mean similarity dropped by more than ``canary_max_similarity_drop``;
- warning: the similarity fell that much while the ids still agree;
- ok otherwise — also when the ids moved but stay as similar as before,
  which is churn; the message then suggests re-capturing the baseline after
  large content changes, since overlap against an old baseline keeps falling;
- unavailable: no canaries configured, or the collection is empty.

A live embedder of another dimension cannot query the collection at all;
that is reported as drift (with the dimensions) rather than an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean
from typing import Any

from driftwatch.checks.base import CanaryBaseline, CheckContext, CheckResult
from driftwatch.checks.baseline import incomplete_reason
from driftwatch.checks.dimensions import settle_dimensions
from driftwatch.config import CanaryConfig
from driftwatch.stats.ranking import (
    overlap_at_k,
    rank_biased_overlap,
    recall_at_k,
    reciprocal_rank,
)
from driftwatch.stores.base import QueryHits

RBO_P = 0.9


def _mean(values: Sequence[float]) -> float | None:
    # fmean, not np.mean: on lists of ten floats numpy's call overhead dominates, and
    # this runs once per canary per probe (benchmarks/probe_cycle.py canary overhead).
    return fmean(values) if values else None


def check_canary(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    th = coll.thresholds
    if not coll.canaries:
        return ctx.result("unavailable", f"no canaries configured for collection {coll.name!r}")
    dims = settle_dimensions(ctx)
    if dims.stored is None:
        return ctx.result(
            "unavailable", f"collection {coll.name!r} is empty: canaries find nothing"
        )
    if dims.mismatch:
        return ctx.result(
            "drift",
            f"canary queries cannot run: {dims.describe()}",
            value=0.0,
            threshold=th.canary_min_overlap,
            scores=[],
        )
    vectors = ctx.embedder.embed([c.query for c in coll.canaries])
    hits = ctx.store.query(vectors, coll.top_k)
    if not any(h.ids for h in hits):
        return ctx.result(
            "unavailable", f"collection {coll.name!r} is empty: canaries find nothing"
        )
    baseline = {c.query: c for c in ctx.baseline.canaries} if ctx.baseline else {}
    detail = _evidence(coll.top_k, coll.canaries, hits, baseline)
    overlap, rbo, recall = detail["overlap"], detail["rbo"], detail["recall"]
    drop = detail["similarity_drop"]

    ids_disagree = (
        overlap is not None and overlap < th.canary_min_overlap and rbo < th.canary_min_rbo
    )
    similarity_fell = drop is not None and drop > th.canary_max_similarity_drop
    recall_lost = recall is not None and recall < th.canary_min_recall
    value = overlap if overlap is not None else recall
    threshold = th.canary_min_overlap if overlap is not None else th.canary_min_recall
    facts = _facts(detail)
    if ctx.baseline is not None and (reason := incomplete_reason(ctx.baseline, coll)):
        facts += f" ({reason})"
    n = len(coll.canaries)
    if recall_lost or (ids_disagree and similarity_fell):
        why = (
            f"expected ids lost (recall {recall:.2f} < {th.canary_min_recall})"
            if recall_lost
            else "results no longer agree with the baseline and are much less similar"
        )
        return ctx.result("drift", f"{n} canaries: {why}; {facts}", value, threshold, **detail)
    if similarity_fell:
        why = "results are much less similar than at baseline"
        return ctx.result("warning", f"{n} canaries: {why}; {facts}", value, threshold, **detail)
    how = (
        "results moved away from the baseline but are as similar as before: churn "
        "(re-capture the baseline after large content changes to keep this check sharp)"
        if ids_disagree
        else "agree with the baseline"
    )
    return ctx.result("ok", f"{n} canaries {how}; {facts}", value, threshold, **detail)


def _evidence(
    k: int,
    canaries: list[CanaryConfig],
    hits: list[QueryHits],
    baseline: dict[str, CanaryBaseline],
) -> dict[str, Any]:
    """Averages over canaries of every agreement and similarity measure."""
    overlaps, rbos, recalls, rrs = [], [], [], []
    top1, means, base_top1, base_means = [], [], [], []
    scores: list[float] = []
    for canary, hit in zip(canaries, hits, strict=True):
        scores += hit.similarities
        if hit.similarities:
            top1.append(hit.similarities[0])
            means.append(fmean(hit.similarities))
        if canary.expect:
            recalls.append(recall_at_k(hit.ids, canary.expect, k))
            rrs.append(reciprocal_rank(hit.ids, canary.expect))
        base = baseline.get(canary.query)
        if base is None or not base.ids:  # an incomplete baseline found nothing for it
            continue
        overlaps.append(overlap_at_k(base.ids, hit.ids, k))
        rbos.append(rank_biased_overlap(base.ids, hit.ids, RBO_P))
        if base.scores:
            base_top1.append(base.scores[0])
            base_means.append(fmean(base.scores))
    mean_sim, base_mean_sim = _mean(means), _mean(base_means)
    drop = (
        1 - mean_sim / base_mean_sim
        if mean_sim is not None and base_mean_sim is not None and base_mean_sim > 0
        else None
    )
    return {
        "canaries": len(canaries),
        "compared": len(overlaps),
        "overlap": _mean(overlaps),
        "rbo": _mean(rbos),
        "recall": _mean(recalls),
        "mrr": _mean(rrs),
        "top1_similarity": _mean(top1),
        "mean_similarity": mean_sim,
        "baseline_top1_similarity": _mean(base_top1),
        "baseline_mean_similarity": base_mean_sim,
        "similarity_drop": drop,
        "scores": scores,
    }


def _facts(detail: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("overlap", "overlap@k"),
        ("rbo", "RBO"),
        ("recall", "recall@k"),
        ("mrr", "MRR"),
    ):
        if detail[key] is not None:
            parts.append(f"{label} {detail[key]:.2f}")
    if detail["mean_similarity"] is not None:
        base = detail["baseline_mean_similarity"]
        was = f" (baseline {base:.3f})" if base is not None else ""
        parts.append(f"mean similarity {detail['mean_similarity']:.3f}{was}")
    return ", ".join(parts)

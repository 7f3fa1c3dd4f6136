"""``migrate evaluate``: the candidate on your own queries, before the migration.

A uniform sample of blue (``migration.evaluate_sample`` records, default
1,000) plus every canary's expected records becomes two in-memory indexes:
blue's stored vectors (the current model's space, as the application has them)
and the same texts embedded by the candidate. Nothing is written anywhere.

Reported per model (``current``, ``candidate``): canary recall@k and MRR with
95% bootstrap intervals over canaries (canaries with ``expect`` ids); between
the models: mean overlap@k and rank-biased overlap of their top-k per canary.

Bridge estimate: 80% of the sample's pairs (candidate vector, current vector)
fit a map from the candidate's space into the current one (orthogonal
Procrustes and ridge, ``stats.bridge``); on the 20% held out, each text's
candidate vector, mapped, queries the unchanged current index, and
``neighbour_recall`` is the share of the current model's own top-k (for the
same text, its own record left out) it finds. ``unmapped`` is the same without
a map: what querying the old index with the new model gives today. Canary
recall through each map is reported too (queries mapped, index unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

import numpy as np

from driftwatch.config import CanaryConfig
from driftwatch.embedders.base import l2_normalise
from driftwatch.migrate.spec import Endpoints
from driftwatch.stats.bridge import (
    bootstrap_ci,
    neighbour_recall,
    procrustes_map,
    ridge_map,
    top_k,
)
from driftwatch.stats.ranking import (
    overlap_at_k,
    rank_biased_overlap,
    recall_at_k,
    reciprocal_rank,
)
from driftwatch.stores.base import StoredRecord

HELD_OUT = 0.2
RBO_P = 0.9


@dataclass(frozen=True)
class ModelRun:
    """One model's canary results on its in-memory index."""

    ids: list[list[str]]  # top-k ids per canary
    similarities: list[list[float]]
    recall: list[float]  # per canary with expect
    rr: list[float]


def evaluate(endpoints: Endpoints, seed: int = 0) -> dict[str, Any]:
    spec = endpoints.spec
    rng = np.random.default_rng(seed)
    records = _sample(endpoints, rng)
    ids = [r.id for r in records]
    texts = [r.document or "" for r in records]
    current_index = l2_normalise(np.stack([np.asarray(r.embedding) for r in records]))
    candidate = endpoints.candidate()
    candidate_index = l2_normalise(candidate.embed(texts))
    canaries = spec.blue.canaries
    k = spec.blue.top_k
    queries = [c.query for c in canaries]
    current_q = endpoints.current().embed(queries) if canaries else np.zeros((0, 1))
    candidate_q = candidate.embed(queries) if canaries else np.zeros((0, 1))
    runs = {
        "current": _run(current_q, current_index, ids, canaries, k),
        "candidate": _run(candidate_q, candidate_index, ids, canaries, k),
    }
    result: dict[str, Any] = {
        "collection": spec.blue.name,
        "current_model": spec.current.model,
        "candidate_model": candidate.model,
        "sample": len(records),
        "k": k,
        "canaries": len(canaries),
        "canaries_with_expect": sum(1 for c in canaries if c.expect),
    }
    for name, run in runs.items():
        result[name] = _summary(run, rng)
    result["agreement"] = _agreement(runs["current"], runs["candidate"], k)
    result["bridge"] = _bridge(
        candidate_index, current_index, candidate_q, ids=ids, canaries=canaries, k=k, rng=rng
    )
    result["per_canary"] = [
        {
            "query": c.query,
            "current_recall": _recall_of(c, runs["current"], i, k),
            "candidate_recall": _recall_of(c, runs["candidate"], i, k),
        }
        for i, c in enumerate(canaries)
    ]
    result["similarities"] = {
        name: [s for row in run.similarities for s in row] for name, run in runs.items()
    }
    return result


def _sample(endpoints: Endpoints, rng: np.random.Generator) -> list[StoredRecord]:
    spec = endpoints.spec
    sample = endpoints.blue().sample(spec.migration.evaluate_sample, rng)
    have = {r.id for r in sample}
    expected = sorted({e for c in spec.blue.canaries for e in c.expect} - have)
    if expected:
        sample += endpoints.blue_records().get_records(expected)
    usable = [r for r in sample if r.document and r.embedding is not None]
    if len(usable) < 10:
        from driftwatch.errors import StoreError

        raise StoreError(
            f"collection {spec.blue.name!r}: only {len(usable)} sampled record(s) have both "
            "text and a vector; evaluate needs at least 10"
        )
    return usable


def _run(
    queries: np.ndarray, index: np.ndarray, ids: list[str], canaries: list[CanaryConfig], k: int
) -> ModelRun:
    if not canaries:
        return ModelRun([], [], [], [])
    positions, sims = top_k(queries, index, k)
    hit_ids = [[ids[p] for p in row] for row in positions]
    recall = [
        recall_at_k(h, c.expect, k) for h, c in zip(hit_ids, canaries, strict=True) if c.expect
    ]
    rr = [reciprocal_rank(h, c.expect) for h, c in zip(hit_ids, canaries, strict=True) if c.expect]
    return ModelRun(hit_ids, sims.tolist(), recall, rr)


def _summary(run: ModelRun, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "recall_at_k": fmean(run.recall) if run.recall else None,
        "recall_ci": bootstrap_ci(run.recall, rng),
        "mrr": fmean(run.rr) if run.rr else None,
        "mrr_ci": bootstrap_ci(run.rr, rng),
        "mean_top1_similarity": fmean(row[0] for row in run.similarities)
        if run.similarities
        else None,
    }


def _agreement(current: ModelRun, candidate: ModelRun, k: int) -> dict[str, Any]:
    pairs = list(zip(current.ids, candidate.ids, strict=True))
    return {
        "overlap_at_k": fmean(overlap_at_k(a, b, k) for a, b in pairs) if pairs else None,
        "rbo": fmean(rank_biased_overlap(a, b, RBO_P) for a, b in pairs) if pairs else None,
    }


def _recall_of(canary: CanaryConfig, run: ModelRun, i: int, k: int) -> float | None:
    return recall_at_k(run.ids[i], canary.expect, k) if canary.expect else None


def _bridge(
    candidate: np.ndarray,
    current: np.ndarray,
    candidate_q: np.ndarray,
    *,
    ids: list[str],
    canaries: list[CanaryConfig],
    k: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    n = len(ids)
    order = rng.permutation(n)
    cut = max(1, round(n * HELD_OUT))
    test, train = order[:cut], order[cut:]
    maps = {
        "procrustes": procrustes_map(candidate[train], current[train]),
        "ridge": ridge_map(candidate[train], current[train]),
    }
    out: dict[str, Any] = {"train_pairs": len(train), "held_out": len(test)}
    native = current[test]
    same_dim = candidate.shape[1] == current.shape[1]
    if same_dim:
        out["unmapped"] = {
            "neighbour_recall": neighbour_recall(candidate[test], native, current, k, test.tolist())
        }
    for name, w in maps.items():
        row: dict[str, Any] = {
            "neighbour_recall": neighbour_recall(
                candidate[test] @ w, native, current, k, test.tolist()
            )
        }
        if any(c.expect for c in canaries):
            run = _run(candidate_q @ w, current, ids, canaries, k)
            row["canary_recall_at_k"] = fmean(run.recall) if run.recall else None
        out[name] = row
    return out

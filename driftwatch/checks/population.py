"""Population: are recently written records like the collection at baseline? (content drift)

The other checks ask whether the *model* changed. This one asks whether the
*content* did: new documents unlike the old ones, or a collection slowly
filling with another domain. It needs no embedding work: it compares stored
vectors with stored vectors.

- Reference: a uniform sample of the collection's stored vectors captured with
  the baseline (``population.reference_size``), refreshed by
  ``driftwatch baseline --force``.
- Recent: up to ``population.sample_size`` records drawn uniformly among those
  written (added, updated, upserted) since the baseline, where the store keeps
  a write log (``stores.base.WriteLog``: embedded Chroma) and at least
  ``min_samples`` were written. Otherwise (a Chroma server, pgvector, Qdrant,
  or too few new records) a uniform sample of the whole collection, which
  shows a change in proportion to its share of the collection.
  ``detail.recent_by`` says which, ``detail.written_since_baseline`` how many.

Two statistics (``stats.mmd``, ``stats.domain_classifier``), each tested at
alpha / 2 (Bonferroni), alpha = ``schedule.population`` /
``thresholds.expected_time_between_false_alarms`` (``stats.calibration``):
drift when either is significant. Value: the classifier's AUC; threshold:
the AUC at which its p-value reaches alpha / 2 (from the AUC's spread under no
change, measured once per reference: ``stats.domain_classifier``).

Which directions moved: the mean of the recent vectors minus the mean of the
reference, compared by cosine with the baseline's fingerprint texts and canary
queries (embedded by the baseline's model). The texts it points towards are
what the new records are more about; the ones it points away from, less.
Meaningful when the baseline's model is the one that wrote the records.

With several model tags among the recent records, each tag with at least
``population.min_samples`` records is tested against the reference alone
(``by_model``).

Caveat: when the application ingests in topic order (one folder, then the
next), what is written after the baseline differs from the collection by
design, and this check reports it. That is content drift by this check's
definition; set ``population.recent: uniform`` or restrict the check
(``collections[].checks``) if it is not what you watch for.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np

from driftwatch.checks.base import UNTAGGED, Baseline, CheckContext, CheckResult, metadata_tag
from driftwatch.stats.calibration import calibrate
from driftwatch.stats.domain_classifier import (
    ClassifierResult,
    auc_threshold,
    classifier_test,
    null_inflation,
)
from driftwatch.stats.mmd import MMDResult, mmd_test
from driftwatch.stores.base import CollectionHandle, StoredRecord, WriteLog

STATISTICS = 2  # MMD and classifier AUC: Bonferroni over both
DIRECTIONS = 3  # texts named on each side of the mean shift
INFLATIONS_KEPT = 64  # references whose classifier null is remembered

# The classifier's null spread depends only on the baseline's reference (and the
# recent sample's size), and measuring it costs ~30 cross-validations (~2 CPU s):
# measured once per reference and remembered, so a run costs one cross-validation.
_inflations: dict[tuple[str, int], float] = {}
_inflations_lock = threading.Lock()  # checks of several collections run in parallel


def classifier_inflation(reference: np.ndarray, n_recent: int, rng: np.random.Generator) -> float:
    """``null_inflation`` of this reference, measured on first use and remembered."""
    key = (hashlib.blake2b(np.ascontiguousarray(reference).tobytes()).hexdigest(), n_recent)
    with _inflations_lock:
        if key not in _inflations:
            if len(_inflations) >= INFLATIONS_KEPT:
                del _inflations[next(iter(_inflations))]
            _inflations[key] = null_inflation(reference, n_recent, rng)
        return _inflations[key]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero): similarity is cosine-like everywhere."""
    arr = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: np.ndarray = np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)
    return out


def reference_sample(
    store: CollectionHandle, n: int, rng: np.random.Generator, model_key: str
) -> tuple[np.ndarray | None, list[str]]:
    """The reference captured with a baseline: n stored vectors (float32, unit) and their tags."""
    records = [r for r in store.sample(n, rng) if r.embedding is not None]
    if not records:
        return None, []
    vectors = unit_rows(np.stack([np.asarray(r.embedding) for r in records]))
    tags = [metadata_tag(r.metadata, model_key) or UNTAGGED for r in records]
    return vectors.astype(np.float32), tags


def write_position(store: CollectionHandle) -> int | None:
    """The store's write position (``WriteLog``), recorded with a baseline; None if none."""
    return store.latest_write() if isinstance(store, WriteLog) else None


def recent_records(
    store: CollectionHandle,
    n: int,
    rng: np.random.Generator,
    *,
    since: int | None,
    min_samples: int,
) -> tuple[list[StoredRecord], str, int | None]:
    """The compared sample: (records, how they were drawn, records written since).

    Records written after write position ``since`` where the store keeps a write
    log and at least ``min_samples`` were written; otherwise a uniform sample."""
    written: int | None = None
    if since is not None and isinstance(store, WriteLog):
        records, written = store.sample_written_since(since, n, rng)
        if written >= min_samples:
            return records, "written_since_baseline", written
    return store.sample(n, rng), "uniform", written


def compare(
    reference: np.ndarray,
    recent: np.ndarray,
    rng: np.random.Generator,
    *,
    per_statistic_alpha: float,
    permutations: int,
    inflation: float,
) -> tuple[MMDResult, ClassifierResult, list[str]]:
    """Both statistics of recent vs reference vectors, and the names of those
    significant at ``per_statistic_alpha`` (drift when any is)."""
    mmd = mmd_test(reference, recent, rng, permutations=permutations)
    clf = classifier_test(reference, recent, rng, inflation=inflation)
    flagged = [
        name
        for name, p in (("MMD", mmd.pvalue), ("classifier", clf.pvalue))
        if p < per_statistic_alpha
    ]
    return mmd, clf, flagged


def check_population(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    cfg = coll.population
    baseline = ctx.baseline
    if baseline is None:
        return ctx.result(
            "unavailable",
            f"no baseline captured for collection {coll.name!r} yet (run driftwatch baseline)",
        )
    reference = baseline.reference_vectors
    if reference is None or reference.shape[0] < cfg.min_samples:
        have = 0 if reference is None else reference.shape[0]
        return ctx.result(
            "unavailable",
            f"the baseline of {coll.name!r} holds {have} of {cfg.min_samples} reference "
            "vectors needed (baselines before the population check held none, or the "
            "collection was nearly empty): run `driftwatch baseline --force`",
            reference_samples=have,
        )
    records, recent_by, written = recent_records(
        ctx.store,
        cfg.sample_size,
        ctx.rng,
        since=baseline.write_position if cfg.recent == "since_baseline" else None,
        min_samples=cfg.min_samples,
    )
    records = [r for r in records if r.embedding is not None]
    if len(records) < cfg.min_samples:
        return ctx.result(
            "unavailable",
            f"{len(records)} recent records with vectors of {cfg.min_samples} needed",
            recent_samples=len(records),
            reference_samples=reference.shape[0],
        )
    recent = unit_rows(np.stack([np.asarray(r.embedding) for r in records]))
    if recent.shape[1] != reference.shape[1]:
        return ctx.result(
            "unavailable",
            f"recent vectors are {recent.shape[1]}-d, the baseline's reference "
            f"{reference.shape[1]}-d: not comparable (the dimension check reports this)",
        )
    interval: timedelta = coll.schedule.population
    cal = calibrate(
        interval, coll.thresholds.expected_time_between_false_alarms, statistics=STATISTICS
    )
    # The inflation at the configured sample size, not this run's: it hardly depends
    # on it, and a key that changes with the number of new records would remeasure.
    inflation = classifier_inflation(reference, cfg.sample_size, ctx.rng)
    mmd, clf, flagged = compare(
        reference,
        recent,
        ctx.rng,
        per_statistic_alpha=cal.per_statistic_alpha,
        permutations=cfg.permutations,
        inflation=inflation,
    )
    threshold = auc_threshold(cal.per_statistic_alpha, clf.null_sd)
    tags = [metadata_tag(r.metadata, coll.model_key) or UNTAGGED for r in records]
    detail: dict[str, Any] = {
        "mmd2": mmd.mmd2,
        "mmd_pvalue": mmd.pvalue,
        "auc": clf.auc,
        "auc_pvalue": clf.pvalue,
        "alpha": cal.alpha,
        "per_statistic_alpha": cal.per_statistic_alpha,
        "recent_samples": recent.shape[0],
        "reference_samples": reference.shape[0],
        "recent_by": recent_by,
        "written_since_baseline": written,
        "directions": directions(baseline, recent.mean(axis=0) - reference.mean(axis=0)),
        "by_model": _by_model(ctx, reference, recent, tags),
    }
    which = "written since the baseline" if recent_by == "written_since_baseline" else "sampled"
    facts = (
        f"{recent.shape[0]} {which} vs {reference.shape[0]} baseline vectors: classifier AUC "
        f"{clf.auc:.3f} (p={clf.pvalue:.2g}), MMD² {mmd.mmd2:.4f} (p={mmd.pvalue:.2g}); "
        f"alarm at p < {cal.per_statistic_alpha:.2g} each (one false alarm per "
        f"{_days(cal.expected_time_between_false_alarms_s)} at most)"
    )
    if not flagged:
        return ctx.result(
            "ok", f"recent records are like the baseline's: {facts}", clf.auc, threshold, **detail
        )
    towards = [d["text"] for d in detail["directions"]["towards"]]
    about = f"; new records lean towards: {'; '.join(repr(t) for t in towards)}" if towards else ""
    return ctx.result(
        "drift",
        f"recent records differ from the baseline's ({' and '.join(flagged)}): {facts}{about}",
        clf.auc,
        threshold,
        **detail,
    )


def directions(baseline: Baseline, shift: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """Fingerprint texts and canary queries most aligned with the mean shift, both ways."""
    texts = list(baseline.fingerprint_texts)
    vectors = [np.asarray(baseline.fingerprint_vectors, dtype=np.float64)]
    with_vector = [c for c in baseline.canaries if c.vector is not None]
    texts += [c.query for c in with_vector]
    if with_vector:
        vectors.append(np.asarray([c.vector for c in with_vector], dtype=np.float64))
    candidates = unit_rows(np.vstack(vectors))
    norm = float(np.linalg.norm(shift))
    if norm == 0 or candidates.shape[1] != shift.shape[0]:
        return {"towards": [], "away": []}
    cosines = candidates @ (shift / norm)
    order = np.argsort(cosines)
    return {
        "towards": [
            {"text": texts[i], "cosine": float(cosines[i])} for i in order[::-1][:DIRECTIONS]
        ],
        "away": [{"text": texts[i], "cosine": float(cosines[i])} for i in order[:DIRECTIONS]],
    }


def _by_model(
    ctx: CheckContext, reference: np.ndarray, recent: np.ndarray, tags: list[str]
) -> list[dict[str, Any]]:
    """Per model tag of the recent records (only when there are several): MMD vs the reference."""
    counts = Counter(tags)
    if len(counts) < 2:
        return []
    rows = []
    labels = np.asarray(tags)
    for tag, n in counts.most_common():
        row: dict[str, Any] = {"model": tag, "recent": n, "mmd2": None, "pvalue": None}
        if n >= ctx.collection.population.min_samples:
            result = mmd_test(
                reference, recent[labels == tag], ctx.rng, ctx.collection.population.permutations
            )
            row.update(mmd2=result.mmd2, pvalue=result.pvalue)
        rows.append(row)
    return rows


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days / 365:.3g} years" if days >= 365 else f"{days:.3g} days"

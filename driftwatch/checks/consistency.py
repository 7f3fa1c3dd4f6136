"""Index consistency: does the live embedder reproduce the vectors in the store?

A uniform random sample of ``sample_size`` records (across the whole
collection) is re-embedded from its stored document text; a record "matches"
when the cosine of its stored vector (normalised here) and the new vector is
>= ``thresholds.consistency_match``. Records without text are skipped; if no
sampled record has text the check is "unavailable".

Headline: the matched share with a Wilson 95% interval, the estimated number
of stale records in the collection ((1 - share) * count), and the share per
model tag (``collection.model_key``), so a half-finished re-embedding shows
which model the stale records carry.

Verdicts (value = matched share):

- drift: the interval's upper bound < ``consistency_min_ratio`` (0.95) — the
  sample proves that more than 5% of the records are stale; at the default
  300 records a stale share of 20% is always flagged, 0% never is
  (``benchmarks/detection.py`` reports the smallest share flagged with 95% power);
- warning: the share < ``consistency_warn_ratio`` (0.99) without that proof;
- ok otherwise.

Calibration of ``consistency_match`` (0.75) on 1,000 CPython doc paragraphs:
the same model re-embedding its own records gives cosine 1.000000 for every
record; the int8 build of paraphrase-MiniLM-L3-v2 against fp32 stored vectors
gives min 0.892, mean 0.956; the other model (all-MiniLM-L6-v2 vs
paraphrase-MiniLM-L3-v2) gives max 0.381, mean 0.231. A requantised build of
the same model still lives in the same space, so its records count as
matching (the fingerprint check reports that change as a warning); 0.75 sits
in the wide gap between 0.38 and 0.89.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from driftwatch.checks.base import UNTAGGED, CheckContext, CheckResult, metadata_tag
from driftwatch.checks.dimensions import settle_dimensions
from driftwatch.stats.proportion import wilson_interval
from driftwatch.stats.similarity import cosine_rows


def check_consistency(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    th = coll.thresholds
    total = ctx.store.count()
    if total == 0:
        return ctx.result("unavailable", f"collection {coll.name!r} is empty: nothing to sample")
    records = ctx.store.sample(coll.sample_size, ctx.rng)
    usable = [r for r in records if r.document and r.embedding is not None]
    skipped = len(records) - len(usable)
    if not usable:
        return ctx.result(
            "unavailable",
            f"none of the {len(records)} sampled records of {coll.name!r} has stored document "
            "text, so their vectors cannot be re-embedded and compared",
            sampled=0,
            skipped=skipped,
        )
    dims = settle_dimensions(ctx, use_baseline=False)  # before re-embedding the sample
    if dims.mismatch:
        return ctx.result(
            "drift",
            f"{dims.describe()}: no stored record can match",
            value=0.0,
            threshold=th.consistency_min_ratio,
            sampled=len(usable),
            skipped=skipped,
            stale_estimate=total,
        )
    stored = np.stack([np.asarray(r.embedding, dtype=np.float32) for r in usable])
    live = ctx.embedder.embed([r.document or "" for r in usable])
    matched = cosine_rows(stored, live) >= th.consistency_match
    share = wilson_interval(int(matched.sum()), len(usable))
    stale = round((1 - share.ratio) * total)
    detail: dict[str, Any] = {
        "ratio_low": share.low,
        "ratio_high": share.high,
        "sampled": len(usable),
        "matched": share.successes,
        "skipped": skipped,
        "stale_estimate": stale,
        "total": total,
        "by_model": _by_model(
            [metadata_tag(r.metadata, coll.model_key) or UNTAGGED for r in usable], matched
        ),
    }
    summary = (
        f"{share.successes} of {len(usable)} sampled records ({share.ratio:.1%}, 95% CI "
        f"{share.low:.1%}-{share.high:.1%}) match the live embedder {ctx.embedder.model!r}"
    )
    worst = min(detail["by_model"], key=lambda row: row["ratio"])
    if share.high < th.consistency_min_ratio:
        return ctx.result(
            "drift",
            f"{summary}; ~{stale} of {total} records are stale "
            f"(worst tag: {worst['model']} {worst['ratio']:.0%})",
            value=share.ratio,
            threshold=th.consistency_min_ratio,
            **detail,
        )
    if share.ratio < th.consistency_warn_ratio:
        return ctx.result(
            "warning",
            f"{summary}; ~{stale} of {total} records may be stale",
            value=share.ratio,
            threshold=th.consistency_min_ratio,
            **detail,
        )
    return ctx.result(
        "ok", summary, value=share.ratio, threshold=th.consistency_min_ratio, **detail
    )


def _by_model(tags: list[str], matched: np.ndarray) -> list[dict[str, Any]]:
    """Rows {"model", "sampled", "matched", "ratio"} per model tag, largest first."""
    sampled = Counter(tags)
    hits = Counter(tag for tag, ok in zip(tags, matched.tolist(), strict=True) if ok)
    return [
        {"model": tag, "sampled": n, "matched": hits[tag], "ratio": hits[tag] / n}
        for tag, n in sorted(sampled.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

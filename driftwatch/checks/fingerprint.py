"""Fingerprint: embed fixed texts now and compare with the vectors captured at baseline.

The texts (``driftwatch/data/fingerprint_texts.json``: 40 varied built-in texts
— questions, code, numbers, legal/medical/finance jargon, six languages — plus
the collection's ``fingerprint_texts``) are embedded with the live embedder;
each text's vector is compared with its baseline vector by cosine.

Verdicts (value = mean cosine, thresholds in ``ThresholdsConfig``):

- ok, "identical": every text's cosine >= ``fingerprint_identical`` (0.9999);
- warning, "changed slightly": some text moved, but the mean stays >=
  ``fingerprint_replaced`` (0.80) — same model, other build/quantisation, or a
  provider's quiet update;
- drift, "replaced": mean cosine < ``fingerprint_replaced``, or the dimension
  differs from the baseline's — a different model.

The reported threshold is the one that decided: ``fingerprint_replaced`` for
drift, ``fingerprint_identical`` for ok and warning (those verdicts compare
every text with it), so a table row never shows 0.8 beside ">= 0.9999".

Calibration (40 built-in texts; ``benchmarks/detection.py`` re-measures it):

=================================================== ======== ========
pair                                                 min      mean
=================================================== ======== ========
same model, alone vs in a batch with 50 other texts  1.000000 1.000000
paraphrase-MiniLM-L3-v2 fp32 vs its int8 build       0.919    0.966
all-MiniLM-L6-v2 (int8) vs paraphrase-MiniLM-L3-v2   0.022    0.245
=================================================== ======== ========

Both ONNX models are deterministic, so "identical" only has to absorb float
noise (0.9999); "replaced" sits far below the int8 rebuild's mean (0.966)
and far above the other model's (0.245, max single text 0.40).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

import numpy as np

from driftwatch.checks.base import CheckContext, CheckResult
from driftwatch.checks.dimensions import live_dimension
from driftwatch.config import CollectionConfig
from driftwatch.stats.similarity import cosine_rows


@cache
def builtin_fingerprint_texts() -> tuple[str, ...]:
    """The fixed built-in texts shipped in driftwatch/data/fingerprint_texts.json."""
    raw = files("driftwatch").joinpath("data/fingerprint_texts.json").read_text("utf-8")
    return tuple(json.loads(raw))


def fingerprint_texts(collection: CollectionConfig) -> list[str]:
    """Built-in texts, then the collection's own, without duplicates, in that order."""
    return list(dict.fromkeys([*builtin_fingerprint_texts(), *collection.fingerprint_texts]))


def _shorten(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def check_fingerprint(ctx: CheckContext) -> CheckResult:
    coll, base = ctx.collection, ctx.baseline
    th = coll.thresholds
    if base is None:
        return ctx.result(
            "unavailable",
            f"no baseline captured for collection {coll.name!r} yet (run driftwatch baseline)",
        )
    texts: Sequence[str] = base.fingerprint_texts
    base_dim = int(base.fingerprint_vectors.shape[1])
    live_dim = live_dimension(ctx.embedder)  # before embedding the texts
    if live_dim != base_dim:
        return ctx.result(
            "drift",
            f"live embedder {ctx.embedder.model!r} produces {live_dim}-d vectors, the baseline "
            f"captured with {base.model!r} has {base_dim}-d: the model was replaced",
            value=0.0,
            threshold=th.fingerprint_replaced,
            dimension=live_dim,
            baseline_dimension=base_dim,
            texts=len(texts),
        )
    live = ctx.embedder.embed(list(texts))
    cosines = cosine_rows(base.fingerprint_vectors, live)
    worst = int(np.argmin(cosines))
    cos_min, cos_mean = float(cosines[worst]), float(cosines.mean())
    changed = int(np.sum(cosines < th.fingerprint_identical))
    detail = {
        "cosine_min": cos_min,
        "cosine_mean": cos_mean,
        "changed_texts": changed,
        "texts": len(texts),
        "dimension": live_dim,
        "baseline_model": base.model,
        "worst_text": _shorten(texts[worst]),
    }
    vs = f"vs the baseline captured with {base.model!r}"
    if cos_mean < th.fingerprint_replaced:
        return ctx.result(
            "drift",
            f"embedder replaced: fingerprint texts' mean cosine {cos_mean:.3f} {vs} is below "
            f"{th.fingerprint_replaced} (min {cos_min:.3f}); queries no longer match the records",
            value=cos_mean,
            threshold=th.fingerprint_replaced,
            **detail,
        )
    if changed:
        return ctx.result(
            "warning",
            f"embedder changed slightly: {changed} of {len(texts)} fingerprint texts moved "
            f"(min cosine {cos_min:.4f}, mean {cos_mean:.4f}) {vs}; same model, other build?",
            value=cos_mean,
            threshold=th.fingerprint_identical,
            **detail,
        )
    return ctx.result(
        "ok",
        f"embedder identical to baseline: all {len(texts)} fingerprint texts have cosine "
        f">= {th.fingerprint_identical} (min {cos_min:.6f})",
        value=cos_mean,
        threshold=th.fingerprint_identical,
        **detail,
    )

"""Version mix: which embedding model/version tags the stored records carry.

Scans the metadata of every record (paged, bounded memory) and counts records
per (model tag, version tag). Verdicts, worst first:

- drift: records tagged with a model other than ``expected_model`` (beyond
  ``thresholds.unexpected_model_share``), or, without ``expected_model``, more
  than one model present — queries embedded with one model cannot match
  records embedded by another;
- warning: other models within the tolerated share, or records without a
  model tag (their origin is unknown);
- unavailable: the collection is empty (nothing to judge; not an error).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from driftwatch.checks.base import UNTAGGED, CheckContext, CheckResult, metadata_tag

VERSION_MIX = "version_mix"


def tagged_models(detail: Mapping[str, Any] | None) -> list[str]:
    """The model tags a stored version-mix result counted records for (untagged left out).

    The feed watcher reads it to learn which models a collection's data was
    embedded with; the ``documents`` rows are this check's format, so they are
    parsed here and nowhere else.
    """
    models: list[str] = []
    for row in (detail or {}).get("documents") or []:
        model = row.get("model") if isinstance(row, Mapping) else None
        if isinstance(model, str) and model and model != UNTAGGED and model not in models:
            models.append(model)
    return models


def check_version_mix(ctx: CheckContext) -> CheckResult:
    coll = ctx.collection
    counts: Counter[tuple[str | None, str | None]] = Counter()
    # The store counts by itself where it can (SQL GROUP BY, Qdrant count by
    # filter), by the collection's model/version keys; else every record's
    # metadata is paged through.
    native = ctx.store.tag_counts()
    if native is not None:
        counts.update(native)
        if ctx.progress is not None:
            done = sum(native.values())
            ctx.progress(done, done)
    else:
        for page in ctx.store.iter_metadata(progress=ctx.progress):
            for metadata in page:
                counts[
                    (
                        metadata_tag(metadata, coll.model_key),
                        metadata_tag(metadata, coll.version_key),
                    )
                ] += 1

    total = sum(counts.values())
    dimension = ctx.store.dimension() if total else None
    if total == 0:
        return ctx.result(
            "unavailable",
            f"collection {coll.name!r} is empty: no records to take a version mix of",
            value=0,
            total=0,
            documents=[],
        )

    per_model: Counter[str] = Counter()
    for (model, _), n in counts.items():
        if model is not None:
            per_model[model] += n
    untagged = sum(n for (model, _), n in counts.items() if model is None)
    expected = coll.expected_model
    unexpected = sum(n for m, n in per_model.items() if expected is not None and m != expected)
    documents = [
        {"model": model or UNTAGGED, "version": version or UNTAGGED, "count": n}
        for (model, version), n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
    dominant_share = per_model.most_common(1)[0][1] / total if per_model else 0.0
    detail: dict[str, Any] = {
        "total": total,
        "untagged": untagged,
        "models": len(per_model),
        "unexpected": unexpected if expected is not None else None,
        "expected_model": expected,
        "dimension": dimension,
        "documents": documents,
    }
    mix = ", ".join(f"{m} {n / total:.0%}" for m, n in per_model.most_common())
    limit = coll.thresholds.unexpected_model_share

    if expected is not None and unexpected / total > limit:
        others = sorted(m for m in per_model if m != expected)
        return ctx.result(
            "drift",
            f"{unexpected} of {total} records ({unexpected / total:.1%}) are tagged with "
            f"{', '.join(others)} instead of the expected {expected}",
            value=unexpected / total,
            threshold=limit,
            **detail,
        )
    if expected is None and len(per_model) > 1:
        return ctx.result(
            "drift",
            f"records were embedded by {len(per_model)} different models ({mix}); "
            "queries can only match one of them",
            value=1 - dominant_share,
            threshold=0,
            **detail,
        )
    if unexpected:
        # expected_model is set and the other models stay within the tolerated share.
        return ctx.result(
            "warning",
            f"{unexpected} of {total} records ({unexpected / total:.1%}) are tagged with a "
            f"model other than {expected}, within the tolerated {limit:.1%}",
            value=unexpected / total,
            threshold=limit,
            **detail,
        )
    if untagged:
        return ctx.result(
            "warning",
            f"{untagged} of {total} records have no {coll.model_key!r} metadata, "
            "so the model that embedded them is unknown",
            value=untagged / total,
            threshold=0,
            **detail,
        )
    return ctx.result(
        "ok",
        f"all {total} records are tagged {mix}",
        value=0,
        threshold=limit if expected is not None else 0,
        **detail,
    )

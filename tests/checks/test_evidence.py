"""Every evidence key a check's spec declares is in its real results and on /metrics.

Each check runs on a real Chroma collection of real corpus vectors, with the
model that embedded them as the live embedder (so every check runs to the end
and fills in all of its evidence), and its result goes through the same
metrics code the daemon uses.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftwatch.checks.base import UNTAGGED, CheckResult, CheckSpec
from driftwatch.checks.baseline import capture_baseline
from driftwatch.checks.registry import CHECKS
from driftwatch.metrics import DriftwatchMetrics
from tests.checks.conftest import (
    ChromaFixture,
    collection_config,
    context,
    corpus_records,
)
from tests.support.corpus_vectors import CachedEmbedder
from tests.support.models import MINILM, PARAPHRASE

# Checks whose labelled evidence only has rows when the records carry several model tags.
NEEDS_TWO_MODELS = tuple(name for name in ("population",) if name in CHECKS)


@pytest.fixture(scope="module")
def results(shared_chroma: ChromaFixture) -> dict[str, CheckResult]:
    """One complete run of every registered check on the same collection."""
    minilm = CachedEmbedder(MINILM)
    records = corpus_records(range(300), MINILM)
    shared_chroma.create("evidence", records)
    handle = shared_chroma.handle("evidence")
    baseline = capture_baseline(context("baseline", collection_config("evidence"), handle, minilm))
    # Expected ids make recall and MRR part of the canary's evidence: each query's
    # best hit in the known-good state.
    canaries = [{"query": c.query, "expect": c.ids[:1]} for c in baseline.canaries]
    coll = collection_config("evidence", canaries=canaries)
    out = {}
    for name, spec in CHECKS.items():
        if name in NEEDS_TWO_MODELS:
            continue
        ctx = context(
            name,
            coll,
            handle,
            minilm,
            baseline=baseline if spec.needs_baseline else None,
            recent_scores=baseline.scores if spec.needs_scores else (),
        )
        out[name] = spec.function(ctx)
    # Evidence per model tag needs records of two models: a real half-migrated collection.
    mixed = collection_config("evidence-mixed")
    shared_chroma.create(
        "evidence-mixed",
        corpus_records(range(200), MINILM) + corpus_records(range(200, 300), PARAPHRASE),
    )
    mixed_handle = shared_chroma.handle("evidence-mixed")
    mixed_base = capture_baseline(context("baseline", mixed, mixed_handle, minilm))
    for name in NEEDS_TWO_MODELS:
        ctx = context(name, mixed, mixed_handle, minilm, baseline=mixed_base)
        out[name] = CHECKS[name].function(ctx)
    return out


@pytest.mark.parametrize("name", list(CHECKS))
def test_every_declared_evidence_key_is_exported(
    name: str, results: dict[str, CheckResult]
) -> None:
    spec: CheckSpec = CHECKS[name]
    result = results[name]
    assert result.status in ("ok", "warning", "drift"), result.message
    registry = CollectorRegistry()
    DriftwatchMetrics(registry).record_result(result)
    assert spec.evidence, f"{name} declares no evidence"
    for ev in spec.evidence:
        value: Any = result.detail.get(ev.key)
        assert value is not None, f"{name}: detail has no {ev.key!r}"
        if not ev.labels:
            labels = {"collection": result.collection}
            assert registry.get_sample_value(ev.metric, labels) == pytest.approx(float(value))
            continue
        numbered = [row for row in value if row.get(ev.value_key) is not None]
        assert numbered, f"{name}: {ev.key!r} has no rows with a {ev.value_key!r}"
        for row in numbered:
            labels = {"collection": result.collection}
            labels.update({label: str(row.get(label) or UNTAGGED) for label in ev.labels})
            exported = registry.get_sample_value(ev.metric, labels)
            assert exported == pytest.approx(float(row[ev.value_key])), (ev.metric, labels)


def test_the_run_was_a_healthy_one(results: dict[str, CheckResult]) -> None:
    """The same model that embedded the records is live: nothing drifted."""
    healthy = {n: r for n, r in results.items() if n not in NEEDS_TWO_MODELS}
    assert {r.status for r in healthy.values()} == {"ok"}, {
        n: r.message for n, r in healthy.items() if r.status != "ok"
    }

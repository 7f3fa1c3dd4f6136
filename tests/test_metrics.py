"""Metrics: results become the contract's series; golden exposition files pin the format.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 pytest tests/test_metrics.py`` and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from driftwatch.checks.base import CheckResult, Status
from driftwatch.metrics import (
    CheckResultCollector,
    DeprecationCollector,
    DriftwatchMetrics,
    ModelDeprecationStatus,
    all_metric_names,
)

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def result(check: str, status: Status, value: float | None, **detail: Any) -> CheckResult:
    return CheckResult(
        check=check,
        collection="docs",
        status=status,
        value=value,
        threshold=0.8,
        detail=detail,
        started_at=T0,
        duration_s=0.25,
        message=f"{check} is {status}",
    )


def assert_golden(name: str, text: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text)
    assert text.decode() == path.read_text(encoding="utf-8")


def test_check_results_exposition_matches_golden() -> None:
    registry = CollectorRegistry()
    collector = CheckResultCollector()
    registry.register(collector)
    collector.update(result("fingerprint", "drift", 0.21, cosine_min=0.12, cosine_mean=0.21))
    collector.update(
        result(
            "version_mix",
            "drift",
            0.2,
            untagged=0,
            models=2,
            unexpected=200,
            dimension=384,
            documents=[
                {"model": "all-MiniLM-L6-v2", "version": "1", "count": 800},
                {"model": "paraphrase-MiniLM-L3-v2", "version": "2", "count": 200},
            ],
        )
    )
    collector.update(
        result(
            "consistency",
            "drift",
            0.8,
            ratio_low=0.75,
            ratio_high=0.84,
            sampled=300,
            stale_estimate=200.0,
            by_model=[{"model": "all-MiniLM-L6-v2", "ratio": 1.0}, {"model": None, "ratio": 0.0}],
        )
    )
    assert_golden("check_results.prom", generate_latest(registry))


def test_deprecations_exposition_matches_golden() -> None:
    registry = CollectorRegistry()
    # 90 days before the shutdown below: the countdown is computed at scrape time.
    collector = DeprecationCollector(clock=lambda: 1793318400.0 - 90 * 86400)
    registry.register(collector)
    collector.update(
        [
            ModelDeprecationStatus(
                "text-embedding-ada-002", "openai", True, 1793318400.0, False, False
            ),
            ModelDeprecationStatus("all-MiniLM-L6-v2", "local", False, None, False, False),
        ]
    )
    assert_golden("deprecations.prom", generate_latest(registry))


def test_latest_result_replaces_the_previous_one() -> None:
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    metrics.record_result(
        result(
            "version_mix",
            "drift",
            0.5,
            documents=[
                {"model": "a", "version": "1", "count": 5},
                {"model": "b", "version": "1", "count": 5},
            ],
        )
    )
    metrics.record_result(
        result("version_mix", "ok", 0.0, documents=[{"model": "b", "version": "1", "count": 10}])
    )
    sample = registry.get_sample_value
    labels = {"collection": "docs", "check": "version_mix"}
    assert sample("driftwatch_check_status", labels) == 0
    assert (
        sample(
            "driftwatch_collection_documents", {"collection": "docs", "model": "b", "version": "1"}
        )
        == 10
    )
    # The model that left the index leaves /metrics too.
    assert (
        sample(
            "driftwatch_collection_documents", {"collection": "docs", "model": "a", "version": "1"}
        )
        is None
    )
    assert sample("driftwatch_check_runs_total", {**labels, "status": "drift"}) == 1
    assert sample("driftwatch_check_runs_total", {**labels, "status": "ok"}) == 1


@pytest.mark.parametrize(
    ("status", "code"), [("ok", 0), ("warning", 1), ("drift", 2), ("error", 3), ("unavailable", 4)]
)
def test_status_codes_are_the_contract(status: Status, code: int) -> None:
    registry = CollectorRegistry()
    DriftwatchMetrics(registry).record_result(result("canary", status, None))
    value = registry.get_sample_value(
        "driftwatch_check_status", {"collection": "docs", "check": "canary"}
    )
    assert value == code
    assert (
        registry.get_sample_value(
            "driftwatch_check_value", {"collection": "docs", "check": "canary"}
        )
        is None
    )


def test_baseline_info_keeps_one_model_per_collection() -> None:
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    metrics.record_baseline("docs", "model-a", 100.0)
    metrics.record_baseline("docs", "model-b", 200.0)
    assert (
        registry.get_sample_value(
            "driftwatch_baseline_info", {"collection": "docs", "model": "model-a"}
        )
        is None
    )
    assert (
        registry.get_sample_value(
            "driftwatch_baseline_info", {"collection": "docs", "model": "model-b"}
        )
        == 1
    )
    assert (
        registry.get_sample_value("driftwatch_baseline_timestamp_seconds", {"collection": "docs"})
        == 200.0
    )


def test_every_name_follows_the_naming_rules() -> None:
    names = all_metric_names()
    assert "driftwatch_check_status" in names and "driftwatch_check_runs_total" in names
    for name in names:
        assert name.startswith("driftwatch_"), name
        assert not name.endswith("_count") or name.endswith("_total"), name

"""The check registry (driftwatch/checks/registry.py): one CheckSpec per check."""

import re
from pathlib import Path

import yaml

from driftwatch.checks.registry import CHECKS, SCORE_SOURCE
from driftwatch.config import ScheduleConfig
from driftwatch.metrics import all_metric_names

RULES = Path(__file__).resolve().parents[2] / "alerts" / "driftwatch.rules.yml"


PROBE_CHECKS = ["dimension", "fingerprint", "consistency", "canary", "score_distribution"]


def test_checks_run_in_order_dimension_first() -> None:
    order = list(CHECKS)
    assert order[0] == "dimension"
    assert [name for name in order if name in PROBE_CHECKS] == PROBE_CHECKS
    assert "version_mix" in order
    assert all(name == spec.name for name, spec in CHECKS.items())


def test_every_check_has_a_schedule_interval() -> None:
    assert {CHECKS[name].schedule for name in PROBE_CHECKS} == {"probe"}
    assert CHECKS["version_mix"].schedule == "version_mix"
    assert all(spec.schedule in ScheduleConfig.model_fields for spec in CHECKS.values())


def test_the_score_window_is_fed_before_it_is_judged() -> None:
    assert SCORE_SOURCE is not None and SCORE_SOURCE.provides_scores == "scores"
    order = list(CHECKS)
    for spec in CHECKS.values():
        if spec.needs_scores:
            assert spec.needs_baseline
            assert order.index(SCORE_SOURCE.name) < order.index(spec.name)


def test_evidence_metrics_are_unique_and_follow_the_naming_rules() -> None:
    metrics = [ev.metric for spec in CHECKS.values() for ev in spec.evidence]
    assert len(metrics) == len(set(metrics))
    assert all(re.fullmatch(r"driftwatch_[a-z0-9_]+", m) for m in metrics)
    assert set(metrics) <= all_metric_names()


def test_every_alert_a_spec_names_is_a_rule() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    defined = {r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r}
    named = {alert for spec in CHECKS.values() for alert in spec.alerts}
    assert named and named <= defined


def test_alert_for_maps_drift_and_warning() -> None:
    mix = CHECKS["version_mix"]
    assert mix.alert_for("drift") == "DriftwatchMixedEmbeddingModels"
    assert mix.alert_for("warning") == "DriftwatchUntaggedRecords"
    canary = CHECKS["canary"]
    assert canary.alert_for("drift") == canary.alert_for("warning")
    assert canary.alert_for("ok") is None and canary.alert_for("error") is None

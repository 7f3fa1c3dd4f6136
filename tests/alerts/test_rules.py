"""The shipped alert rules: promtool's own checks and unit tests, plus a structural lint.

promtool comes from Debian's `prometheus` package (`make system-deps` installs it);
without it these tests fail with that instruction rather than skip.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwatch.checks.base import STATUSES
from driftwatch.checks.registry import CHECKS
from driftwatch.config import AlertsConfig
from driftwatch.metrics import all_metric_names
from driftwatch.notify.slack import DEPRECATION_ALERTS, SHUT_DOWN, alert_name
from tests.support.prometheus import PROMTOOL, RULES_FILE, require_binary

ALERTS_DIR = RULES_FILE.parent
RUNBOOK = ALERTS_DIR / "runbook.md"
UNIT_TESTS = sorted((ALERTS_DIR / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning", "info"}
CAMEL_CASE = re.compile(r"^Driftwatch(?:[A-Z][a-z0-9]+)+$")

# PromQL words that look like metric names but are not (by/on/without/ignoring always take a
# label list, which _GROUPING removes first).
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
PROMQL_KEYWORDS |= {"group_left", "group_right"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are no function, keyword or label."""
    for pattern in (_STRING, _MATCHERS, _GROUPING, _RANGE):
        expr = pattern.sub(" ", expr)
    return {
        name
        for name, call in _IDENT.findall(expr)
        if not call and name.lower() not in PROMQL_KEYWORDS
    }


@cache
def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules()]


def github_anchor(heading: str) -> str:
    """GitHub's heading anchor: lower-case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {github_anchor(h) for h in headings}


@cache
def unit_test_cases() -> list[dict[str, Any]]:
    cases = []
    for path in UNIT_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            cases += group.get("alert_rule_test", [])
    return cases


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary(PROMTOOL), *args],
        cwd=ALERTS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_check_rules_accepts_every_rule() -> None:
    proc = run_promtool("check", "rules", RULES_FILE.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules())} rules found" in proc.stdout


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS, f"no promtool unit tests in {ALERTS_DIR / 'tests'}"
    proc = run_promtool("test", "rules", *(str(p.relative_to(ALERTS_DIR)) for p in UNIT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(UNIT_TESTS), proc.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path: Path) -> None:
    """A broken expectation must fail, or a green run would prove nothing."""
    source = ALERTS_DIR / "tests" / "query_drift.yml"
    broken = yaml.safe_load(source.read_text())
    broken["rule_files"] = [str(RULES_FILE)]
    first_firing = next(
        case for case in broken["tests"][0]["alert_rule_test"] if case["exp_alerts"]
    )
    first_firing["exp_alerts"][0]["exp_labels"]["severity"] = "info"
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    proc = run_promtool("test", "rules", str(path))
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr


def test_alert_names_are_unique() -> None:
    names = alert_names()
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("rule", rules(), ids=alert_names())
def test_rule_structure(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert CAMEL_CASE.match(name), f"{name}: not CamelCase with the Driftwatch prefix"
    assert rule.get("for"), f"{name}: no for:"
    assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key), f"{name}: annotation {key} missing"
    assert "{{" in annotations["description"], f"{name}: description is not templated"
    expected_url = f"{AlertsConfig().runbook_base_url}#{name.lower()}"
    assert annotations["runbook_url"] == expected_url, f"{name}: runbook_url"
    assert name.lower() in runbook_anchors(), f"{name}: no '## {name}' section in {RUNBOOK}"


@pytest.mark.parametrize("rule", rules(), ids=alert_names())
def test_rule_uses_only_defined_metrics(rule: dict[str, Any]) -> None:
    known = all_metric_names() | {"up"}
    used = metric_names(rule["expr"])
    assert used, f"{rule['alert']}: no metric found in {rule['expr']!r}"
    # Descriptions look numbers up with query templates; those names must exist too.
    for text in rule["annotations"].values():
        used |= set(re.findall(r"\bdriftwatch_[a-z0-9_]+", text))
    assert used <= known, f"{rule['alert']}: undefined metrics {sorted(used - known)}"


@pytest.mark.parametrize("name", alert_names())
def test_every_alert_has_promtool_tests_that_fire_and_stay_silent(name: str) -> None:
    cases = [c for c in unit_test_cases() if c["alertname"] == name]
    assert any(c.get("exp_alerts") for c in cases), f"{name}: no promtool test where it fires"
    assert any(not c.get("exp_alerts") for c in cases), (
        f"{name}: no promtool test where it must not fire (healthy series, before for:)"
    )


def test_every_alert_the_slack_notifier_links_exists_with_a_runbook_section() -> None:
    linked = {alert_name(check, status) for check in CHECKS for status in STATUSES}
    linked |= {*DEPRECATION_ALERTS.values(), SHUT_DOWN}
    assert linked <= set(alert_names()), sorted(linked - set(alert_names()))
    assert {n.lower() for n in linked} <= runbook_anchors()


def test_metric_name_parser_ignores_functions_labels_and_keywords() -> None:
    expr = (
        'sum by (collection) (rate(driftwatch_check_runs_total{status="error"}[5m])) > 0 '
        "and on (job) up == 0 or absent(up{job=~'.*driftwatch.*'}) unless time() - x_total"
    )
    assert metric_names(expr) == {"driftwatch_check_runs_total", "up", "x_total"}

"""The Grafana dashboard: a structural lint, then every query against a real Prometheus.

The lint reads grafana/dashboards/*.json. The Prometheus test takes every PromQL
expression of the dashboards (panel targets and template-variable queries) and
of alerts/driftwatch.rules.yml, substitutes Grafana's variables, and runs each
against Debian's Prometheus after it scraped a real driftwatch daemon on a
seeded demo store: each must parse and return series.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwatch.checks.base import STATUS_CODES
from driftwatch.metrics import all_metric_names
from tests.grafana.live import running_driftwatch
from tests.grafana.scenario import Scenario
from tests.support.loopback import LoopbackServer
from tests.support.prometheus import RULES_FILE, PrometheusServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
RUNBOOK = "https://github.com/driftwatch/driftwatch/blob/main/alerts/runbook.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_TITLES = {
    "Status per collection", "Fingerprint similarity", "Index consistency",
    "Canary overlap/recall", "Score distribution", "Version mix", "Stale-record estimate",
    "Deprecations", "Check failures", "Notifier outbox", "Feed health",
}  # fmt: skip

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
# A vector selector: a metric name not called as a function, with optional matchers.
_SELECTOR = re.compile(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?")
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric, {label: operator+value}) for every vector selector in a PromQL expression."""
    expr = _RANGE.sub(" ", _GROUPING.sub(" ", expr))
    found = []
    for match in _SELECTOR.finditer(expr):
        name, matchers, call = match.groups()
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        labels = {m[0]: m[1] + m[2] for m in _MATCHER.findall(matchers or "")}
        found.append((name, labels))
    return found


def metric_names(expr: str) -> set[str]:
    return {name for name, _ in selectors(expr)}


@cache
def dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def panels(path: Path) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in dashboard(path)["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def graph_panels(path: Path) -> list[dict[str, Any]]:
    return [p for p in panels(path) if p["type"] != "row"]


def variable_queries(path: Path) -> Iterator[tuple[str, str]]:
    """(variable name, PromQL selector inside label_values(...)) of query variables."""
    for var in dashboard(path)["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        assert match, f"variable {var['name']}: unsupported query {query!r}"
        yield var["name"], match.group(1)


def expressions(path: Path) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and template-variable query."""
    for panel in graph_panels(path):
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} target {target['refId']}", target["expr"]
    for name, selector in variable_queries(path):
        yield f"variable {name!r}", selector


@cache
def label_names() -> dict[str, set[str]]:
    """Labels each metric carries, read from a rendered driftwatch exposition."""
    scenario = Scenario()
    scenario.cycle()
    names: dict[str, set[str]] = {"up": {"job", "instance"}}
    for family in scenario.registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def rule_expressions() -> list[tuple[str, str]]:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [
        (f"rule {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in data["groups"]
        for rule in group["rules"]
    ]


def test_there_is_a_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["driftwatch-overview.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
class TestStructure:
    def test_identity_and_schema(self, path: Path) -> None:
        data = dashboard(path)
        assert data["uid"] == path.stem
        assert data["title"] == "Driftwatch overview"
        assert 39 <= data["schemaVersion"] < 42  # Grafana 10.x/11.x

    def test_panel_ids_are_unique_and_titles_present(self, path: Path) -> None:
        ids = [p["id"] for p in panels(path)]
        assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
        titles = [p["title"] for p in graph_panels(path)]
        assert len(titles) == len(set(titles)), f"duplicate titles: {sorted(titles)}"
        assert set(titles) >= REQUIRED_TITLES, REQUIRED_TITLES - set(titles)

    def test_panels_do_not_overlap(self, path: Path) -> None:
        cells: dict[tuple[int, int], str] = {}
        for panel in panels(path):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]

    def test_template_variables(self, path: Path) -> None:
        variables = {v["name"]: v for v in dashboard(path)["templating"]["list"]}
        assert set(variables) == {"datasource", "job", "instance", "collection"}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for name in ("job", "instance", "collection"):
            assert variables[name]["datasource"] == DATASOURCE, name
            assert variables[name]["includeAll"], name
            assert variables[name]["multi"], name
            assert variables[name]["allValue"] == ".*", name

    def test_every_panel_and_target_uses_the_datasource_variable(self, path: Path) -> None:
        for panel in graph_panels(path):
            assert panel["datasource"] == DATASOURCE, panel["title"]
            assert panel["targets"], f"{panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])

    def test_descriptions_say_what_is_bad_and_link_the_runbook(self, path: Path) -> None:
        runbook = (ROOT / "alerts" / "runbook.md").read_text(encoding="utf-8")
        anchors = {h.strip().lower() for h in re.findall(r"^#+ (Driftwatch\w+)", runbook, re.M)}
        alerts = {name.split()[1].lower() for name, _ in rule_expressions()}
        for panel in graph_panels(path):
            description = panel.get("description", "")
            assert len(description) >= 80, f"{panel['title']}: description too short"
            links = re.findall(re.escape(RUNBOOK) + r"#([a-z]+)\)", description)
            assert links, f"{panel['title']}: no runbook link"
            for anchor in links:
                assert anchor in alerts, f"{panel['title']}: #{anchor} is no alert"
                assert anchor in anchors, f"{panel['title']}: #{anchor} not in runbook.md"

    def test_units_and_thresholds_are_set(self, path: Path) -> None:
        for panel in graph_panels(path):
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), f"{panel['title']}: no unit"
            steps = defaults["thresholds"]["steps"]
            assert steps[0]["value"] is None, f"{panel['title']}: thresholds need a base step"
            values = [s["value"] for s in steps[1:]]
            assert values == sorted(values), f"{panel['title']}: thresholds not ascending"

    def test_status_panels_map_every_status_code(self, path: Path) -> None:
        by_title = {p["title"]: p for p in graph_panels(path)}
        for title in ("Status per collection", "Check status"):
            mapping = by_title[title]["fieldConfig"]["defaults"]["mappings"][0]["options"]
            assert {int(k): v["text"] for k, v in mapping.items()} == {
                code: status for status, code in STATUS_CODES.items()
            }

    def test_every_metric_is_defined_by_metrics_py(self, path: Path) -> None:
        known = all_metric_names() | {"up"}
        for where, expr in expressions(path):
            unknown = metric_names(expr) - known
            assert not unknown, f"{where}: undefined metrics {sorted(unknown)}"

    def test_every_selector_filters_by_the_variables(self, path: Path) -> None:
        labels = label_names()
        for where, expr in [e for e in expressions(path) if e[0].startswith("panel")]:
            for metric, matchers in selectors(expr):
                assert matchers.get("job") == "=~$job", f"{where}: {metric} lacks job=~$job"
                assert matchers.get("instance") == "=~$instance", f"{where}: {metric}"
                if "collection" in labels[metric]:
                    assert matchers.get("collection") == "=~$collection", f"{where}: {metric}"

    def test_no_hard_coded_job_or_instance(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\d+\.\d+\.\d+\.\d+|localhost", text)
        for where, expr in expressions(path):
            for metric, matchers in selectors(expr):
                for label in ("job", "instance", "collection"):
                    value = matchers.get(label, "=~$")
                    assert "$" in value, f"{where}: {metric} has {label}{value}"


def substitute(expr: str, instance: str) -> str:
    """Grafana's variables as an 'All' selection on one driftwatch instance would expand."""
    values = {
        "job": "driftwatch",
        # Grafana regex-escapes a single value, then escapes backslashes for PromQL strings.
        "instance": re.escape(instance).replace("\\", "\\\\"),
        "collection": ".*",
        "__rate_interval": "1m",
        "__interval": "15s",
        "__range": "1h",
    }
    expr = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
    assert "$" not in expr
    return expr


def empty_expressions(prom: PrometheusServer, exprs: list[tuple[str, str]]) -> list[str]:
    """Expressions without series; a parse error raises, naming the expression."""
    return [f"{where}: {expr}" for where, expr in exprs if not prom.query(expr)]


@pytest.mark.slow
def test_every_expression_returns_series_from_a_real_prometheus(tmp_path: Path) -> None:
    """Prometheus scrapes three targets of job "driftwatch":

    - the real daemon (`driftwatch run`, tests/grafana/live.py). Every dashboard
      expression, filtered to this instance, must return series from it;
    - the scenario exposition (tests/grafana/scenario.py): states a live test
      cannot reach in seconds (results stale for hours, a 15-minute-old outbox, a
      rebuilt model, a 768-d index), so every alert expression has a series too;
    - a dead address, for DriftwatchDown's ``up == 0``.
    """
    scenario = Scenario()
    with LoopbackServer() as exporter, running_driftwatch(tmp_path / "live") as live:
        exporter.route("/metrics", scenario.serve)
        targets = [live, f"127.0.0.1:{exporter.port}", f"127.0.0.1:{free_port()}"]
        with PrometheusServer(
            tmp_path / "prometheus", targets=targets, rule_files=[RULES_FILE]
        ) as prom:
            panel_exprs = [
                (where, substitute(expr, live))
                for path in DASHBOARDS
                for where, expr in expressions(path)
            ]
            exprs = panel_exprs + rule_expressions()
            assert len(exprs) > 50
            # Checks, feeds and the notifier run every 2 s; rate() needs two samples.
            deadline = time.monotonic() + 60
            empty = empty_expressions(prom, exprs)
            while empty and time.monotonic() < deadline:
                time.sleep(1)
                empty = empty_expressions(prom, exprs)
            assert not empty, "expressions without series:\n" + "\n".join(empty)

            # The shipped rules evaluate on the same data without errors.
            rules = [r for g in prom.rule_groups() for r in g["rules"]]
            assert rules
            assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

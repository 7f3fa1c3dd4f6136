"""Regenerate prometheusrule.yaml from alerts/driftwatch.rules.yml.

The rules file is the one source of truth (promtool-tested); the PrometheusRule
wraps its groups unchanged for the Prometheus Operator. Run after editing the
rules; tests/deploy/test_kubernetes.py fails while the two differ.

    python deploy/kubernetes/make_prometheusrule.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parents[1] / "alerts" / "driftwatch.rules.yml"
OUTPUT = HERE / "prometheusrule.yaml"
HEADER = (
    "# Generated from alerts/driftwatch.rules.yml by make_prometheusrule.py; do not edit.\n"
    "# The Prometheus Operator loads it into every Prometheus whose ruleSelector matches\n"
    "# its labels (adjust `release` to your installation's selector).\n"
)


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings (PromQL) as literal blocks, lists indented."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(rules_text: str) -> str:
    groups = yaml.safe_load(rules_text)["groups"]
    resource: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "driftwatch",
            "labels": {"app.kubernetes.io/name": "driftwatch", "release": "prometheus"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.dump(resource, Dumper=_Dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    OUTPUT.write_text(render(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {OUTPUT}")

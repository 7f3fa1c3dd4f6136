"""Print the README's metrics table from driftwatch/metrics.py (the only source of names).

.venv/bin/python scripts/metrics_table.py
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from driftwatch.checks.registry import CHECKS
from driftwatch.metrics import DriftwatchMetrics, described_families


def rows() -> list[tuple[str, str, str, str]]:
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    found: dict[str, tuple[str, str, str, str]] = {}
    for family in described_families(registry):
        name = family.name
        if family.type == "counter":
            name += "_total"
        elif family.type == "info":
            name += "_info"
        labels = labels_of(name, metrics)
        if family.type == "info":  # an Info's labels are its keys, set at start
            sample = next(iter(metrics.build_info.collect())).samples[0]
            labels = ", ".join(sorted(sample.labels))
        found[name] = (name, family.type, labels, family.documentation)
    return sorted(found.values())


def labels_of(name: str, metrics: DriftwatchMetrics) -> str:
    """Label names: from the metric object, or from the check specs' evidence."""
    for attr in vars(metrics).values():
        if isinstance(attr, MetricWrapperBase) and name.startswith(attr._name):
            suffix = name.removeprefix(attr._name)
            if suffix in ("", "_total", "_info"):
                return ", ".join(attr._labelnames)
    for ev in (ev for spec in CHECKS.values() for ev in spec.evidence):
        if ev.metric == name:
            return ", ".join(("collection", *ev.labels))
    if name.startswith("driftwatch_check_"):
        return "collection, check"
    if name.startswith("driftwatch_model_"):
        return "model, provider"
    if name.startswith("driftwatch_migration_"):
        return "collection"
    return ""


def table() -> str:
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {labels} | {doc} |" for name, kind, labels, doc in rows()]
    return "\n".join(lines)


def main() -> None:
    print(table())


if __name__ == "__main__":
    main()

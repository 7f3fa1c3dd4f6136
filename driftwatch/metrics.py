"""Every Prometheus metric driftwatch exports is defined here and nowhere else.

Alert rules (alerts/) and dashboards (grafana/) use only these names; a test
fails on any name they use that this module does not define.

``DriftwatchMetrics(registry)`` registers everything on the registry it is
given (the daemon owns one; tests pass their own). Check results become
metrics in exactly one place, ``CheckResultCollector``, which keeps the latest
result per (collection, check) and renders them at scrape time, so a label set
that disappears (a model no longer in the index) disappears from /metrics too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwatch import __version__
from driftwatch.checks.base import STATUS_CODES, UNTAGGED, CheckResult, Evidence
from driftwatch.checks.registry import CHECKS


def _evidence() -> list[tuple[str, Evidence]]:
    """(check, evidence) of every check spec (checks.registry), in registry order."""
    return [(spec.name, ev) for spec in CHECKS.values() for ev in spec.evidence]


class CheckResultCollector(Collector):
    """Latest CheckResult per (collection, check), rendered at scrape time.

    Sample::

        driftwatch_check_status{check="fingerprint",collection="docs"} 2.0
        driftwatch_check_value{check="fingerprint",collection="docs"} 0.21
        driftwatch_check_threshold{check="fingerprint",collection="docs"} 0.8
        driftwatch_check_duration_seconds{check="fingerprint",collection="docs"} 0.35
        driftwatch_check_last_run_timestamp_seconds{check="fingerprint",collection="docs"} 1.76e+09
        driftwatch_fingerprint_cosine_min{collection="docs"} 0.12
        driftwatch_collection_documents{collection="docs",model="minilm-l6",version="1"} 800.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], CheckResult] = {}

    def update(self, result: CheckResult) -> None:
        with self._lock:
            self._latest[(result.collection, result.check)] = result

    def latest(self) -> list[CheckResult]:
        with self._lock:
            return list(self._latest.values())

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            results = sorted(self._latest.values(), key=lambda r: (r.collection, r.check))
        return self._families(results)

    def _families(self, results: list[CheckResult] | None = None) -> Iterator[Metric]:
        results = results or []
        per_check = ("collection", "check")
        status = GaugeMetricFamily(
            "driftwatch_check_status",
            "Latest check status: 0 ok, 1 warning, 2 drift, 3 error, 4 unavailable.",
            labels=per_check,
        )
        value = GaugeMetricFamily(
            "driftwatch_check_value", "Latest headline number of the check.", labels=per_check
        )
        threshold = GaugeMetricFamily(
            "driftwatch_check_threshold",
            "Threshold the headline number was compared with.",
            labels=per_check,
        )
        duration = GaugeMetricFamily(
            "driftwatch_check_duration_seconds",
            "Wall time of the latest check run.",
            labels=per_check,
        )
        last_run = GaugeMetricFamily(
            "driftwatch_check_last_run_timestamp_seconds",
            "Unix time the latest check run started.",
            labels=per_check,
        )
        specs = _evidence()
        # Plain gauges first, then the labelled ones, each in registry order.
        ordered = [e for e in specs if not e[1].labels] + [e for e in specs if e[1].labels]
        evidence = {
            ev.metric: GaugeMetricFamily(ev.metric, ev.help, labels=("collection", *ev.labels))
            for _, ev in ordered
        }
        by_check: dict[str, list[Evidence]] = {}
        for check, ev in ordered:
            by_check.setdefault(check, []).append(ev)
        for r in results:
            labels = [r.collection, r.check]
            status.add_metric(labels, STATUS_CODES[r.status])
            if r.value is not None:
                value.add_metric(labels, r.value)
            if r.threshold is not None:
                threshold.add_metric(labels, r.threshold)
            duration.add_metric(labels, r.duration_s)
            last_run.add_metric(labels, r.started_at.timestamp())
            for ev in by_check.get(r.check, ()):
                _add_evidence(evidence[ev.metric], ev, r)
        yield from (status, value, threshold, duration, last_run)
        yield from evidence.values()


def _add_evidence(family: GaugeMetricFamily, ev: Evidence, result: CheckResult) -> None:
    """The series one result's detail gives for one evidence gauge (none if absent)."""
    if not ev.labels:
        number = _number(result.detail.get(ev.key))
        if number is not None:
            family.add_metric([result.collection], number)
        return
    for row in result.detail.get(ev.key) or []:
        number = _number(row.get(ev.value_key))
        if number is not None:
            label_values = [str(row.get(name) or UNTAGGED) for name in ev.labels]
            family.add_metric([result.collection, *label_values], number)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True)
class ModelDeprecationStatus:
    """What the feeds say about one model in use."""

    model: str
    provider: str
    notice: bool
    shutdown_at: float | None  # unix seconds; earliest announced shutdown
    needs_review: bool
    conflict: bool


class DeprecationCollector(Collector):
    """Per model in use: is a deprecation announced, and when does it shut down.

    Sample::

        driftwatch_model_deprecation_notice{model="ada-002",provider="openai"} 1.0
        driftwatch_model_shutdown_timestamp_seconds{model="ada-002",provider="openai"} 1.79e+09
        driftwatch_model_deprecation_needs_review{model="ada-002",provider="openai"} 0.0
        driftwatch_model_deprecation_date_conflict{model="ada-002",provider="openai"} 0.0
        driftwatch_model_time_to_shutdown_seconds{model="ada-002",provider="openai"} 7.776e+06

    The countdown is computed at scrape time from ``clock`` (negative once the
    date has passed), so it is exact between feed checks; the 90/30/7-day
    alerts read it.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._models: list[ModelDeprecationStatus] = []
        self._clock = clock

    def update(self, models: Iterable[ModelDeprecationStatus]) -> None:
        with self._lock:
            self._models = sorted(models, key=lambda m: (m.model, m.provider))

    def describe(self) -> Iterable[Metric]:
        return list(self._families([], 0.0))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            models = list(self._models)
        return self._families(models, self._clock())

    @staticmethod
    def _families(models: list[ModelDeprecationStatus], now: float) -> Iterator[Metric]:
        labels = ("model", "provider")
        notice = GaugeMetricFamily(
            "driftwatch_model_deprecation_notice",
            "1 if a feed announced the deprecation or retirement of this model in use.",
            labels=labels,
        )
        shutdown = GaugeMetricFamily(
            "driftwatch_model_shutdown_timestamp_seconds",
            "Earliest announced shutdown time of this model in use (unix seconds).",
            labels=labels,
        )
        review = GaugeMetricFamily(
            "driftwatch_model_deprecation_needs_review",
            "1 if a notice matched only through a family alias and needs a human to confirm.",
            labels=labels,
        )
        conflict = GaugeMetricFamily(
            "driftwatch_model_deprecation_date_conflict",
            "1 if sources announce different shutdown dates for this model.",
            labels=labels,
        )
        remaining = GaugeMetricFamily(
            "driftwatch_model_time_to_shutdown_seconds",
            "Seconds until the earliest announced shutdown of this model in use "
            "(negative once past).",
            labels=labels,
        )
        for m in models:
            lv = [m.model, m.provider]
            notice.add_metric(lv, 1.0 if m.notice else 0.0)
            if m.shutdown_at is not None:
                shutdown.add_metric(lv, m.shutdown_at)
                remaining.add_metric(lv, m.shutdown_at - now)
            review.add_metric(lv, 1.0 if m.needs_review else 0.0)
            conflict.add_metric(lv, 1.0 if m.conflict else 0.0)
        yield from (notice, shutdown, review, conflict, remaining)


@dataclass(frozen=True)
class MigrationObservation:
    """One measurement of a collection's migration (driftwatch/migrate/monitor.py)."""

    collection: str  # blue, as configured
    total: int
    done: int
    missing: int
    stale: int
    green_consistency: float | None  # consistency check value on green (None: not measured)
    cutover_ready: bool
    cut_over: bool
    observed_at: float


class MigrationCollector(Collector):
    """Latest migration measurement per collection with a ``migration:`` block.

    Sample::

        driftwatch_migration_records{collection="docs"} 1000.0
        driftwatch_migration_done_records{collection="docs"} 640.0
        driftwatch_migration_missing_records{collection="docs"} 350.0
        driftwatch_migration_stale_records{collection="docs"} 10.0
        driftwatch_migration_progress_ratio{collection="docs"} 0.64
        driftwatch_migration_green_consistency_ratio{collection="docs"} 1.0
        driftwatch_migration_cutover_ready{collection="docs"} 0.0
        driftwatch_migration_cut_over{collection="docs"} 0.0
        driftwatch_migration_last_observed_timestamp_seconds{collection="docs"} 1.76e+09
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, MigrationObservation] = {}

    def update(self, observation: MigrationObservation) -> None:
        with self._lock:
            self._latest[observation.collection] = observation

    def describe(self) -> Iterable[Metric]:
        return list(self._families([]))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            latest = sorted(self._latest.values(), key=lambda o: o.collection)
        return self._families(latest)

    @staticmethod
    def _families(observations: list[MigrationObservation]) -> Iterator[Metric]:
        def gauge(name: str, help_: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, help_, labels=("collection",))

        records = gauge(
            "driftwatch_migration_records",
            "Records of blue the migration copies (those with text).",
        )
        done = gauge(
            "driftwatch_migration_done_records", "Records whose green copy matches blue's text."
        )
        missing = gauge("driftwatch_migration_missing_records", "Records of blue not in green yet.")
        stale = gauge(
            "driftwatch_migration_stale_records",
            "Records whose green copy is older than blue's current text.",
        )
        progress = gauge("driftwatch_migration_progress_ratio", "Done records / records.")
        consistency = gauge(
            "driftwatch_migration_green_consistency_ratio",
            "Share of sampled green records the candidate embedder reproduces.",
        )
        ready = gauge(
            "driftwatch_migration_cutover_ready", "1 if the cutover gate would allow it now."
        )
        cut_over = gauge(
            "driftwatch_migration_cut_over", "1 after a cutover: green is what is monitored."
        )
        observed = gauge(
            "driftwatch_migration_last_observed_timestamp_seconds",
            "When the daemon last measured the migration.",
        )
        for o in observations:
            lv = [o.collection]
            records.add_metric(lv, o.total)
            done.add_metric(lv, o.done)
            missing.add_metric(lv, o.missing)
            stale.add_metric(lv, o.stale)
            progress.add_metric(lv, o.done / o.total if o.total else 1.0)
            if o.green_consistency is not None:
                consistency.add_metric(lv, o.green_consistency)
            ready.add_metric(lv, 1.0 if o.cutover_ready else 0.0)
            cut_over.add_metric(lv, 1.0 if o.cut_over else 0.0)
            observed.add_metric(lv, o.observed_at)
        yield from (records, done, missing, stale, progress, consistency, ready, cut_over, observed)


class DriftwatchMetrics:
    """All of driftwatch's metrics, registered on the registry passed in."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.results = CheckResultCollector()
        self.deprecations = DeprecationCollector()
        registry.register(self.results)
        registry.register(self.deprecations)
        self.migrations = MigrationCollector()
        registry.register(self.migrations)

        self.build_info = Info("driftwatch_build", "driftwatch version.", registry=registry)
        self.build_info.info({"version": __version__})
        self.check_runs = Counter(
            "driftwatch_check_runs",
            "Check runs by outcome.",
            ("collection", "check", "status"),
            registry=registry,
        )
        self.embedded_texts = Counter(
            "driftwatch_embedded_texts",
            "Texts driftwatch's checks sent to the collection's embedder (monitoring's own cost).",
            ("collection", "check"),
            registry=registry,
        )
        self.embedded_tokens = Counter(
            "driftwatch_embedded_tokens",
            "Tokens of the texts driftwatch's checks embedded (provider-reported or tokenizer).",
            ("collection", "check"),
            registry=registry,
        )
        self.baseline_timestamp = Gauge(
            "driftwatch_baseline_timestamp_seconds",
            "When the active baseline of the collection was captured.",
            ("collection",),
            registry=registry,
        )
        self.baseline_info = Gauge(
            "driftwatch_baseline_info",
            "Active baseline of the collection: the model it was captured with.",
            ("collection", "model"),
            registry=registry,
        )
        self.state_db_up = Gauge(
            "driftwatch_state_db_up",
            "1 if the state database is open and writes succeed (0 from a failed write "
            "until writes have succeeded for a minute).",
            registry=registry,
        )
        self.store_up = Gauge(
            "driftwatch_store_up",
            "1 if the vector store answered the latest check run, 0 if it was unreachable.",
            ("store",),
            registry=registry,
        )
        self.collection_info = Gauge(
            "driftwatch_collection_info",
            "Always 1: the store each watched collection lives in (joins store_up to checks).",
            ("collection", "store"),
            registry=registry,
        )

        feed = ("feed",)
        self.feed_up = Gauge(
            "driftwatch_feed_up",
            "1 if the last fetch and parse of the feed worked.",
            feed,
            registry=registry,
        )
        self.feed_last_success = Gauge(
            "driftwatch_feed_last_success_timestamp_seconds",
            "Unix time of the feed's last successful fetch (304 included).",
            feed,
            registry=registry,
        )
        self.feed_fetches = Counter(
            "driftwatch_feed_fetches", "Feed fetch attempts.", feed, registry=registry
        )
        self.feed_errors = Counter(
            "driftwatch_feed_errors",
            "Feed fetch or parse errors, by reason.",
            ("feed", "reason"),
            registry=registry,
        )
        self.feed_entries = Gauge(
            "driftwatch_feed_entries",
            "Entries in the feed's last parsed body.",
            feed,
            registry=registry,
        )

        channel = ("channel",)
        self.notifications_sent = Counter(
            "driftwatch_notifications_sent",
            "Notifications the receiver accepted.",
            channel,
            registry=registry,
        )
        self.notifications_failed = Counter(
            "driftwatch_notifications_failed",
            "Failed delivery attempts (each retry counts).",
            channel,
            registry=registry,
        )
        self.notifications_pending = Gauge(
            "driftwatch_notifications_pending",
            "Notifications in the outbox waiting for delivery.",
            channel,
            registry=registry,
        )
        self.notifications_oldest_pending_age = Gauge(
            "driftwatch_notifications_oldest_pending_age_seconds",
            "Age of the oldest notification waiting for delivery.",
            channel,
            registry=registry,
        )
        self.notifications_undeliverable = Gauge(
            "driftwatch_notifications_undeliverable",
            "Notifications kept after exhausting their delivery attempts.",
            channel,
            registry=registry,
        )

    def record_result(self, result: CheckResult) -> None:
        self.results.update(result)
        self.check_runs.labels(result.collection, result.check, result.status).inc()
        # Embedding work the check asked for (runner: embedders/counting.py).
        texts, tokens = result.detail.get("embedded_texts"), result.detail.get("embedded_tokens")
        if isinstance(texts, int) and texts > 0:
            self.embedded_texts.labels(result.collection, result.check).inc(texts)
        if isinstance(tokens, int) and tokens > 0:
            self.embedded_tokens.labels(result.collection, result.check).inc(tokens)

    def record_baseline(self, collection: str, model: str, created_at: float) -> None:
        # One active baseline per collection: drop the previous model's info series.
        for labels in _label_sets(self.baseline_info):
            if labels.get("collection") == collection:
                self.baseline_info.remove(labels["collection"], labels["model"])
        self.baseline_info.labels(collection, model).set(1)
        self.baseline_timestamp.labels(collection).set(created_at)


def _label_sets(metric: Gauge) -> list[Mapping[str, str]]:
    return [dict(sample.labels) for family in metric.collect() for sample in family.samples]


def described_families(registry: CollectorRegistry) -> list[Metric]:
    """Every metric family registered on ``registry``, described without scraping."""
    families: list[Metric] = []
    for collector in list(registry._collector_to_names):  # no public way to list them
        describe = getattr(collector, "describe", None)
        families += describe() if describe else collector.collect()
    return families


def all_metric_names(registry: CollectorRegistry | None = None) -> set[str]:
    """Every sample name driftwatch can export (used by the rule/dashboard tests)."""
    registry = registry or CollectorRegistry()
    DriftwatchMetrics(registry)
    names: set[str] = set()
    for family in described_families(registry):
        names.add(family.name)
        if family.type == "counter":
            names.update({family.name + "_total", family.name + "_created"})
        if family.type == "info":
            names.add(family.name + "_info")
    return names

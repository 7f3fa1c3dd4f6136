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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftwatch import __version__
from driftwatch.checks.base import STATUS_CODES, UNTAGGED, CheckResult


@dataclass(frozen=True)
class Evidence:
    """A number from CheckResult.detail exported as its own gauge."""

    metric: str
    help: str


# check name -> detail key -> gauge (labels: collection). Keys absent or None
# in a result's detail are simply not exported for that run.
EVIDENCE: dict[str, dict[str, Evidence]] = {
    "version_mix": {
        "untagged": Evidence(
            "driftwatch_collection_untagged_documents",
            "Records without an embedding-model tag in their metadata.",
        ),
        "models": Evidence(
            "driftwatch_collection_models", "Distinct embedding models tagged in the collection."
        ),
        "unexpected": Evidence(
            "driftwatch_collection_unexpected_model_documents",
            "Records tagged with a model other than expected_model.",
        ),
        "dimension": Evidence(
            "driftwatch_collection_dimension", "Dimension of the stored vectors."
        ),
    },
    "dimension": {
        "embedder_dimension": Evidence(
            "driftwatch_embedder_dimension",
            "Dimension of the vectors the collection's live embedder produces.",
        ),
    },
    "fingerprint": {
        "cosine_min": Evidence(
            "driftwatch_fingerprint_cosine_min",
            "Lowest cosine between a fingerprint text's live and baseline vector.",
        ),
        "cosine_mean": Evidence(
            "driftwatch_fingerprint_cosine_mean",
            "Mean cosine between fingerprint texts' live and baseline vectors.",
        ),
    },
    "consistency": {
        "ratio_low": Evidence(
            "driftwatch_consistency_match_ratio_lower",
            "Wilson 95% lower bound of the share of stored vectors the live embedder reproduces.",
        ),
        "ratio_high": Evidence(
            "driftwatch_consistency_match_ratio_upper",
            "Wilson 95% upper bound of the share of stored vectors the live embedder reproduces.",
        ),
        "sampled": Evidence(
            "driftwatch_consistency_sampled_documents",
            "Records with stored text re-embedded in the last consistency sample.",
        ),
        "stale_estimate": Evidence(
            "driftwatch_consistency_stale_documents_estimate",
            "Estimated records in the collection whose stored vector the live embedder "
            "does not reproduce.",
        ),
    },
    "canary": {
        "overlap": Evidence(
            "driftwatch_canary_overlap_ratio",
            "Mean overlap@k of canary results with the baseline's.",
        ),
        "rbo": Evidence(
            "driftwatch_canary_rank_biased_overlap",
            "Mean rank-biased overlap of canary results with the baseline's.",
        ),
        "recall": Evidence(
            "driftwatch_canary_recall_ratio", "Mean recall@k of canaries with expected ids."
        ),
        "mrr": Evidence("driftwatch_canary_mrr", "Mean reciprocal rank of canaries' expected ids."),
        "top1_similarity": Evidence(
            "driftwatch_canary_top1_similarity", "Mean top-1 similarity of canary queries."
        ),
        "mean_similarity": Evidence(
            "driftwatch_canary_mean_similarity", "Mean top-k similarity of canary queries."
        ),
    },
    "score_distribution": {
        "ks_statistic": Evidence(
            "driftwatch_score_ks_statistic",
            "Two-sample Kolmogorov-Smirnov statistic, recent canary scores vs baseline.",
        ),
        "ks_pvalue": Evidence(
            "driftwatch_score_ks_pvalue", "p-value of the Kolmogorov-Smirnov test."
        ),
        "psi": Evidence(
            "driftwatch_score_psi",
            "Population stability index of recent canary scores vs baseline quantile bins.",
        ),
        "wasserstein": Evidence(
            "driftwatch_score_wasserstein_distance",
            "Wasserstein distance between recent and baseline canary score distributions.",
        ),
        "window_samples": Evidence(
            "driftwatch_score_window_samples", "Canary scores in the recent window."
        ),
    },
}

# Evidence with one extra label, from a list of dicts in CheckResult.detail:
# check -> (detail key, metric, help, extra label names, value key).
LABELLED_EVIDENCE: dict[str, tuple[str, str, str, tuple[str, ...], str]] = {
    "version_mix": (
        "documents",
        "driftwatch_collection_documents",
        'Records per embedding model and version tag (model="none": untagged).',
        ("model", "version"),
        "count",
    ),
    "consistency": (
        "by_model",
        "driftwatch_consistency_match_ratio_by_model",
        "Share of sampled records whose stored vector the live embedder reproduces, per model tag.",
        ("model",),
        "ratio",
    ),
}


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
        evidence = {
            ev.metric: GaugeMetricFamily(ev.metric, ev.help, labels=("collection",))
            for by_key in EVIDENCE.values()
            for ev in by_key.values()
        }
        labelled = {
            check: GaugeMetricFamily(metric, help_, labels=("collection", *extra))
            for check, (_, metric, help_, extra, _) in LABELLED_EVIDENCE.items()
        }
        for r in results:
            labels = [r.collection, r.check]
            status.add_metric(labels, STATUS_CODES[r.status])
            if r.value is not None:
                value.add_metric(labels, r.value)
            if r.threshold is not None:
                threshold.add_metric(labels, r.threshold)
            duration.add_metric(labels, r.duration_s)
            last_run.add_metric(labels, r.started_at.timestamp())
            for key, ev in EVIDENCE.get(r.check, {}).items():
                number = _number(r.detail.get(key))
                if number is not None:
                    evidence[ev.metric].add_metric([r.collection], number)
            if r.check in LABELLED_EVIDENCE:
                key, _, _, extra, value_key = LABELLED_EVIDENCE[r.check]
                for row in r.detail.get(key) or []:
                    number = _number(row.get(value_key))
                    if number is not None:
                        label_values = [str(row.get(name) or UNTAGGED) for name in extra]
                        labelled[r.check].add_metric([r.collection, *label_values], number)
        yield from (status, value, threshold, duration, last_run)
        yield from evidence.values()
        yield from labelled.values()


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
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: list[ModelDeprecationStatus] = []

    def update(self, models: Iterable[ModelDeprecationStatus]) -> None:
        with self._lock:
            self._models = sorted(models, key=lambda m: (m.model, m.provider))

    def describe(self) -> Iterable[Metric]:
        return list(self._families([]))

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            models = list(self._models)
        return self._families(models)

    @staticmethod
    def _families(models: list[ModelDeprecationStatus]) -> Iterator[Metric]:
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
        for m in models:
            lv = [m.model, m.provider]
            notice.add_metric(lv, 1.0 if m.notice else 0.0)
            if m.shutdown_at is not None:
                shutdown.add_metric(lv, m.shutdown_at)
            review.add_metric(lv, 1.0 if m.needs_review else 0.0)
            conflict.add_metric(lv, 1.0 if m.conflict else 0.0)
        yield from (notice, shutdown, review, conflict)


class DriftwatchMetrics:
    """All of driftwatch's metrics, registered on the registry passed in."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.results = CheckResultCollector()
        self.deprecations = DeprecationCollector()
        registry.register(self.results)
        registry.register(self.deprecations)

        self.build_info = Info("driftwatch_build", "driftwatch version.", registry=registry)
        self.build_info.info({"version": __version__})
        self.check_runs = Counter(
            "driftwatch_check_runs",
            "Check runs by outcome.",
            ("collection", "check", "status"),
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
            "1 if the last write to the state database succeeded.",
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

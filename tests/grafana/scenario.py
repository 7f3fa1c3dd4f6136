"""A driftwatch /metrics exposition in which every panel and alert has something to show.

Rendered by the real ``DriftwatchMetrics`` from ``CheckResult`` values shaped like
the checks' own (same detail keys), for four collections in the states on-call
meets: ``docs`` healthy, ``support`` with its query model replaced, ``catalog``
half-way through a re-embedding, ``legacy`` with a 768-d index whose checks
fail and whose version mix stopped running; its state DB write failed, a feed
is down and Slack rejects notifications. Each scrape is one more cycle, so
counters move and ``rate()``/``increase()`` have something to compute.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from driftwatch.checks.base import CheckResult, Status
from driftwatch.metrics import DriftwatchMetrics, MigrationObservation, ModelDeprecationStatus
from tests.support.loopback import Reply, Request

MINILM, PARAPHRASE = "all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"
DAY = 86400.0

Outcome = tuple[Status, float | None, float | None, dict[str, Any]]


def _r(status: Status, value: float | None, threshold: float | None, **detail: Any) -> Outcome:
    return status, value, threshold, detail


def _docs(*rows: tuple[str | None, str | None, int]) -> list[dict[str, Any]]:
    return [{"model": m, "version": v, "count": n} for m, v, n in rows]


def _by_model(*rows: tuple[str, int, int]) -> list[dict[str, Any]]:
    return [{"model": m, "sampled": n, "matched": k, "ratio": k / n} for m, n, k in rows]


_RESULTS: dict[tuple[str, str], Outcome] = {
    ("docs", "dimension"): _r("ok", 384, 384, embedder_dimension=384),
    ("docs", "fingerprint"): _r("ok", 1.0, 0.8, cosine_min=0.999999, cosine_mean=1.0),
    ("docs", "consistency"): _r(
        "ok", 0.997, 0.95, ratio_low=0.981, ratio_high=0.999, sampled=300, stale_estimate=6,
        by_model=_by_model((MINILM, 300, 299)), embedded_texts=300, embedded_tokens=14210,
    ),
    ("docs", "canary"): _r(
        "ok", 0.96, 0.5, overlap=0.96, rbo=0.95, recall=1.0, mrr=0.92, top1_similarity=0.71,
        mean_similarity=0.55,
    ),
    ("docs", "score_distribution"): _r(
        "ok", 0.03, 0.25, ks_statistic=0.08, ks_pvalue=0.61, psi=0.03, wasserstein=0.004,
        window_samples=96,
    ),
    ("docs", "population"): _r(
        "ok", 0.51, 0.66, mmd2=-0.0003, mmd_pvalue=0.62, auc=0.51, auc_pvalue=0.41,
        per_statistic_alpha=5.7e-5, by_model=[],
    ),
    ("docs", "version_mix"): _r(
        "ok", 0, 0, untagged=0, models=1, unexpected=0, dimension=384,
        documents=_docs((MINILM, "1", 1912)),
    ),
    ("support", "dimension"): _r("ok", 384, 384, embedder_dimension=384),
    ("support", "fingerprint"): _r("drift", 0.16, 0.8, cosine_min=0.16, cosine_mean=0.22),
    ("support", "consistency"): _r(
        "drift", 0.0, 0.95, ratio_low=0.0, ratio_high=0.0126, sampled=300, stale_estimate=4810,
        by_model=_by_model((MINILM, 300, 0)),
    ),
    ("support", "canary"): _r(
        "drift", 0.08, 0.5, overlap=0.08, rbo=0.05, recall=0.1, mrr=0.04, top1_similarity=0.31,
        mean_similarity=0.22,
    ),
    ("support", "score_distribution"): _r(
        "drift", 3.2, 0.25, ks_statistic=0.93, ks_pvalue=1e-20, psi=3.2, wasserstein=0.31,
        window_samples=120,
    ),
    ("support", "version_mix"): _r(
        "warning", 0.008, 0, untagged=40, models=1, unexpected=0, dimension=384,
        documents=_docs((MINILM, "2", 4810), (None, None, 40)),
    ),
    ("catalog", "dimension"): _r("ok", 384, 384, embedder_dimension=384),
    ("catalog", "fingerprint"): _r("warning", 0.93, 0.9999, cosine_min=0.93, cosine_mean=0.95),
    ("catalog", "consistency"): _r(
        "warning", 0.58, 0.95, ratio_low=0.52, ratio_high=0.64, sampled=300, stale_estimate=800,
        by_model=_by_model((MINILM, 174, 174), (PARAPHRASE, 126, 0)),
    ),
    ("catalog", "canary"): _r(
        "ok", 0.7, 0.5, overlap=0.7, rbo=0.66, recall=0.8, mrr=0.7, top1_similarity=0.62,
        mean_similarity=0.48,
    ),
    ("catalog", "score_distribution"): _r("unavailable", None, None, window_samples=12),
    ("catalog", "population"): _r(
        "drift", 0.83, 0.66, mmd2=0.021, mmd_pvalue=1.2e-9, auc=0.83, auc_pvalue=3.1e-12,
        per_statistic_alpha=5.7e-5,
        by_model=[
            {"model": MINILM, "recent": 120, "mmd2": 0.001, "pvalue": 0.2},
            {"model": PARAPHRASE, "recent": 80, "mmd2": 0.09, "pvalue": 1e-15},
        ],
    ),
    ("catalog", "version_mix"): _r(
        "drift", 0.42, 0, untagged=0, models=2, unexpected=800, dimension=384,
        documents=_docs((MINILM, "1", 1112), (PARAPHRASE, "1", 800)),
    ),
    ("legacy", "dimension"): _r("drift", 384, 768, embedder_dimension=384),
    ("legacy", "fingerprint"): _r("error", None, None),
    ("legacy", "consistency"): _r("error", None, None),
    ("legacy", "canary"): _r("error", None, None),
    ("legacy", "score_distribution"): _r("unavailable", None, None, window_samples=0),
    ("legacy", "version_mix"): _r(
        "ok", 0, 0, untagged=0, models=1, unexpected=0, dimension=768,
        documents=_docs(("all-mpnet-base-v2", "1", 300)),
    ),
}  # fmt: skip
# legacy's version mix last ran five hours ago (a hung scan): its results are stale.
_STALE = {("legacy", "version_mix"): timedelta(hours=5)}


def results(now: datetime) -> list[CheckResult]:
    out = []
    for (collection, check), (status, value, threshold, detail) in _RESULTS.items():
        out.append(
            CheckResult(
                check=check,
                collection=collection,
                status=status,
                value=value,
                threshold=threshold,
                detail=detail,
                started_at=now - _STALE.get((collection, check), timedelta()),
                duration_s=0.05 if check != "version_mix" else 2.4,
                message=f"{check} on {collection}: {status}",
            )
        )
    return out


class Scenario:
    """The registry behind the exposition; ``metrics`` answers a LoopbackServer route."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = DriftwatchMetrics(self.registry)
        self._lock = threading.Lock()
        now = time.time()
        m = self.metrics
        m.state_db_up.set(0)
        for collection in ("docs", "support", "catalog", "legacy"):
            model = "all-mpnet-base-v2" if collection == "legacy" else MINILM
            m.record_baseline(collection, model, now - 3 * DAY)
            store = "legacy-chroma" if collection == "legacy" else "chroma"
            m.collection_info.labels(collection, store).set(1)
        m.store_up.labels("chroma").set(1)
        m.store_up.labels("legacy-chroma").set(0)
        m.deprecations.update(
            [
                ModelDeprecationStatus(
                    "text-embedding-ada-002",
                    "openai",
                    True,
                    now + 20 * DAY,
                    needs_review=False,
                    conflict=False,
                ),
                ModelDeprecationStatus(
                    "embed-english-v2.0",
                    "cohere",
                    True,
                    now + 3 * DAY,
                    needs_review=True,
                    conflict=True,
                ),
                ModelDeprecationStatus(  # shut down last week, still in use
                    "text-embedding-3-large-preview",
                    "openai",
                    True,
                    now - 7 * DAY,
                    needs_review=False,
                    conflict=False,
                ),
                ModelDeprecationStatus(  # in the 90-day countdown
                    "textembedding-gecko@003",
                    "google",
                    True,
                    now + 60 * DAY,
                    needs_review=False,
                    conflict=False,
                ),
                ModelDeprecationStatus(
                    MINILM, "sentence-transformers", False, None, needs_review=False, conflict=False
                ),
            ]
        )
        m.feed_up.labels("openai-deprecations").set(1)
        m.feed_up.labels("cohere-changelog").set(0)
        m.feed_last_success.labels("openai-deprecations").set(now - 3600)
        m.feed_last_success.labels("cohere-changelog").set(now - 2 * DAY)
        m.feed_entries.labels("openai-deprecations").set(42)
        m.notifications_pending.labels("slack").set(3)
        m.notifications_oldest_pending_age.labels("slack").set(3600)
        m.notifications_undeliverable.labels("slack").set(2)
        self._behind = 0  # catalog's migration: the application's writes miss green

    def _migrations(self, now: float) -> None:
        """catalog: a migration falling behind (missing grows); legacy: one stalled."""
        self._behind += 7
        self.metrics.migrations.update(
            MigrationObservation("catalog", 1000, 990, 10 + self._behind, 0, 1.0, False, False, now)
        )
        self.metrics.migrations.update(
            MigrationObservation("legacy", 5000, 1200, 3800, 0, 0.99, False, False, now)
        )

    def cycle(self) -> None:
        """One more probe cycle: every check, feed and delivery attempt runs again."""
        m = self.metrics
        for result in results(datetime.now(UTC)):
            m.record_result(result)
        for feed in ("openai-deprecations", "cohere-changelog"):
            m.feed_fetches.labels(feed).inc()
        m.feed_errors.labels("cohere-changelog", "http_503").inc()
        m.notifications_sent.labels("slack").inc()
        m.notifications_failed.labels("slack").inc(2)
        self._migrations(time.time())

    def serve(self, request: Request) -> Reply:
        with self._lock:
            self.cycle()
            body = generate_latest(self.registry)
        return Reply(200, body, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

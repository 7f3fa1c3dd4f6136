"""Where check results go once a run is over: the state DB, /metrics, the notifier.

The runner is given its sinks when it is built and hands each one every run's
results; a sink that fails logs why and never stops the others (the metrics
sink runs first, so /metrics shows a result even when the state DB is full).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from driftwatch.errors import DriftwatchError
from driftwatch.state import results as result_repo

if TYPE_CHECKING:
    from driftwatch.checks.base import CheckResult
    from driftwatch.metrics import DriftwatchMetrics
    from driftwatch.notify.service import Notifier
    from driftwatch.state.db import StateDB

log = logging.getLogger(__name__)


class ResultSink(Protocol):
    def record(self, results: Sequence[CheckResult]) -> None:
        """Take one run's results; raises DriftwatchError if they could not be kept."""
        ...


class MetricsSink:
    """Latest result per (collection, check) on /metrics."""

    def __init__(self, metrics: DriftwatchMetrics) -> None:
        self._metrics = metrics

    def record(self, results: Sequence[CheckResult]) -> None:
        for result in results:
            self._metrics.record_result(result)


class StateSink:
    """History in the state DB. A failed write raises StateError; the StateDB's own
    health (state/health.py) has already marked it down for /readyz and the metric."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, results: Sequence[CheckResult]) -> None:
        for result in results:
            result_repo.save_result(self._db, result)


class NotifierSink:
    """Alerts for what fired or resolved, queued in the outbox."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def record(self, results: Sequence[CheckResult]) -> None:
        self._notifier.on_results(results)


def record_everywhere(sinks: Sequence[ResultSink], results: Sequence[CheckResult]) -> None:
    """Hand ``results`` to every sink; one failing sink is logged and the rest still run."""
    for sink in sinks:
        try:
            sink.record(results)
        except DriftwatchError as exc:
            log.error(
                "cannot record check results in %s: %s",
                type(sink).__name__,
                exc,
                extra={"event": "sink_failed", "sink": type(sink).__name__},
            )

"""The long-running daemon: scheduler wiring plus the HTTP endpoints.

Jobs (APScheduler 3, background threads, coalesced, one instance each, jittered):

- ``check:<collection>:<check>`` every ``schedule.probe`` (``schedule.version_mix``
  for the version mix); the first run happens right after start;
- ``feed:<feed>`` every ``feeds[].interval``;
- ``notify`` every few seconds: deliver what the outbox holds;
- ``retention`` hourly: prune history older than ``retention``;
- ``state`` while the state DB cannot be opened: retry, /readyz says 503.

Replicas sharing a PostgreSQL state DB take a lease per job run, so each
check runs once per interval across replicas; a replica that skips a run
exports the winner's result from the state DB, so every replica's /metrics
shows every collection.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from driftwatch.checks.registry import NEEDS_BASELINE, SCHEDULE_OF
from driftwatch.config import CollectionConfig, Config, FeedConfig
from driftwatch.errors import DriftwatchError, StateError
from driftwatch.feeds.service import FeedWatcher
from driftwatch.http import MetricsServer
from driftwatch.memory import release_free_memory
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.notify.service import Notifier
from driftwatch.redact import redact_url
from driftwatch.runner import Runner
from driftwatch.state import baselines as baseline_repo
from driftwatch.state import leases
from driftwatch.state import results as result_repo
from driftwatch.state.db import StateDB, open_state

log = logging.getLogger(__name__)

NOTIFY_EVERY = timedelta(seconds=5)
STATE_RETRY_EVERY = timedelta(seconds=30)
STOP_TIMEOUT_S = 8.0  # SIGTERM to exit stays under Kubernetes' and our 10 s promise


class Daemon:
    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.metrics = DriftwatchMetrics(self.registry)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.db: StateDB | None = None
        self.runner = Runner(config, metrics=self.metrics)
        self.notifier: Notifier | None = None
        self.feeds: FeedWatcher | None = None
        self._stopped = threading.Event()
        self._baseline_lock = threading.Lock()
        self._has_baseline: set[str] = set()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            # Checks run one at a time: embedding is the daemon's CPU and memory peak,
            # and a sidecar must not double it. Feeds and notifications run beside
            # them, so a long probe never delays an alert.
            executors={
                "checks": ThreadPoolExecutor(max_workers=1),
                "default": ThreadPoolExecutor(max_workers=2),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.http = MetricsServer(
            config.listen_host, config.listen_port, self.registry, self.readiness
        )

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._open_state()
        self._schedule()
        self.scheduler.start()
        self.http.start()
        log.info(
            "driftwatch started",
            extra={
                "event": "started",
                "listen": f"{self.config.listen_host}:{self.http.port}",
                "collections": len(self.config.collections),
                "feeds": len(self.config.feeds),
            },
        )

    def run_forever(self) -> int:
        """Start, then block until SIGTERM/SIGINT; returns the exit code."""

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("stopping", extra={"event": "stopping", "signal": signal.Signals(signum).name})
            self._stopped.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        self._stopped.wait()
        self.stop()
        return 0

    def stop(self) -> None:
        self._stopped.set()
        # Running checks are not waited for beyond STOP_TIMEOUT_S: a check is
        # repeatable, and a clean exit within the pod's grace period matters more.
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for thread in self.busy_workers():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.http.stop()
        self.runner.close()
        if self.feeds is not None:
            self.feeds.close()
        if self.notifier is not None:
            self.notifier.close()
        if self.db is not None:
            self.db.close()
        log.info("driftwatch stopped", extra={"event": "stopped"})

    @staticmethod
    def busy_workers() -> list[threading.Thread]:
        """Scheduler worker threads still running a job (they block interpreter exit)."""
        return [
            t
            for t in threading.enumerate()
            if t.name.startswith("ThreadPoolExecutor") and t.is_alive()
        ]

    def readiness(self) -> tuple[bool, str]:
        if self.db is None:
            return False, "state database not open"
        if not self.db.ping():
            return False, f"state database {self.db.url_redacted} unreachable"
        return True, "ready"

    # --- state ---------------------------------------------------------------

    def _open_state(self) -> bool:
        try:
            self.db = open_state(self.config.state_url)
        except StateError as exc:
            self.metrics.state_db_up.set(0)
            log.error("%s (retrying every %ss)", exc, STATE_RETRY_EVERY.seconds)
            return False
        self.metrics.state_db_up.set(1)
        self.runner.db = self.db
        self._wire_state_users(self.db)
        for coll in self.config.collections:
            self._export_stored_state(coll)
        return True

    def _wire_state_users(self, db: StateDB) -> None:
        """Notifier and feed watcher need the state DB; built once it is open."""
        notifier = Notifier(self.config.alerts, db, self.metrics)
        self.notifier = notifier
        self.runner.notifier = notifier
        self.feeds = FeedWatcher(self.config, db, self.metrics)

    def _export_stored_state(self, coll: CollectionConfig) -> None:
        """After a restart, /metrics shows the last known results until checks run again."""
        assert self.db is not None
        try:
            for result in result_repo.latest_results(self.db, coll.name):
                self.metrics.results.update(result)
            baseline = baseline_repo.active_baseline(self.db, coll.name)
        except StateError as exc:
            log.error("cannot read stored state of %s: %s", coll.name, exc)
            return
        if baseline is not None:
            self._has_baseline.add(coll.name)
            self.metrics.record_baseline(coll.name, baseline.model, baseline.created_at.timestamp())

    # --- jobs ----------------------------------------------------------------

    def _schedule(self) -> None:
        now = datetime.now(UTC)
        for coll in self.config.collections:
            jitter = coll.schedule.jitter.total_seconds()
            for check in self.runner.checks_for(coll):
                interval: timedelta = getattr(coll.schedule, SCHEDULE_OF[check])
                self._add_interval_job(
                    f"check:{coll.name}:{check}",
                    partial(self._run_check, coll, check, interval),
                    interval,
                    jitter=jitter,
                    first_run=now + timedelta(seconds=random.uniform(0, min(jitter, 2.0))),
                    executor="checks",
                )
        for feed in self.config.feeds:
            self._add_interval_job(
                f"feed:{feed.label}",
                partial(self._run_feed, feed),
                feed.interval,
                jitter=min(60.0, feed.interval.total_seconds() / 10),
                first_run=now + timedelta(seconds=random.uniform(1, 5)),
            )
        self._add_interval_job(
            "notify", self._deliver, NOTIFY_EVERY, jitter=0, first_run=now + NOTIFY_EVERY
        )
        self._add_interval_job(
            "retention",
            self._prune,
            timedelta(hours=1),
            jitter=60,
            first_run=now + timedelta(minutes=1),
        )
        if self.db is None:
            self._add_interval_job(
                "state",
                self._retry_state,
                STATE_RETRY_EVERY,
                jitter=0,
                first_run=now + STATE_RETRY_EVERY,
            )

    def _add_interval_job(
        self,
        job_id: str,
        func: Callable[[], None],
        interval: timedelta,
        *,
        jitter: float,
        first_run: datetime,
        executor: str = "default",
    ) -> None:
        self.scheduler.add_job(
            self._guard(job_id, func),
            "interval",
            seconds=interval.total_seconds(),
            jitter=jitter or None,
            id=job_id,
            name=job_id,
            next_run_time=first_run,
            executor=executor,
            # A run delayed by a busy executor still happens (once, coalesced).
            misfire_grace_time=max(1, int(interval.total_seconds())),
        )

    def _guard(self, job_id: str, func: Callable[[], None]) -> Callable[[], None]:
        """No job may take the daemon down or stop its own next run."""

        def run() -> None:
            if self._stopped.is_set():
                return
            try:
                func()
            except Exception:
                log.exception("job failed", extra={"event": "job_failed", "job": job_id})
            finally:
                release_free_memory()

        return run

    def _lease(self, job_id: str, interval: timedelta) -> bool:
        """True if this replica should run the job now."""
        if self.db is None:
            return False
        try:
            return leases.try_acquire(self.db, job_id, self.owner, interval * 0.9)
        except StateError as exc:
            log.error("cannot take job lease %s: %s", job_id, exc)
            return False

    def _run_check(self, coll: CollectionConfig, check: str, interval: timedelta) -> None:
        if self.db is None:
            return  # no baseline, no history, no lease without the state DB
        if not self._lease(f"check:{coll.name}:{check}", interval):
            self._export_stored_state(coll)
            return
        if check in NEEDS_BASELINE:
            self._ensure_baseline(coll)
        self.runner.run(coll, [check])

    def _ensure_baseline(self, coll: CollectionConfig) -> None:
        with self._baseline_lock:
            if coll.name in self._has_baseline:
                return
            try:
                self.runner.capture_baseline(coll, force=False)
                self._has_baseline.add(coll.name)
            except DriftwatchError as exc:
                log.error(
                    "cannot capture the first baseline of %s: %s",
                    coll.name,
                    exc,
                    extra={"event": "baseline_failed", "collection": coll.name},
                )

    def _run_feed(self, feed: FeedConfig) -> None:
        if self.feeds is None or not self._lease(f"feed:{feed.label}", feed.interval):
            return
        outcome = self.feeds.check_feed(feed)
        log.info(
            "feed checked",
            extra={
                "event": "feed_checked",
                "feed": feed.label,
                "url": redact_url(feed.url),
                "outcome": str(outcome),
            },
        )
        events = self.feeds.pending_events()
        if events and self.notifier is not None:
            self.notifier.on_deprecations(events)
            self.feeds.mark_notified(events)

    def _deliver(self) -> None:
        if self.notifier is not None:
            self.notifier.deliver_due()
            self.notifier.refresh_metrics()

    def _prune(self) -> None:
        if self.db is None:
            return
        deleted = result_repo.prune(self.db, datetime.now(UTC) - self.config.retention)
        if deleted:
            log.info("pruned history", extra={"event": "pruned", "rows": deleted})

    def _retry_state(self) -> None:
        if self.db is None and self._open_state():
            self.scheduler.remove_job("state")

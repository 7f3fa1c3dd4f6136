"""The long-running daemon: scheduler wiring plus the HTTP endpoints.

Jobs (APScheduler 3, background threads, coalesced, one instance each, jittered):

- ``check:<collection>:<check>`` every ``schedule.probe`` (``schedule.version_mix``
  for the version mix); the first run happens right after start, and a run that
  found its store down is repeated as soon as another run finds it answering;
- ``feed:<feed>`` every ``feeds[].interval``;
- ``migration:<collection>`` every ``migration.status_every`` for a collection with a
  ``migration`` block: blue vs green and the cutover gate, as gauges (migrate/monitor.py);
  after a cutover the check jobs watch green with the candidate (migrate/routing.py);
- ``notify`` every few seconds: deliver what the outbox holds;
- ``retention`` hourly: prune history older than ``retention``;
- ``state`` while the state DB cannot be opened: retry, /readyz says 503;
- ``state-probe`` every 15 s once it is open: one small write, so a full disk, a
  lost connection or a deleted SQLite file is seen even between check runs.

The state DB never blinds the daemon: a failed state write (lease, result,
baseline, outbox) sets ``driftwatch_state_db_up`` to 0 and /readyz to 503 with
the reason (state/health.py); a check whose lease cannot be written runs here
anyway and says so; while the state DB cannot be opened at all, the checks
that need no baseline still run and export their results.

Replicas sharing a PostgreSQL state DB take a lease per job run, so each
check runs once per interval across replicas; a replica that skips a run
exports the winner's result from the state DB, so every replica's /metrics
shows every collection.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from driftwatch.baselines import BaselineKeeper
from driftwatch.checks.base import CheckResult
from driftwatch.checks.registry import CHECKS
from driftwatch.config import CollectionConfig, Config, FeedConfig, config_warnings
from driftwatch.errors import StateError, store_unreachable
from driftwatch.feeds.service import FeedWatcher
from driftwatch.http import MetricsServer
from driftwatch.memory import limit_malloc_arenas, release_free_memory
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.notify.service import Notifier
from driftwatch.pools import Pools
from driftwatch.redact import redact_url
from driftwatch.runner import Runner
from driftwatch.sinks import MetricsSink, NotifierSink, StateSink
from driftwatch.state import baselines as baseline_repo
from driftwatch.state import leases
from driftwatch.state import results as result_repo
from driftwatch.state.db import StateDB, open_state
from driftwatch.state.owner import new_owner

log = logging.getLogger(__name__)

NOTIFY_EVERY = timedelta(seconds=5)
STATE_RETRY_EVERY = timedelta(seconds=30)
STATE_PROBE_EVERY = timedelta(seconds=15)
# Scheduler worker threads are named "<prefix>_<n>" by concurrent.futures.
CHECK_THREADS = "driftwatch-check"
JOB_THREADS = "driftwatch-job"
STOP_TIMEOUT_S = 8.0  # SIGTERM to exit stays under Kubernetes' and our 10 s promise


class Daemon:
    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        limit_malloc_arenas()  # before the scheduler's and the HTTP server's threads
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.metrics = DriftwatchMetrics(self.registry)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.owner = new_owner()
        self.db: StateDB | None = None
        self._state_error = "state database not opened yet"
        # Derived at scrape time from the state DB's health, never left at a stale 1.
        self.metrics.state_db_up.set_function(lambda: 1.0 if self.state_ok()[0] else 0.0)
        for coll in config.collections:
            self.metrics.collection_info.labels(coll.name, coll.store).set(1)
        self.pools = Pools(config)
        # Rebuilt with the state DB's sinks once it is open (_wire_state_users).
        self.runner = Runner(config, self.pools, sinks=[MetricsSink(self.metrics)])
        self.notifier: Notifier | None = None
        self.feeds: FeedWatcher | None = None
        self._stopped = threading.Event()
        # Check jobs whose last run found their store down, per store: run again as soon
        # as the store answers, not at their next interval (an hourly scan would
        # otherwise report the outage as its own error for up to an hour).
        self._store_outage_jobs: dict[str, set[str]] = {}
        self._outage_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            # Checks run one at a time: embedding is the daemon's CPU and memory peak,
            # and a sidecar must not double it. Feeds and notifications run beside
            # them, so a long probe never delays an alert.
            executors={
                "checks": ThreadPoolExecutor(1, {"thread_name_prefix": CHECK_THREADS}),
                "default": ThreadPoolExecutor(2, {"thread_name_prefix": JOB_THREADS}),
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
        for warning in config_warnings(self.config):
            log.warning("config: %s", warning)

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
        self.pools.close()
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
        prefixes = (f"{CHECK_THREADS}_", f"{JOB_THREADS}_")
        return [t for t in threading.enumerate() if t.name.startswith(prefixes) and t.is_alive()]

    def state_ok(self) -> tuple[bool, str]:
        """(up, reason) of the state DB: open, and no failed write it has not recovered from."""
        if self.db is None:
            return False, self._state_error
        return self.db.health.status()

    def readiness(self) -> tuple[bool, str]:
        up, reason = self.state_ok()
        if not up:
            return False, reason
        assert self.db is not None
        if not self.db.ping():
            return False, f"state database {self.db.url_redacted} unreachable"
        return True, "ready"

    # --- state ---------------------------------------------------------------

    def _open_state(self) -> bool:
        try:
            db = open_state(self.config.state_url)
        except StateError as exc:
            self._state_error = f"{exc} (retrying every {STATE_RETRY_EVERY.seconds}s)"
            log.error(
                "%s; checks that need no baseline still run",
                self._state_error,
                extra={"event": "state_failed"},
            )
            return False
        self._wire_state_users(db)
        self.db = db
        for coll in self.config.collections:
            self._export_stored_state(coll)
        return True

    def _wire_state_users(self, db: StateDB) -> None:
        """Notifier and feed watcher need the state DB; built once it is open."""
        notifier = Notifier(
            self.config.alerts,
            db,
            self.metrics,
            stores={coll.name: coll.store for coll in self.config.collections},
        )
        self.notifier = notifier
        self.runner = Runner(
            self.config,
            self.pools,
            state=db,
            baselines=BaselineKeeper(self.pools, db, self.metrics),
            sinks=[MetricsSink(self.metrics), StateSink(db), NotifierSink(notifier)],
        )
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
            self.metrics.record_baseline(coll.name, baseline.model, baseline.created_at.timestamp())

    # --- jobs ----------------------------------------------------------------

    def _schedule(self) -> None:
        now = datetime.now(UTC)
        for coll in self.config.collections:
            jitter = coll.schedule.jitter.total_seconds()
            for check in self.runner.checks_for(coll):
                interval: timedelta = getattr(coll.schedule, CHECKS[check].schedule)
                self._add_interval_job(
                    f"check:{coll.name}:{check}",
                    partial(self._run_check, coll, check, interval),
                    interval,
                    jitter=jitter,
                    first_run=now + timedelta(seconds=random.uniform(0, min(jitter, 2.0))),
                    executor="checks",
                )
        for coll in self.config.collections:
            if coll.migration is not None:
                every = coll.migration.status_every
                self._add_interval_job(
                    f"migration:{coll.name}",
                    partial(self._observe_migration, coll),
                    every,
                    jitter=min(30.0, every.total_seconds() / 10),
                    first_run=now + timedelta(seconds=random.uniform(2, 5)),
                    # Not the serial checks executor: a full blue/green diff must not
                    # hold up the probes.
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
        self._add_interval_job(
            "state-probe",
            self._probe_state,
            STATE_PROBE_EVERY,
            jitter=0,
            first_run=now + STATE_PROBE_EVERY,
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
        """True if this replica should run the job now.

        A lease that cannot be written does not skip the job: it runs here (at
        worst twice across replicas for one period) and the log says so, while
        the failed write already set state_db_up 0 and /readyz 503.
        """
        if self.db is None:
            return True
        try:
            return leases.try_acquire(self.db, job_id, self.owner, interval * 0.9)
        except StateError as exc:
            log.warning(
                "cannot take job lease %s, running it on this replica without one: %s",
                job_id,
                exc,
                extra={"event": "lease_failed", "job": job_id},
            )
            return True

    def _run_check(self, coll: CollectionConfig, check: str, interval: timedelta) -> None:
        if self.db is None and CHECKS[check].needs_baseline:
            return  # its baseline lives in the state DB; the other checks still run
        if not self._lease(f"check:{coll.name}:{check}", interval):
            self._export_stored_state(coll)
            return
        monitored = self._monitored(coll)
        job = f"check:{coll.name}:{check}"
        self._store_seen(monitored, self.runner.run(monitored, [check]), job)

    # --- migrations (driftwatch/migrate) -------------------------------------

    def _monitored(self, coll: CollectionConfig) -> CollectionConfig:
        """Green with the candidate after a migration cutover, else ``coll`` (migrate.routing)."""
        from driftwatch.migrate.routing import effective_collection

        if self.db is None or coll.migration is None:
            return coll
        try:
            return effective_collection(self.config, coll, self.db)
        except StateError as exc:
            log.error("cannot read the migration switch of %s: %s", coll.name, exc)
            return coll

    def _observe_migration(self, coll: CollectionConfig) -> None:
        """Migration gauges; a store or embedder failure is logged and retried next time."""
        from driftwatch.errors import DriftwatchError
        from driftwatch.migrate.monitor import observe
        from driftwatch.migrate.spec import migration_spec

        if self.db is None or coll.migration is None:
            return
        if not self._lease(f"migration:{coll.name}", coll.migration.status_every):
            return
        try:
            spec = migration_spec(self.config, coll.name)
            self.metrics.migrations.update(observe(spec, self.db, self.pools.embedders))
        except DriftwatchError as exc:
            log.warning(
                "cannot measure the migration of %s: %s",
                coll.name,
                exc,
                extra={"event": "migration_observe_failed", "collection": coll.name},
            )

    def _store_seen(self, coll: CollectionConfig, results: list[CheckResult], job: str) -> None:
        """driftwatch_store_up{store}: 0 when the store could not be reached for this run.
        Once it answers again, the check jobs that found it down run at once."""
        down = [
            r for r in results if r.status == "error" and store_unreachable(r.detail.get("error"))
        ]
        self.metrics.store_up.labels(coll.store).set(0 if down else 1)
        with self._outage_lock:
            if down:
                self._store_outage_jobs.setdefault(coll.store, set()).add(job)
                again: set[str] = set()
            else:
                again = self._store_outage_jobs.pop(coll.store, set()) - {job}
        if down:
            log.warning(
                "store %s unreachable: %s",
                coll.store,
                down[0].message,
                extra={"event": "store_down", "store": coll.store, "collection": coll.name},
            )
        for other in sorted(again):
            self._run_now(other)

    def _run_now(self, job_id: str) -> None:
        try:
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        except JobLookupError:  # the daemon is stopping
            return
        log.info(
            "store answers again; running %s now",
            job_id,
            extra={"event": "rerun_after_outage", "job": job_id},
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

    def _probe_state(self) -> None:
        """One small write: a full disk, lost connection or deleted file shows between checks."""
        if self.db is None:
            return
        was_up = self.db.health.up
        try:
            leases.heartbeat(self.db, self.owner, STATE_PROBE_EVERY * 4)
        except StateError as exc:
            if was_up:
                log.error("state database failing: %s", exc, extra={"event": "state_failed"})
            return
        if not was_up and self.db.health.up:
            log.info("state database writable again", extra={"event": "state_recovered"})

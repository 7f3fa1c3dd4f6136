"""The feed watcher: fetch, parse, match against models in use, record, export.

``FeedWatcher.check_feed(feed)`` runs one feed end to end; ``check_all()`` runs
every configured feed, each isolated (a failure is counted in
``driftwatch_feed_errors_total{feed,reason}``, logged naming the feed, and the
next feed goes on). The daemon schedules ``check_feed`` per feed on its own
``interval``; the notifier takes ``pending_events()`` and acknowledges them
with ``mark_notified(events)``, so nothing is notified twice, across restarts
too: what was seen and notified lives in the state DB.

This module only orchestrates. The parts live in their own homes:
``feeds.fetch`` / ``feeds.parse`` / ``feeds.catalog`` read a feed,
``feeds.extract`` decides which models in use an entry retires,
``feeds.models_in_use`` says which models those are, ``state.feeds`` versions
the notices, and ``feeds.notices`` turns rows into views, events and metrics.
Without ``metrics`` (a one-shot CLI command) nothing is exported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Literal

import httpx
from sqlalchemy.orm import Session

from driftwatch.config import Config, FeedConfig
from driftwatch.errors import StateError
from driftwatch.feeds.entry import Entry
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.feeds.extract import NoticeMatch, entry_matches
from driftwatch.feeds.fetch import FeedFetchFailed, fetch_feed
from driftwatch.feeds.match import ModelInUse
from driftwatch.feeds.models_in_use import models_in_use
from driftwatch.feeds.notices import (
    conflicts,
    deprecation_event,
    deprecation_statuses,
    notice_view,
)
from driftwatch.feeds.parse import FeedParseFailed, parse_feed
from driftwatch.feeds.report import FeedOutcome, FeedReport, NoticeView
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.redact import redact_url
from driftwatch.state import feeds as repo
from driftwatch.state.db import StateDB

log = logging.getLogger(__name__)


class FeedWatcher:
    """Watches the configured feeds for notices about the models in use.

    ``client`` and ``clock`` are injectable for tests; a client created here is
    closed by ``close()`` (or leaving a ``with`` block).
    """

    def __init__(
        self,
        config: Config,
        db: StateDB,
        metrics: DriftwatchMetrics | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self._db = db
        self._metrics = metrics
        self._own_client = client is None
        self._client = client or httpx.Client()
        self._clock = clock or (lambda: datetime.now(UTC))

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> FeedWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def models_in_use(self) -> list[ModelInUse]:
        """The config's models, embedders' models and the models the stores hold."""
        return models_in_use(self._config, self._db)

    # --- checking ------------------------------------------------------------

    def check_all(self) -> FeedReport:
        """Check every configured feed (each isolated), then report."""
        outcomes = [self.check_feed(feed) for feed in self._config.feeds]
        try:
            notices = tuple(self.notices())
        except StateError as exc:
            # Each feed's outcome already says so; the report still shows them.
            log.warning("cannot read deprecation notices: %s", exc)
            notices = ()
        return FeedReport(self._clock(), tuple(outcomes), notices)

    def check_feed(self, feed: FeedConfig) -> FeedOutcome:
        """Fetch, parse and match one feed; never raises for a bad feed."""
        label = feed.label
        started = time.perf_counter()
        if self._metrics is not None:
            self._metrics.feed_fetches.labels(label).inc()
        try:
            outcome = self._check(feed, started)
        except (FeedFetchFailed, FeedParseFailed) as exc:
            outcome = self._failed(feed, exc.reason, str(exc), started)
        except StateError as exc:
            outcome = self._failed(feed, "state", str(exc), started, record=False)
        except Exception as exc:  # a bug must not stop the other feeds
            log.exception("feed %s: unexpected failure", label)
            outcome = self._failed(feed, "internal", f"feed {label}: {type(exc).__name__}", started)
        try:
            self.refresh_metrics()
        except StateError as exc:
            log.warning("feed %s: cannot refresh deprecation metrics: %s", label, exc)
        return outcome

    def _check(self, feed: FeedConfig, started: float) -> FeedOutcome:
        label = feed.label
        with self._db.session() as session:
            state = repo.get_feed_state(session, feed.url)
            etag = state.etag if state else None
            last_modified = state.last_modified if state else None
            known_entries = state.entries if state else None
        fetched = fetch_feed(self._client, feed, etag, last_modified)
        now = self._clock()
        if fetched.status == "not_modified":
            with self._db.session() as session:
                repo.record_feed_success(
                    session,
                    url=feed.url,
                    feed=label,
                    at=now,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    entries=None,
                )
            # Unchanged body, so the entry count of the last full fetch still holds.
            self._succeeded(label, now, known_entries)
            return self._outcome(
                feed, "not_modified", "not modified", entries=known_entries, started=started
            )

        parsed = parse_feed(fetched.body, label, fetched.content_type)
        models = self.models_in_use()
        problems = list(parsed.problems)
        new = 0
        with self._db.session() as session:
            for entry in parsed.entries:
                matches, bad_dates = entry_matches(entry, models, feed.provider, now)
                problems += [
                    f"entry {entry.id[:80]!r}: date {d!r} does not exist" for d in bad_dates
                ]
                new += sum(_record(session, label, entry, m, now) for m in matches)
            repo.record_feed_success(
                session,
                url=feed.url,
                feed=label,
                at=now,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                entries=len(parsed.entries),
            )
        for problem in problems:
            if self._metrics is not None:
                self._metrics.feed_errors.labels(label, "bad_entry").inc()
            log.warning("feed %s: %s", label, problem)
        self._succeeded(label, now, len(parsed.entries))
        message = f"entries: {len(parsed.entries)}, new notices: {new}"
        if problems:
            message += f", {len(problems)} entry problems logged"
        return self._outcome(
            feed, "ok", message, entries=len(parsed.entries), new=new, started=started
        )

    def _succeeded(self, label: str, now: datetime, entries: int | None) -> None:
        if self._metrics is None:
            return
        self._metrics.feed_up.labels(label).set(1)
        self._metrics.feed_last_success.labels(label).set(now.timestamp())
        if entries is not None:
            self._metrics.feed_entries.labels(label).set(entries)

    def _failed(
        self, feed: FeedConfig, reason: str, message: str, started: float, record: bool = True
    ) -> FeedOutcome:
        label = feed.label
        if not message.startswith(f"feed {label}: "):
            message = f"feed {label}: {message}"
        log.warning(
            "%s (counted as %s)",
            message,
            reason,
            extra={"event": "feed_failed", "feed": label, "reason": reason},
        )
        if self._metrics is not None:
            self._metrics.feed_errors.labels(label, reason).inc()
            self._metrics.feed_up.labels(label).set(0)
        if record:
            try:
                with self._db.session() as session:
                    repo.record_feed_failure(
                        session, url=feed.url, feed=label, at=self._clock(), error=message
                    )
            except StateError as exc:
                log.warning("feed %s: cannot record the failure: %s", label, exc)
        return FeedOutcome(
            label, redact_url(feed.url), "error", reason, message, None, 0, _since(started)
        )

    def _outcome(
        self,
        feed: FeedConfig,
        status: Literal["ok", "not_modified"],
        message: str,
        *,
        started: float,
        entries: int | None = None,
        new: int = 0,
    ) -> FeedOutcome:
        return FeedOutcome(
            feed.label, redact_url(feed.url), status, None, message, entries, new, _since(started)
        )

    # --- reading back --------------------------------------------------------

    def notices(self) -> list[NoticeView]:
        """Current notices about models in use, soonest shutdown first."""
        return current_notices(self.models_in_use(), self._db, self._clock().date())

    def pending_events(self) -> list[DeprecationEvent]:
        """Notices about models in use that were never notified (oldest first)."""
        models = {m.id for m in self.models_in_use()}
        with self._db.session() as session:
            rows = [r for r in repo.active_notices(session) if r.model in models]
            disagree = conflicts(rows)
            return [
                deprecation_event(
                    r,
                    disagree.get(r.model),
                    repo.was_notified_before(session, r.model, r.feed, r.entry_id),
                )
                for r in rows
                if r.notified_at is None
            ]

    def mark_notified(self, events: Iterable[DeprecationEvent]) -> int:
        """Record that these events were handed to the notifier; returns rows stamped."""
        ids = [e.notice_id for e in events if e.notice_id is not None]
        with self._db.session() as session:
            return repo.mark_notified(session, ids, self._clock())

    def refresh_metrics(self) -> None:
        """Export, per model in use, whether a notice exists and its shutdown time."""
        if self._metrics is None:
            return
        models = self.models_in_use()
        with self._db.session() as session:
            rows = repo.active_notices(session)
        self._metrics.deprecations.update(deprecation_statuses(models, rows))


def current_notices(models: list[ModelInUse], db: StateDB, today: date) -> list[NoticeView]:
    """The recorded notices about ``models``, soonest shutdown first (no fetching).

    ``driftwatch status`` and ``feeds calendar`` read this; it never writes.
    """
    wanted = {m.id for m in models}
    with db.session() as session:
        rows = [r for r in repo.active_notices(session) if r.model in wanted]
    disagree = conflicts(rows)
    views = [notice_view(r, disagree.get(r.model), today) for r in rows]
    return sorted(views, key=lambda v: (v.effective_shutdown or date.max, v.model, v.feed))


def _record(session: Session, label: str, entry: Entry, match: NoticeMatch, now: datetime) -> int:
    """Store this (model, entry version) once; 1 if it is a new notice to send."""
    notice = repo.NoticeVersion(
        model=match.model.id,
        provider=match.model.provider,
        feed=label,
        entry_id=entry.id,
        content_hash=entry.content_hash,
        title=entry.title,
        link=entry.link,
        matched_as=match.matched_as,
        needs_review=match.needs_review,
        published_at=entry.announced,
        deprecated_on=match.dates.deprecated_on,
        shutdown_on=match.dates.shutdown_on,
        earliest_shutdown_on=match.dates.earliest_shutdown_on,
        replacement=", ".join(match.replacement) or None,
    )
    return 1 if repo.record_notice(session, notice, now) else 0


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)

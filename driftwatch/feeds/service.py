"""The feed watcher: fetch, parse, match against models in use, record, export.

``FeedWatcher.check_feed(feed)`` runs one feed end to end; ``check_all()`` runs
every configured feed, each isolated (a failure is counted in
``driftwatch_feed_errors_total{feed,reason}``, logged naming the feed, and the
next feed goes on). The daemon schedules ``check_feed`` per feed on its own
``interval``; the notifier takes ``pending_events()`` and acknowledges them
with ``mark_notified(events)``, so nothing is notified twice, across restarts
too: what was seen and notified lives in the state DB.

Models in use are the config's ``models:``, every embedder's ``model``, and
every model tag the latest version-mix result of each collection counted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import Literal, Protocol

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftwatch.checks.base import UNTAGGED
from driftwatch.config import Config, FeedConfig, OnnxEmbedderConfig, OpenAIEmbedderConfig
from driftwatch.errors import StateError
from driftwatch.feeds.dates import NoticeDates, notice_dates, scan_dates, summarise
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.feeds.fetch import FeedFetchFailed, fetch_feed
from driftwatch.feeds.match import ModelInUse, is_group_alias, match_models, normalise_id
from driftwatch.feeds.parse import Entry, FeedParseFailed, parse_feed
from driftwatch.feeds.report import FeedOutcome, FeedReport, NoticeView
from driftwatch.metrics import DriftwatchMetrics, ModelDeprecationStatus
from driftwatch.redact import redact_url
from driftwatch.state import feeds as repo
from driftwatch.state.models import CheckResultRow, DeprecationNoticeRow

log = logging.getLogger(__name__)

_MAX_ENTRY_ID = 1024
_MAX_NAME = 255


class SessionFactory(Protocol):
    """What the watcher needs of the state DB (``driftwatch.state.db.StateDB``)."""

    def session(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class _Match:
    """A model in use named by one entry, with the dates that apply to it."""

    model: ModelInUse
    matched_as: str
    needs_review: bool
    dates: NoticeDates


class FeedWatcher:
    """Watches the configured feeds for notices about the models in use.

    ``client`` and ``clock`` are injectable for tests; a client created here is
    closed by ``close()`` (or leaving a ``with`` block).
    """

    def __init__(
        self,
        config: Config,
        db: SessionFactory,
        metrics: DriftwatchMetrics,
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

    # --- models in use -------------------------------------------------------

    def models_in_use(self) -> list[ModelInUse]:
        """Configured models first (their provider and aliases win), then the rest."""
        found: dict[str, ModelInUse] = {}

        def add(model: ModelInUse) -> None:
            key = normalise_id(model.id)
            if key and key != UNTAGGED and key not in found:
                found[key] = model

        for m in self._config.models:
            add(ModelInUse(m.id, m.provider, tuple(m.aliases), "config"))
        for name, emb in self._config.embedders.items():
            add(ModelInUse(emb.model, _embedder_provider(emb), (), f"embedder:{name}"))
        with self._db.session() as session:
            for collection, model in _version_mix_models(session):
                add(ModelInUse(model, "unknown", (), f"version_mix:{collection}"))
        return list(found.values())

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
                matches, bad_dates = _entry_matches(entry, models, feed, now)
                problems += [
                    f"entry {entry.id[:80]!r}: date {d!r} does not exist" for d in bad_dates
                ]
                new += sum(self._record(session, label, entry, m, now) for m in matches)
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
            self._metrics.feed_errors.labels(label, "bad_entry").inc()
            log.warning("feed %s: %s", label, problem)
        self._succeeded(label, now, len(parsed.entries))
        message = f"entries: {len(parsed.entries)}, new notices: {new}"
        if problems:
            message += f", {len(problems)} entry problems logged"
        return self._outcome(
            feed, "ok", message, entries=len(parsed.entries), new=new, started=started
        )

    def _record(
        self, session: Session, label: str, entry: Entry, match: _Match, now: datetime
    ) -> int:
        """Store this (model, entry version) once; 1 if it is a new notice to send."""
        entry_id = _bounded_id(entry.id)
        model_id = match.model.id[:_MAX_NAME]
        content_hash = entry.content_hash
        seen = repo.find_notice(session, model_id, label, entry_id, content_hash)
        if seen is not None and not seen.superseded:
            return 0
        previous = repo.current_notice(session, model_id, label, entry_id)
        if seen is not None:
            # The entry went back to an earlier version: that version is current again.
            seen.superseded = False
            if previous is not None:
                previous.superseded = True
                if _dates_of(previous) != _dates_of(seen):
                    seen.notified_at = None  # its dates are news again
            return 0 if seen.notified_at is not None else 1
        row = DeprecationNoticeRow(
            model=model_id,
            provider=match.model.provider[:64],
            feed=label,
            entry_id=entry_id,
            content_hash=content_hash,
            title=entry.title,
            link=entry.link,
            matched_as=match.matched_as[:_MAX_NAME],
            needs_review=match.needs_review,
            published_at=entry.announced,
            deprecated_on=match.dates.deprecated_on,
            shutdown_on=match.dates.shutdown_on,
            earliest_shutdown_on=match.dates.earliest_shutdown_on,
            first_seen_at=now,
            superseded=False,
        )
        if previous is not None:
            previous.superseded = True
            # Reworded but same dates: already told, so not a new event.
            if _dates_of(previous) == match.dates and previous.notified_at is not None:
                row.notified_at = previous.notified_at
        session.add(row)
        session.flush()
        return 0 if row.notified_at is not None else 1

    def _succeeded(self, label: str, now: datetime, entries: int | None) -> None:
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
            feed.label,
            redact_url(feed.url),
            status,
            None,
            message,
            entries,
            new,
            _since(started),
        )

    # --- reading back --------------------------------------------------------

    def notices(self) -> list[NoticeView]:
        """Current notices about models in use, soonest shutdown first."""
        models = {m.id: m for m in self.models_in_use()}
        today = self._clock().date()
        with self._db.session() as session:
            rows = [r for r in repo.active_notices(session) if r.model in models]
        conflicts = _conflicting_models(rows)
        views = [_view(r, r.model in conflicts, today) for r in rows]
        return sorted(views, key=lambda v: (v.effective_shutdown or date.max, v.model, v.feed))

    def pending_events(self) -> list[DeprecationEvent]:
        """Notices about models in use that were never notified (oldest first)."""
        models = {m.id for m in self.models_in_use()}
        with self._db.session() as session:
            rows = [r for r in repo.active_notices(session) if r.model in models]
            conflicts = _conflicting_models(rows)
            return [
                DeprecationEvent(
                    model=r.model,
                    provider=r.provider,
                    feed=r.feed,
                    title=r.title,
                    link=r.link,
                    deprecated_on=r.deprecated_on,
                    shutdown_on=r.shutdown_on,
                    earliest_shutdown_on=r.earliest_shutdown_on,
                    needs_review=r.needs_review,
                    conflict=r.model in conflicts,
                    changed=repo.was_notified_before(session, r.model, r.feed, r.entry_id),
                    notice_id=r.id,
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
        models = self.models_in_use()
        with self._db.session() as session:
            rows = repo.active_notices(session)
        by_model: dict[str, list[DeprecationNoticeRow]] = defaultdict(list)
        for row in rows:
            by_model[row.model].append(row)
        conflicts = _conflicting_models(rows)
        statuses = []
        for m in models:
            mine = by_model.get(m.id, [])
            shutdowns = [d for d in (_shutdown(r) for r in mine) if d is not None]
            statuses.append(
                ModelDeprecationStatus(
                    model=m.id,
                    provider=m.provider,
                    notice=bool(mine),
                    shutdown_at=_timestamp(min(shutdowns)) if shutdowns else None,
                    needs_review=bool(mine) and all(r.needs_review for r in mine),
                    conflict=m.id in conflicts,
                )
            )
        self._metrics.deprecations.update(statuses)


def _entry_matches(
    entry: Entry, models: list[ModelInUse], feed: FeedConfig, now: datetime
) -> tuple[list[_Match], tuple[str, ...]]:
    """The models in use this entry names, each with its dates; and unreadable dates."""
    matches: dict[str, _Match] = {}
    for notice in entry.structured:
        wanted = normalise_id(notice.model)
        for m in models:
            names = [m.id, *(a for a in m.aliases if not is_group_alias(a))]
            if (
                m.id not in matches
                and _provider_applies(notice.provider or feed.provider, m)
                and wanted in {normalise_id(n) for n in names}
            ):
                dates = NoticeDates(
                    notice.deprecated_on, notice.shutdown_on, notice.earliest_shutdown_on
                )
                matches[m.id] = _Match(m, notice.model, False, dates)
    found = [
        hit
        for hit in match_models(entry.text, models)
        if hit.model.id not in matches and _provider_applies(feed.provider, hit.model)
    ]
    if not found:
        return list(matches.values()), ()
    reference = (entry.announced or now).date()
    scan = scan_dates(entry.text, reference)
    for hit in found:
        # A table row names a model and its own dates; prefer those to the whole text's.
        dates = notice_dates(hit.line, reference)
        if not dates.any:
            dates = summarise(scan.found)
        matches[hit.model.id] = _Match(hit.model, hit.matched_as, hit.needs_review, dates)
    return list(matches.values()), scan.invalid


def _provider_applies(provider: str | None, model: ModelInUse) -> bool:
    """A provider's notice speaks for that provider's models (unknown matches anything)."""
    if provider is None or model.provider in ("unknown", ""):
        return True
    return provider.lower() == model.provider.lower()


def _embedder_provider(emb: object) -> str:
    if isinstance(emb, OpenAIEmbedderConfig):
        return "openai" if "api.openai.com" in emb.base_url else "unknown"
    if isinstance(emb, OnnxEmbedderConfig):
        return "local"
    return "unknown"


def _version_mix_models(session: Session) -> Iterator[tuple[str, str]]:
    """(collection, model) for every model tag in each collection's latest version mix.

    A failed run (status "error") carries no counts; the run before it still
    tells which models the data was embedded with, so failed runs are skipped
    rather than read as "no models" (``state.results.latest_results`` would
    return the failed run).
    """
    completed = CheckResultRow.status != "error"
    latest = (
        select(CheckResultRow.collection, func.max(CheckResultRow.started_at).label("at"))
        .where(CheckResultRow.check == "version_mix", completed)
        .group_by(CheckResultRow.collection)
        .subquery()
    )
    rows = session.execute(
        select(CheckResultRow.collection, CheckResultRow.detail)
        .join(
            latest,
            (CheckResultRow.collection == latest.c.collection)
            & (CheckResultRow.started_at == latest.c.at),
        )
        .where(CheckResultRow.check == "version_mix", completed)
    )
    for collection, detail in rows:
        for doc in (detail or {}).get("documents") or []:
            model = doc.get("model") if isinstance(doc, dict) else None
            if isinstance(model, str) and model and model != UNTAGGED:
                yield collection, model


def _dates_of(row: DeprecationNoticeRow) -> NoticeDates:
    return NoticeDates(row.deprecated_on, row.shutdown_on, row.earliest_shutdown_on)


def _shutdown(row: DeprecationNoticeRow) -> date | None:
    return row.shutdown_on or row.earliest_shutdown_on


def _conflicting_models(rows: Iterable[DeprecationNoticeRow]) -> set[str]:
    """Models for which two different notices announce different shutdown dates."""
    dates: dict[str, set[date]] = defaultdict(set)
    for row in rows:
        shutdown = _shutdown(row)
        if shutdown is not None:
            dates[row.model].add(shutdown)
    return {model for model, found in dates.items() if len(found) > 1}


def _view(row: DeprecationNoticeRow, conflict: bool, today: date) -> NoticeView:
    shutdown = _shutdown(row)
    return NoticeView(
        model=row.model,
        provider=row.provider,
        feed=row.feed,
        title=row.title,
        link=row.link,
        matched_as=row.matched_as,
        announced=row.published_at,
        deprecated_on=row.deprecated_on,
        shutdown_on=row.shutdown_on,
        earliest_shutdown_on=row.earliest_shutdown_on,
        days_until_shutdown=(shutdown - today).days if shutdown else None,
        needs_review=row.needs_review,
        conflict=conflict,
    )


def _timestamp(day: date) -> float:
    return datetime.combine(day, dt_time(0, 0), tzinfo=UTC).timestamp()


def _bounded_id(entry_id: str) -> str:
    if len(entry_id) <= _MAX_ENTRY_ID:
        return entry_id
    return "sha256:" + hashlib.sha256(entry_id.encode()).hexdigest()


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 4)

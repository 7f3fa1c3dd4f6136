"""Repository functions for the feed_state and deprecation_notices tables.

Each function works inside the caller's session (one transaction per feed
check), so a crash half-way through a feed leaves the previous state intact.

Notice versioning (``record_notice``) lives here: a notice row is one (model,
feed, entry id, content hash). An entry edited in place gets a new row and the
old one is marked ``superseded``; a reworded entry with the same dates keeps
the old row's ``notified_at`` (nothing new to say); an entry edited back to an
earlier version makes that row current again, and if its dates differ from
the version it replaces they are news again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from driftwatch.state.models import DeprecationNoticeRow, FeedStateRow


def get_feed_state(session: Session, url: str) -> FeedStateRow | None:
    return session.scalars(select(FeedStateRow).where(FeedStateRow.url == url)).one_or_none()


def _feed_state(session: Session, url: str, feed: str) -> FeedStateRow:
    row = get_feed_state(session, url)
    if row is None:
        row = FeedStateRow(url=url, feed=feed)
        session.add(row)
    row.feed = feed
    return row


def record_feed_success(
    session: Session,
    *,
    url: str,
    feed: str,
    at: datetime,
    etag: str | None,
    last_modified: str | None,
    entries: int | None,
) -> None:
    """A good fetch (or 304): keep its validators; ``entries`` None keeps the old count."""
    row = _feed_state(session, url, feed)
    row.etag = etag
    row.last_modified = last_modified
    row.last_attempt_at = at
    row.last_success_at = at
    row.last_error = None
    if entries is not None:
        row.entries = entries


def record_feed_failure(session: Session, *, url: str, feed: str, at: datetime, error: str) -> None:
    row = _feed_state(session, url, feed)
    row.last_attempt_at = at
    row.last_error = error


def find_notice(
    session: Session, model: str, feed: str, entry_id: str, content_hash: str
) -> DeprecationNoticeRow | None:
    """The row for exactly this version of the entry, if it was seen before."""
    return session.scalars(
        select(DeprecationNoticeRow).where(
            DeprecationNoticeRow.model == model,
            DeprecationNoticeRow.feed == feed,
            DeprecationNoticeRow.entry_id == entry_id,
            DeprecationNoticeRow.content_hash == content_hash,
        )
    ).one_or_none()


def current_notice(
    session: Session, model: str, feed: str, entry_id: str
) -> DeprecationNoticeRow | None:
    """The latest (not superseded) version of the entry for the model."""
    return session.scalars(
        select(DeprecationNoticeRow)
        .where(
            DeprecationNoticeRow.model == model,
            DeprecationNoticeRow.feed == feed,
            DeprecationNoticeRow.entry_id == entry_id,
            DeprecationNoticeRow.superseded.is_(False),
        )
        .order_by(DeprecationNoticeRow.id.desc())
    ).first()


def active_notices(session: Session) -> list[DeprecationNoticeRow]:
    """Every notice version that is not superseded, oldest first."""
    return list(
        session.scalars(
            select(DeprecationNoticeRow)
            .where(DeprecationNoticeRow.superseded.is_(False))
            .order_by(DeprecationNoticeRow.id)
        )
    )


def was_notified_before(session: Session, model: str, feed: str, entry_id: str) -> bool:
    """True when an earlier (superseded) version of this entry was notified."""
    return (
        session.scalars(
            select(DeprecationNoticeRow.id).where(
                DeprecationNoticeRow.model == model,
                DeprecationNoticeRow.feed == feed,
                DeprecationNoticeRow.entry_id == entry_id,
                DeprecationNoticeRow.superseded.is_(True),
                DeprecationNoticeRow.notified_at.is_not(None),
            )
        ).first()
        is not None
    )


def mark_notified(session: Session, notice_ids: Iterable[int], at: datetime) -> int:
    """Stamp notified_at on the given notices (already stamped ones keep theirs)."""
    ids = list(notice_ids)
    if not ids:
        return 0
    result = session.execute(
        update(DeprecationNoticeRow)
        .where(DeprecationNoticeRow.id.in_(ids), DeprecationNoticeRow.notified_at.is_(None))
        .values(notified_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


MAX_ENTRY_ID = 1024
MAX_NAME = 255


@dataclass(frozen=True)
class NoticeVersion:
    """One model's notice in one version of one feed entry, as it is to be recorded."""

    model: str
    provider: str
    feed: str
    entry_id: str
    content_hash: str
    title: str
    link: str | None
    matched_as: str
    needs_review: bool
    published_at: datetime | None
    deprecated_on: date | None
    shutdown_on: date | None
    earliest_shutdown_on: date | None
    replacement: str | None


def record_notice(session: Session, notice: NoticeVersion, now: datetime) -> bool:
    """Store this (model, entry version) once; True if it is news to notify."""
    entry_id = bounded_entry_id(notice.entry_id)
    model = notice.model[:MAX_NAME]
    seen = find_notice(session, model, notice.feed, entry_id, notice.content_hash)
    if seen is not None and not seen.superseded:
        return False
    previous = current_notice(session, model, notice.feed, entry_id)
    if seen is not None:
        # The entry went back to an earlier version: that version is current again.
        seen.superseded = False
        if previous is not None:
            previous.superseded = True
            if notice_dates(previous) != notice_dates(seen):
                seen.notified_at = None  # its dates are news again
        return seen.notified_at is None
    row = DeprecationNoticeRow(
        model=model,
        provider=notice.provider[:64],
        feed=notice.feed,
        entry_id=entry_id,
        content_hash=notice.content_hash,
        title=notice.title,
        link=notice.link,
        matched_as=notice.matched_as[:MAX_NAME],
        needs_review=notice.needs_review,
        published_at=notice.published_at,
        deprecated_on=notice.deprecated_on,
        shutdown_on=notice.shutdown_on,
        earliest_shutdown_on=notice.earliest_shutdown_on,
        replacement=notice.replacement[:MAX_NAME] if notice.replacement else None,
        first_seen_at=now,
        superseded=False,
    )
    if previous is not None:
        previous.superseded = True
        # Reworded but same dates: already told, so not a new event.
        if notice_dates(previous) == notice_dates(row) and previous.notified_at is not None:
            row.notified_at = previous.notified_at
    session.add(row)
    session.flush()
    return row.notified_at is None


def notice_dates(row: DeprecationNoticeRow) -> tuple[date | None, date | None, date | None]:
    """What makes a notice news: its deprecated, shutdown and earliest-shutdown dates."""
    return (row.deprecated_on, row.shutdown_on, row.earliest_shutdown_on)


def bounded_entry_id(entry_id: str) -> str:
    """Entry ids longer than the column are stored as their hash."""
    if len(entry_id) <= MAX_ENTRY_ID:
        return entry_id
    return "sha256:" + hashlib.sha256(entry_id.encode()).hexdigest()

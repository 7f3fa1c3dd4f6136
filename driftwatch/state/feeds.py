"""Repository functions for the feed_state and deprecation_notices tables.

Each function works inside the caller's session (one transaction per feed
check), so a crash half-way through a feed leaves the previous state intact.
A notice row is one (model, feed, entry id, content hash): an entry edited in
place gets a new row and the old one is marked ``superseded``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

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

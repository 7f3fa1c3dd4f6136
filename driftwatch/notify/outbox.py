"""Repository for the ``outbox`` and ``alert_state`` tables.

Every function takes the caller's session, so enqueueing a message and
recording what was notified happen in one transaction: either both are
committed or neither is.

Claiming is a compare-and-set ``UPDATE ... WHERE status = 'pending' AND the
claim is free``: on PostgreSQL the second of two replicas racing for a row
re-checks that condition after the first commits and updates nothing; on
SQLite the write lock serialises them. A claim is a lease (``claimed_until``),
so a replica killed mid-send does not hold its rows forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from driftwatch.config import Severity
from driftwatch.notify.policy import AlertState
from driftwatch.state.models import AlertStateRow, OutboxRow

PENDING, SENT, UNDELIVERABLE = "pending", "sent", "undeliverable"
_CANDIDATES = 5  # rows looked at per claim; others may be claimed by other replicas
_SEVERITIES: dict[str, Severity] = {"info": "info", "warning": "warning", "critical": "critical"}


@dataclass(frozen=True)
class Message:
    """A claimed outbox row, detached from its session."""

    id: int
    fingerprint: str
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_at: datetime | None
    undeliverable: int


def enqueue(
    session: Session,
    *,
    channel: str,
    fingerprint: str,
    kind: str,
    severity: Severity,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        OutboxRow(
            channel=channel,
            fingerprint=fingerprint[:512],
            kind=kind,
            severity=severity,
            payload=payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )


def claim_next(
    session: Session, channel: str, owner: str, now: datetime, lease: timedelta
) -> Message | None:
    """Claim the oldest due message nobody else holds; None when there is none."""
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    due = (
        (OutboxRow.channel == channel)
        & (OutboxRow.status == PENDING)
        & (OutboxRow.next_attempt_at <= now)
        & free
    )
    ids = session.scalars(
        select(OutboxRow.id).where(due).order_by(OutboxRow.id).limit(_CANDIDATES)
    ).all()
    for row_id in ids:
        claimed = session.execute(
            update(OutboxRow)
            .where((OutboxRow.id == row_id) & due)
            .values(claimed_by=owner, claimed_until=now + lease)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get_one(OutboxRow, row_id)
            return Message(row.id, row.fingerprint, row.kind, dict(row.payload), row.attempts)
    return None


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == message_id)
        .values(
            status=SENT,
            sent_at=now,
            attempts=OutboxRow.attempts + 1,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
    )


def mark_failed(
    session: Session,
    message_id: int,
    error: str,
    next_attempt_at: datetime,
    *,
    counted: bool,
    undeliverable: bool,
) -> None:
    """Record a failed attempt; ``counted`` attempts move the message towards max_attempts."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == message_id)
        .values(
            status=UNDELIVERABLE if undeliverable else PENDING,
            attempts=OutboxRow.attempts + (1 if counted else 0),
            next_attempt_at=next_attempt_at,
            last_error=error[:1000],
            claimed_by=None,
            claimed_until=None,
        )
    )


def stats(session: Session, channel: str) -> OutboxStats:
    pending, oldest = session.execute(
        select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
            (OutboxRow.channel == channel) & (OutboxRow.status == PENDING)
        )
    ).one()
    undeliverable = session.scalar(
        select(func.count(OutboxRow.id)).where(
            (OutboxRow.channel == channel) & (OutboxRow.status == UNDELIVERABLE)
        )
    )
    return OutboxStats(int(pending), oldest, int(undeliverable or 0))


def load_states(session: Session, channel: str, fingerprints: list[str]) -> dict[str, AlertState]:
    rows = session.scalars(
        select(AlertStateRow).where(
            (AlertStateRow.channel == channel) & AlertStateRow.fingerprint.in_(fingerprints)
        )
    ).all()
    return {
        row.fingerprint: AlertState(
            row.status, _severity(row.severity), row.since, row.last_notified_at
        )
        for row in rows
    }


def save_state(session: Session, channel: str, fingerprint: str, state: AlertState | None) -> None:
    row = session.get(AlertStateRow, (fingerprint, channel))
    if state is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = AlertStateRow(fingerprint=fingerprint, channel=channel)
        session.add(row)
    row.status = state.status
    row.severity = state.severity
    row.since = state.since
    row.last_notified_at = state.last_notified_at


def _severity(value: str) -> Severity:
    return _SEVERITIES.get(value, "warning")

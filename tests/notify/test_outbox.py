"""The outbox repository on SQLite and PostgreSQL: claiming, leases, counts, alert state."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from driftwatch.notify import outbox
from driftwatch.notify.policy import AlertState
from driftwatch.state.db import StateDB, open_state
from driftwatch.state.models import OutboxRow
from tests.notify.helpers import START

LEASE = timedelta(seconds=30)


def fill(db: StateDB, n: int, channel: str = "slack") -> None:
    with db.session() as session:
        for i in range(n):
            outbox.enqueue(
                session,
                channel=channel,
                fingerprint=f"check/c{i}/fingerprint",
                kind="firing",
                severity="critical",
                payload={"text": f"message {i}"},
                now=START + timedelta(seconds=i),
            )


def claim(
    db: StateDB, owner: str, now: datetime = START + timedelta(seconds=10)
) -> outbox.Message | None:
    with db.session() as session:
        return outbox.claim_next(session, "slack", owner, now, LEASE)


def test_a_claimed_message_is_nobody_elses_until_its_lease_ends(state_db: StateDB) -> None:
    fill(state_db, 1)
    first = claim(state_db, "a")
    assert first is not None
    assert first.payload == {"text": "message 0"}
    assert claim(state_db, "b") is None
    later = START + timedelta(seconds=10) + LEASE + timedelta(seconds=1)
    again = claim(state_db, "b", now=later)
    assert again is not None
    assert again.id == first.id
    with state_db.session() as session:
        row = session.get_one(OutboxRow, first.id)
        assert row.claimed_by == "b"
        assert row.claimed_until == later + LEASE


def test_messages_are_claimed_oldest_first_and_only_when_due(state_db: StateDB) -> None:
    fill(state_db, 3)
    with state_db.session() as session:
        assert outbox.claim_next(session, "slack", "a", START, LEASE) is not None  # only #0 due
        assert outbox.claim_next(session, "slack", "a", START, LEASE) is None
        assert outbox.claim_next(session, "other", "a", START + LEASE, LEASE) is None
    later = [claim(state_db, "a") for _ in range(3)]
    assert [m.payload["text"] if m else None for m in later] == ["message 1", "message 2", None]


def test_two_replicas_racing_never_claim_the_same_message(state_url: str) -> None:
    dbs = [open_state(state_url), open_state(state_url)]
    try:
        fill(dbs[0], 40)
        claimed: dict[str, list[int]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)

        def replica(owner: str, db: StateDB) -> None:
            barrier.wait()
            while (message := claim(db, owner, now=START + timedelta(minutes=5))) is not None:
                claimed[owner].append(message.id)

        threads = [
            threading.Thread(target=replica, args=(o, d)) for o, d in zip("ab", dbs, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        both = claimed["a"] + claimed["b"]
        assert len(both) == 40
        assert len(set(both)) == 40
    finally:
        for db in dbs:
            db.close()


def test_failed_sent_and_undeliverable_are_counted(state_db: StateDB) -> None:
    fill(state_db, 3)
    first, second = claim(state_db, "a"), claim(state_db, "a")
    assert first is not None
    assert second is not None
    retry_at = START + timedelta(hours=1)
    with state_db.session() as session:
        outbox.mark_sent(session, first.id, START + timedelta(minutes=2))
        outbox.mark_failed(
            session, second.id, "HTTP 404 no_service", retry_at, counted=True, undeliverable=True
        )
    with state_db.session() as session:
        stats = outbox.stats(session, "slack")
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [
            ("sent", 1, None),
            ("undeliverable", 1, None),
            ("pending", 0, None),
        ]
        assert rows[1].last_error == "HTTP 404 no_service"
    assert stats.pending == 1
    assert stats.undeliverable == 1
    assert stats.oldest_pending_at == START + timedelta(seconds=2)


def test_alert_state_round_trip(state_db: StateDB) -> None:
    state = AlertState("drift", "critical", START, START + timedelta(minutes=5))
    with state_db.session() as session:
        outbox.save_state(session, "slack", "check/docs/fingerprint", state)
    with state_db.session() as session:
        loaded = outbox.load_states(session, "slack", ["check/docs/fingerprint", "check/x/y"])
        assert loaded == {"check/docs/fingerprint": state}
        outbox.save_state(session, "slack", "check/docs/fingerprint", None)
    with state_db.session() as session:
        assert outbox.load_states(session, "slack", ["check/docs/fingerprint"]) == {}

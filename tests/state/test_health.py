"""State DB health: down at once on a failed state operation, up only after writes held."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from driftwatch.errors import StateError
from driftwatch.state.db import open_state
from driftwatch.state.health import StateHealth
from driftwatch.state.leases import heartbeat
from driftwatch.state.models import JobLeaseRow


def test_a_failure_marks_it_down_with_the_reason_until_writes_held() -> None:
    health = StateHealth(hold=timedelta(seconds=0.3))
    assert health.status() == (True, "ok")
    health.failed("state database sqlite:///x.db: database or disk is full")
    up, reason = health.status()
    assert not up and "database or disk is full" in reason and "last failure" in reason
    health.wrote()
    up, reason = health.status()
    assert not up and reason.startswith("recovering")  # flapping must not read as healthy
    time.sleep(0.35)
    assert health.status() == (True, "ok")
    health.failed("again")
    time.sleep(0.35)
    assert not health.up  # time alone heals nothing: a write must succeed after the failure


def test_reads_do_not_count_as_recovery_writes_do(tmp_path: Path) -> None:
    db = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        db.health.hold = timedelta(0)
        db.health.failed("simulated earlier failure")
        with db.session() as session:
            session.scalars(select(JobLeaseRow)).all()
        assert not db.health.up
        heartbeat(db, "me", timedelta(minutes=1))
        assert db.health.up
    finally:
        db.close()


def test_a_failed_transaction_marks_it_down(tmp_path: Path) -> None:
    db = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with pytest.raises(StateError), db.session() as session:
            session.execute(text("INSERT INTO no_such_table VALUES (1)"))
        up, reason = db.health.status()
        assert not up and "no such table" in reason
    finally:
        db.close()

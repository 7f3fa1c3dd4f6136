"""Opening, migrating and failing to open the state database, on both backends."""

from __future__ import annotations

from sqlalchemy import text

from driftwatch.state.db import StateDB


def test_opened_database_answers_ping(state_db: StateDB) -> None:
    assert state_db.ping()
    with state_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM check_results")).scalar_one() == 0

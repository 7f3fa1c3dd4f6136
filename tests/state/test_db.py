"""Opening, migrating and failing to open the state database, on both backends."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from driftwatch.errors import StateError
from driftwatch.state.db import (
    MIGRATIONS_DIR,
    SQLITE_BUSY_TIMEOUT_MS,
    StateDB,
    alembic_config,
    head_revision,
    open_state,
    packaged_revisions,
)
from driftwatch.state.leases import heartbeat
from driftwatch.state.models import Base, CheckResultRow, JobLeaseRow
from tests.support.state import drop_pg_database, pg_url

MODEL_TABLES = set(Base.metadata.tables)


def _schema_diff(db: StateDB) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _revision(db: StateDB) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def _lease(name: str) -> JobLeaseRow:
    return JobLeaseRow(name=name, owner="test", expires_at=datetime.now(UTC))


def test_migrated_schema_equals_the_models(state_db: StateDB) -> None:
    assert set(inspect(state_db.engine).get_table_names()) == MODEL_TABLES | {"alembic_version"}
    assert _schema_diff(state_db) == []
    assert _revision(state_db) == _head()


def test_opening_twice_keeps_data_and_migrates_nothing(state_url: str) -> None:
    first = open_state(state_url)
    with first.session() as session:
        session.add(_lease("kept"))
    first.close()

    second = open_state(state_url)
    try:
        with second.session() as session:
            assert session.scalars(select(JobLeaseRow.name)).all() == ["kept"]
        assert _revision(second) == _head()
        assert _schema_diff(second) == []
    finally:
        second.close()


def test_the_revisions_read_from_the_scripts_are_alembics() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert packaged_revisions() == {s.revision: s.down_revision for s in scripts.walk_revisions()}
    assert head_revision() == _head()


# The daemon's imports, then open_state on a database given as argv[1]: reports
# whether it was created fresh and which Alembic (or Mako, its template engine)
# modules got imported.
OPEN_IN_THE_DAEMON = textwrap.dedent(
    """
    import sys
    import driftwatch.daemon
    from driftwatch.state.db import open_state
    db = open_state(sys.argv[1])
    db.close()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako"))
    print(db.created_fresh, loaded)
    """
)


def test_a_database_at_head_is_opened_without_importing_alembic(state_db: StateDB) -> None:
    url = state_db.engine.url.render_as_string(hide_password=False)
    opened = subprocess.run(
        [sys.executable, "-c", OPEN_IN_THE_DAEMON, url], check=True, capture_output=True, text=True
    )
    assert opened.stdout.strip() == "False []"


def test_a_schema_at_an_older_revision_is_upgraded_on_open(state_db: StateDB) -> None:
    with state_db.session() as session:
        session.add(_lease("kept"))
    with state_db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "-1")
    assert _revision(state_db) == packaged_revisions()[head_revision()]

    reopened = open_state(state_db.engine.url.render_as_string(hide_password=False))
    try:
        assert not reopened.created_fresh
        assert _revision(reopened) == _head()
        assert _schema_diff(reopened) == []
        with reopened.session() as session:
            assert session.scalars(select(JobLeaseRow.name)).all() == ["kept"]
    finally:
        reopened.close()


def test_migrate_false_leaves_an_empty_database_empty(state_url: str) -> None:
    db = open_state(state_url, migrate=False)
    try:
        assert db.ping()
        assert inspect(db.engine).get_table_names() == []
    finally:
        db.close()


def test_downgrade_to_base_and_upgrade_again(state_db: StateDB) -> None:
    with state_db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(state_db.engine).get_table_names()) <= {"alembic_version"}
    with state_db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert _schema_diff(state_db) == []


def test_fresh_database_opened_concurrently_is_migrated_once(
    state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alembic")
    start = threading.Barrier(3)
    opened: list[StateDB] = []
    errors: list[BaseException] = []

    def open_at_once() -> None:
        start.wait()
        try:
            opened.append(open_state(state_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_at_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert len(opened) == 3
        upgrades = [r for r in caplog.records if r.getMessage().startswith("Running upgrade")]
        # Each revision is applied once, by one of the three.
        revisions = list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions())
        assert len(upgrades) == len(revisions), [r.getMessage() for r in upgrades]
        assert all(_revision(db) == _head() for db in opened)
    finally:
        for db in opened:
            db.close()


def test_session_commits_on_success(state_db: StateDB) -> None:
    with state_db.session() as session:
        session.add(_lease("a"))
        session.add(_lease("b"))
    with state_db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobLeaseRow)) == 2


def test_exception_mid_transaction_leaves_nothing_written(state_db: StateDB) -> None:
    with pytest.raises(RuntimeError, match="half-way"), state_db.session() as session:
        session.add(_lease("first"))
        session.flush()  # the row reached the database inside the transaction
        raise RuntimeError("half-way")
    with state_db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobLeaseRow)) == 0


def test_database_error_becomes_state_error_naming_the_database(state_db: StateDB) -> None:
    with pytest.raises(StateError) as caught, state_db.session() as session:
        session.add(_lease("dup"))
        session.flush()
        session.add(_lease("dup"))  # same primary key
    assert state_db.url_redacted in str(caught.value)
    with state_db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobLeaseRow)) == 0


def test_naive_datetime_is_refused_and_nothing_written(state_db: StateDB) -> None:
    row = CheckResultRow(
        collection="docs",
        check="probe",
        status="ok",
        value=1.0,
        threshold=None,
        detail={},
        message="m",
        started_at=datetime(2026, 1, 1),  # the mistake under test
        duration_s=0.1,
    )
    with pytest.raises(StateError, match="naive datetime"), state_db.session() as session:
        session.add(row)
    with state_db.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckResultRow)) == 0


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    db = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        db.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(StateError, match="in-memory SQLite database keeps nothing"):
        open_state(url)


def test_sqlite_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "x"
    url = f"sqlite:///{missing / 'y.db'}"
    with pytest.raises(StateError) as caught:
        open_state(url)
    assert (
        str(caught.value) == f"cannot open state database {url}: directory {missing} does not exist"
    )
    assert not missing.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:hunter2@127.0.0.1/dw", "scheme 'mysql' is not supported"),
        ("postgresql+psycopg2://u:hunter2@127.0.0.1/dw", "'postgresql+psycopg2' is not supported"),
        ("not a url hunter2", "invalid state database URL '<no scheme>'"),
    ],
)
def test_unsupported_url_is_a_clear_error_without_the_password(url: str, expected: str) -> None:
    with pytest.raises(StateError, match=re.escape(expected)) as caught:
        open_state(url)
    assert "hunter2" not in str(caught.value)


def test_postgres_on_a_closed_port_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StateError) as caught:
        open_state("postgresql://dw:hunter2@127.0.0.1:1/state")
    message = str(caught.value)
    assert message.startswith(
        "cannot open state database postgresql+psycopg://dw:***@127.0.0.1:1/state: "
    )
    assert "refused" in message.lower()
    assert "hunter2" not in message
    assert "\n" not in message


@pytest.mark.postgres
def test_missing_postgres_database_is_named_in_the_error() -> None:
    with pytest.raises(StateError, match=r'database "dw_does_not_exist" does not exist'):
        open_state(pg_url("dw_does_not_exist"))


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_schemes_use_psycopg_3(pg_database: str, scheme: str) -> None:
    url = pg_database.replace("postgresql+psycopg://", f"{scheme}://", 1)
    db = open_state(url, migrate=False)
    try:
        assert db.engine.dialect.driver == "psycopg"
        assert db.url_redacted == pg_database
    finally:
        db.close()


@pytest.mark.postgres
def test_redacted_url_hides_password_in_userinfo_and_query(pg_database: str) -> None:
    db = open_state(f"{pg_database}?password=hunter2&application_name=dw", migrate=False)
    try:
        assert db.ping()
        assert db.url_redacted == f"{pg_database}?application_name=dw"
        assert "hunter2" not in repr(db)
    finally:
        db.close()
    with pytest.raises(StateError) as caught:
        open_state("postgresql://dw:hunter2@127.0.0.1:1/state?password=hunter2")
    assert "hunter2" not in str(caught.value)


@pytest.mark.postgres
def test_ping_is_false_once_the_database_is_gone(pg_database: str) -> None:
    db = open_state(pg_database)
    try:
        assert db.ping()
        drop_pg_database(pg_database.rsplit("/", 1)[1])
        assert db.ping() is False
        with pytest.raises(StateError, match="state database postgresql"), db.session() as s:
            s.execute(text("SELECT 1"))
    finally:
        db.close()


def test_schema_from_a_newer_release_is_refused_untouched(state_db: StateDB) -> None:
    with state_db.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        session.add(_lease("kept"))
    with pytest.raises(StateError, match=r"revision '9999'.*newer release"):
        open_state(state_db.engine.url.render_as_string(hide_password=False))
    with state_db.session() as session:
        assert session.scalars(select(JobLeaseRow.name)).all() == ["kept"]


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"these are not the bytes of a SQLite database " * 100)
    with pytest.raises(StateError, match=r"cannot open state database sqlite:.*not a database"):
        open_state(f"sqlite:///{path}")
    assert path.read_bytes().startswith(b"these are not the bytes")


def test_a_new_database_says_it_was_created_fresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = open_state(url)
    first.close()
    again = open_state(url)
    again.close()
    assert first.created_fresh
    assert not again.created_fresh
    assert not first.lost_history and not again.lost_history


def test_a_sqlite_file_deleted_while_open_is_detected_recreated_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    db = open_state(f"sqlite:///{path}")
    try:
        heartbeat(db, "me", timedelta(hours=1))
        path.unlink()  # what `rm state.db` does under a running daemon
        with (
            caplog.at_level(logging.ERROR, "driftwatch.state.db"),
            pytest.raises(StateError, match="deleted while driftwatch ran"),
        ):
            heartbeat(db, "me", timedelta(hours=1))
        assert any("recreated empty" in r.getMessage() for r in caplog.records)
        assert db.lost_history
        up, reason = db.health.status()
        assert not up and "deleted" in reason
        # Writes go to the new file (not the unlinked inode), which has the full schema.
        heartbeat(db, "me", timedelta(hours=1))
        assert path.is_file()
        reopened = open_state(f"sqlite:///{path}")
        try:
            with reopened.session() as session:
                assert session.scalars(select(JobLeaseRow.name)).all() == ["heartbeat:me"]
        finally:
            reopened.close()
    finally:
        db.close()


def test_a_sqlite_file_replaced_by_another_database_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = open_state(f"sqlite:///{path}")
    other = tmp_path / "restored.db"
    open_state(f"sqlite:///{other}").close()
    try:
        other.replace(path)  # e.g. a backup restored over it
        with pytest.raises(StateError, match="replaced by another file"):
            heartbeat(db, "me", timedelta(hours=1))
        assert not db.lost_history  # the new file has a schema (and whatever history it holds)
        heartbeat(db, "me", timedelta(hours=1))
    finally:
        db.close()

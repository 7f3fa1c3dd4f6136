"""Fixtures for tests that need a real state database, on both backends.

``state_url`` is parametrized ``["sqlite", "postgresql"]``: a SQLite file in the
test's temp dir, or a fresh PostgreSQL schema (``dw_<random>``, selected through
``search_path`` in the URL) on the server at 127.0.0.1:5432, dropped afterwards,
so tests never share state. ``pg_database`` gives a whole fresh database instead
(for tests that drop it, or need the URL without a schema).
``state_db`` is a ``StateDB`` opened (and migrated) on that URL, closed after.
``state`` is one on SQLite only, for tests whose subject is not the backend.

If PostgreSQL is not running, the ``postgresql`` cases FAIL with a message
saying so (CI starts the server; a silent skip would hide a missing backend).

Use them in a test directory by importing them in its conftest.py (importing
into the test module itself trips ruff's F811 on every test taking the fixture)::

    from tests.support.state import state_db, state_url  # noqa: F401

or for the whole suite, in the top-level tests/conftest.py (pytest allows
``pytest_plugins`` only there): ``pytest_plugins = ["tests.support.state"]``.
"""

from __future__ import annotations

import atexit
import functools
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from driftwatch.state.db import StateDB, open_state

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN_DB = "test"  # connected to for CREATE/DROP DATABASE only


def _admin(database: str = PG_ADMIN_DB) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        cause = " ".join(str(exc).split())
    pytest.fail(
        f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (database {database!r}, "
        f"user {PG_USER!r}): {cause} -- start it with: pg_ctlcluster "
        "--skip-systemctl-redirect $(ls /etc/postgresql) main start",
        pytrace=False,
    )


def create_pg_database() -> str:
    """Create an empty database with a random name; returns its name."""
    name = f"dw_{uuid.uuid4().hex[:16]}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_pg_database(name: str) -> None:
    """Drop a database made by create_pg_database, disconnecting anyone still on it."""
    with _admin() as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (not migrated), dropped after the test."""
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@functools.cache
def session_pg_database() -> str:
    """One database per test process for the per-test schemas, dropped at exit.

    Created on first use, so runs without PostgreSQL cases never connect.
    """
    name = create_pg_database()
    atexit.register(drop_pg_database, name)
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty state database URL, once per backend.

    PostgreSQL: a fresh schema (the URL sets ``search_path`` to it) in the
    session's database; cheaper than a database per test, just as isolated.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    database = session_pg_database()
    schema = f"dw_{uuid.uuid4().hex[:16]}"
    with _admin(database) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        # Test data need not survive a crash: skipping the WAL flush per commit saves time.
        options = f"-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
        yield f"{pg_url(database)}?options={options}"
    finally:
        with _admin(database) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def state_db(state_url: str) -> Iterator[StateDB]:
    """A migrated StateDB on ``state_url``; closed after the test."""
    db = open_state(state_url)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDB]:
    """A migrated SQLite StateDB in the test's temp dir; closed after the test."""
    db = open_state(f"sqlite:///{tmp_path}/state.db")
    yield db
    db.close()

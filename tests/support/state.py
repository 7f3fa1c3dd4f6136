"""Fixtures for tests that need a real state database, on both backends.

``state_url`` is parametrized ``["sqlite", "postgresql"]``: a SQLite file in the
test's temp dir, or a fresh PostgreSQL database (``dw_<random>``) created on the
server at 127.0.0.1:5432 and dropped afterwards, so tests never share state.
``state_db`` is a ``StateDB`` opened (and migrated) on that URL, closed after.

If PostgreSQL is not running, the ``postgresql`` cases FAIL with a message
saying so (CI starts the server; a silent skip would hide a missing backend).

Use them in a test directory by importing them in its conftest.py (importing
into the test module itself trips ruff's F811 on every test taking the fixture)::

    from tests.support.state import state_db, state_url  # noqa: F401

or for the whole suite, in the top-level tests/conftest.py (pytest allows
``pytest_plugins`` only there): ``pytest_plugins = ["tests.support.state"]``.
"""

from __future__ import annotations

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


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            dbname=PG_ADMIN_DB,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (database {PG_ADMIN_DB!r}, "
            f"user {PG_USER!r}): {exc}. Start it with: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start",
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty state database URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def state_db(state_url: str) -> Iterator[StateDB]:
    """A migrated StateDB on ``state_url``; closed after the test."""
    db = open_state(state_url)
    try:
        yield db
    finally:
        db.close()

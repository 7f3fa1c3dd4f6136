"""Open the state database (SQLite or PostgreSQL) and bring its schema up to date.

``open_state(url)`` is the only way in: it validates the URL, checks that a
SQLite file can be created where asked, connects, applies the Alembic
migrations (``upgrade head``) and hands back a ``StateDB``. Every failure on
the way is one ``StateError`` whose message names the database with its
password hidden, so the CLI can print it and exit 2 without a traceback.

SQLite runs in WAL mode (readers never block the writer; synchronous=NORMAL)
with foreign keys on and a busy timeout; each session starts with ``BEGIN
IMMEDIATE`` so two processes sharing one file queue up instead of failing
half-way through a read-then-write. Several PostgreSQL replicas may start at once: the upgrade
runs under a transaction-scoped advisory lock, so exactly one migrates and the
others find the schema at head.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.errors import StateError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
# Arbitrary constant shared by every replica: the key of the migration advisory lock.
MIGRATION_LOCK_KEY = 0x64726966  # "drif"
SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10
# Execution option that makes a SQLite transaction start deferred (read-only probes).
_READ_ONLY = "driftwatch_read_only"

_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgresql+psycopg", "postgres"}


class StateDB:
    """An open, migrated state database: an engine plus transactional sessions."""

    def __init__(self, engine: Engine, url_redacted: str) -> None:
        self.engine = engine
        self.url_redacted = url_redacted
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Database errors (including a failed commit) become ``StateError`` naming
        the database; other exceptions pass through unchanged after the rollback.
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            _rollback(session)
            raise StateError(f"state database {self.url_redacted}: {describe(exc)}") from exc
        except BaseException:
            _rollback(session)
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        """True when a trivial query succeeds (for /readyz); never raises."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{_READ_ONLY: True}).execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"StateDB({self.url_redacted})"


def _rollback(session: Session) -> None:
    # On a lost connection the rollback can fail too; the original error is the one to report.
    with contextlib.suppress(SQLAlchemyError):
        session.rollback()


def open_state(url: str, *, migrate: bool = True) -> StateDB:
    """Connect to the state database at ``url`` and (by default) migrate it to head."""
    parsed = _parse(url)
    shown = redact_db_url(parsed)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, shown)
    else:
        engine = _postgres_engine(parsed)
    db = StateDB(engine, shown)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True}).execute(text("SELECT 1"))
        if migrate:
            _upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = describe(exc)
        if parsed.password:
            reason = reason.replace(str(parsed.password), "***")
        raise StateError(f"cannot open state database {shown}: {reason}") from exc
    except StateError:
        engine.dispose()
        raise
    return db


def redact_db_url(url: URL) -> str:
    """The URL as text: a user-info password shown as ``***``, password query arguments dropped."""
    query = {k: v for k, v in url.query.items() if "password" not in k.lower()}
    return url.set(query=query).render_as_string(hide_password=True)


def describe(exc: BaseException) -> str:
    """The first line of the driver's own message: the cause without SQL or traceback."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StateError(
            f"invalid state database URL {_scheme_only(url)!r}: expected "
            "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    if parsed.drivername in _POSTGRES_DRIVERS:
        # psycopg 3 is the driver installed; plain postgresql:// would mean psycopg2.
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in _SQLITE_DRIVERS:
        raise StateError(
            f"unsupported state database {redact_db_url(parsed)}: scheme "
            f"{parsed.drivername!r} is not supported (use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB)"
        )
    return parsed


def _scheme_only(url: str) -> str:
    """Enough of an unparseable URL to recognise it, never its credentials."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://…" if sep else "<no scheme>"


def _sqlite_engine(url: URL, shown: str) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise StateError(
            f"cannot use state database {shown}: an in-memory SQLite database keeps "
            "nothing between runs; give a file, e.g. sqlite:///driftwatch.db"
        )
    parent = Path(database).expanduser().parent
    if not parent.is_dir():
        raise StateError(f"cannot open state database {shown}: directory {parent} does not exist")
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module; _sqlite_on_begin issues BEGIN.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL cannot corrupt the file; an OS crash may lose only the last commits.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a read-then-write transaction can
    # then never fail with SQLITE_BUSY half-way because another writer got in first.
    read_only = conn.get_execution_options().get(_READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    # pre_ping: a daemon outlives database restarts; stale pooled connections are replaced.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """The Alembic configuration of the packaged migrations, optionally bound to a connection."""
    cfg = AlembicConfig(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(engine: Engine) -> None:
    """``alembic upgrade head`` in one transaction, serialised across replicas."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Released at commit; a second replica waits here, then finds the schema at head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg = alembic_config(conn)
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and _unknown_revision(cfg, current):
            raise StateError(
                f"cannot open state database {redact_db_url(engine.url)}: its schema is at "
                f"revision {current!r}, which this driftwatch does not know (written by a "
                "newer release?); upgrade driftwatch or use another state_url"
            )
        try:
            command.upgrade(cfg, "head")
        except SQLAlchemyError:
            raise
        except Exception as exc:
            raise StateError(
                f"cannot migrate state database {redact_db_url(engine.url)}: {exc}"
            ) from exc


def _unknown_revision(cfg: AlembicConfig, revision: str) -> bool:
    try:
        ScriptDirectory.from_config(cfg).get_revision(revision)
    except AlembicError:
        return True
    return False

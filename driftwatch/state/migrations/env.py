"""Alembic environment of the state database.

driftwatch itself calls ``alembic upgrade`` with an open connection in
``config.attributes["connection"]`` (see ``driftwatch.state.db``), already inside
a transaction that holds the migration lock. Run from the alembic command line,
the database comes from ``-x url=...``; ``--sql`` renders the SQL offline.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from driftwatch.state.models import Base

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the state database with: alembic -x url=DATABASE_URL ...")
    return url


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copy-and-move; batch mode writes migrations that way.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _migrate(given)
else:
    with create_engine(_url()).connect() as standalone:
        _migrate(standalone)

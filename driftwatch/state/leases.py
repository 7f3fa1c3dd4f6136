"""Job leases: replicas sharing one state database run each scheduled job once per period.

Before a scheduled run, a replica calls ``try_acquire(db, job, me, ttl)``. One
atomic upsert decides: the lease is taken if nobody holds it, if its holder's
lease has expired, or if the caller already holds it (renewal). Every other
replica gets False and skips the run. The daemon uses a ttl a little shorter
than the job's interval and does not release after a run, so the next period
is open to whichever replica comes first. Expiry uses each replica's own UTC
clock; skew of a few seconds only shifts when a lease frees up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite

from driftwatch.state.db import StateDB
from driftwatch.state.models import JobLeaseRow


def try_acquire(db: StateDB, name: str, owner: str, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``owner`` until now + ``ttl``; True if held."""
    now = datetime.now(UTC)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(JobLeaseRow).values(name=name, owner=owner, expires_at=now + ttl)
    statement = insert.on_conflict_do_update(
        index_elements=[JobLeaseRow.name],
        set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at},
        where=or_(JobLeaseRow.expires_at <= now, JobLeaseRow.owner == owner),
    ).returning(JobLeaseRow.owner)
    with db.session() as session:
        return session.execute(statement).first() is not None


def release(db: StateDB, name: str, owner: str) -> None:
    """Give up the lease early; does nothing if ``owner`` does not hold it."""
    with db.session() as session:
        session.execute(
            delete(JobLeaseRow).where(JobLeaseRow.name == name, JobLeaseRow.owner == owner)
        )

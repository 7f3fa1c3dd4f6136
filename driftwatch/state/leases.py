"""Job leases: replicas sharing one state database run each scheduled job once per period.

Before a scheduled run, a replica calls ``try_acquire(db, job, me, ttl)``. One
atomic upsert decides: the lease is taken if nobody holds it, if its holder's
lease has expired, if its holder is a dead process on this host (state/owner.py:
a restarted daemon takes its predecessor's leases at once instead of waiting up
to one interval), or if the caller already holds it (renewal). Every other
replica gets False and skips the run. The daemon uses a ttl a little shorter
than the job's interval and does not release after a run, so the next period
is open to whichever replica comes first. Expiry uses each replica's own UTC
clock; skew of a few seconds only shifts when a lease frees up.

A lease that cannot be written (full disk, database down) raises StateError;
the daemon then runs the job locally rather than skip it (daemon.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from driftwatch.state.db import StateDB
from driftwatch.state.models import JobLeaseRow
from driftwatch.state.owner import owner_dead

log = logging.getLogger(__name__)


def try_acquire(db: StateDB, name: str, owner: str, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``owner`` until now + ``ttl``; True if held."""
    now = datetime.now(UTC)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(JobLeaseRow).values(name=name, owner=owner, expires_at=now + ttl)
    with db.session() as session:
        holder = session.scalar(
            select(JobLeaseRow.owner).where(
                JobLeaseRow.name == name,
                JobLeaseRow.expires_at > now,
                JobLeaseRow.owner != owner,
            )
        )
        free = or_(JobLeaseRow.expires_at <= now, JobLeaseRow.owner == owner)
        dead = holder is not None and owner_dead(holder)
        if dead:
            # Only that dead holder's row: a live replica that took it meanwhile keeps it.
            free = or_(free, JobLeaseRow.owner == holder)
        statement = insert.on_conflict_do_update(
            index_elements=[JobLeaseRow.name],
            set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at},
            where=free,
        ).returning(JobLeaseRow.owner)
        taken = session.execute(statement).first() is not None
    if taken and dead:
        log.info(
            "took over job lease %s from %s, a process on this host that is gone",
            name,
            holder,
            extra={"event": "lease_reclaimed", "job": name},
        )
    return taken


def release(db: StateDB, name: str, owner: str) -> None:
    """Give up the lease early; does nothing if ``owner`` does not hold it."""
    with db.session() as session:
        session.execute(
            delete(JobLeaseRow).where(JobLeaseRow.name == name, JobLeaseRow.owner == owner)
        )


HEARTBEAT = "heartbeat:"


def heartbeat(db: StateDB, owner: str, ttl: timedelta) -> None:
    """Write this process's heartbeat row and drop expired ones: the daemon's state probe.

    It always writes (an unconditional upsert), so a database that can no longer
    take writes fails here even when no check is due.
    """
    now = datetime.now(UTC)
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    name = HEARTBEAT + owner
    insert = dialect.insert(JobLeaseRow).values(name=name, owner=owner, expires_at=now + ttl)
    with db.session() as session:
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[JobLeaseRow.name],
                set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at},
            )
        )
        session.execute(
            delete(JobLeaseRow).where(
                JobLeaseRow.name.startswith(HEARTBEAT, autoescape=True),
                JobLeaseRow.expires_at < now,
            )
        )

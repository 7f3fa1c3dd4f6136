"""Migration rows in the state DB: the cutover switch (with history) and run progress.

A switch row is written by ``cutover`` (active) and ``rollback`` (which
deactivates it and records itself); at most one row per collection is active,
and it alone decides what is monitored (``migrate.routing``). Run rows are
progress reports for ``status`` and the daemon; correctness never depends on
them (green is diffed against blue on every run).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from driftwatch.state.db import StateDB
from driftwatch.state.models import MigrationRunRow, MigrationSwitchRow


@dataclass(frozen=True)
class Switch:
    collection: str
    action: str
    store: str
    target: str
    embedder: str
    model: str
    at: datetime
    active: bool
    detail: dict[str, Any]


def _switch(row: MigrationSwitchRow) -> Switch:
    return Switch(
        collection=row.collection,
        action=row.action,
        store=row.store,
        target=row.target,
        embedder=row.embedder,
        model=row.model,
        at=row.at,
        active=row.active,
        detail=dict(row.detail or {}),
    )


def active_switch(db: StateDB, collection: str) -> Switch | None:
    """The cutover in force for ``collection`` (blue's configured name), if any."""
    query = (
        select(MigrationSwitchRow)
        .where(MigrationSwitchRow.collection == collection, MigrationSwitchRow.active)
        .order_by(MigrationSwitchRow.id.desc())
        .limit(1)
    )
    with db.session() as session:
        row = session.scalars(query).first()
        return None if row is None else _switch(row)


def switch_history(db: StateDB, collection: str) -> list[Switch]:
    query = (
        select(MigrationSwitchRow)
        .where(MigrationSwitchRow.collection == collection)
        .order_by(MigrationSwitchRow.id)
    )
    with db.session() as session:
        return [_switch(row) for row in session.scalars(query)]


def record_switch(
    db: StateDB,
    collection: str,
    action: str,
    *,
    store: str,
    target: str,
    embedder: str,
    model: str,
    detail: dict[str, Any],
) -> None:
    """Deactivate the collection's switch and record this one (active if a cutover)."""
    with db.session() as session:
        session.execute(
            update(MigrationSwitchRow)
            .where(MigrationSwitchRow.collection == collection, MigrationSwitchRow.active)
            .values(active=False)
        )
        session.add(
            MigrationSwitchRow(
                collection=collection,
                action=action,
                store=store,
                target=target,
                embedder=embedder,
                model=model,
                at=datetime.now(UTC),
                active=action == "cutover",
                detail=detail,
            )
        )


@dataclass(frozen=True)
class RunProgress:
    id: int
    collection: str
    pid: int
    host: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    status: str
    todo: int
    embedded: int
    deleted: int
    error: str | None

    @property
    def alive(self) -> bool:
        """Still running: unfinished and its process exists (a SIGKILLed run is not)."""
        if self.finished_at is not None or self.status != "running":
            return False
        if self.host != socket.gethostname():
            return True  # cannot tell from here; trust the row
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @property
    def rate(self) -> float | None:
        """Records per second written by this run so far."""
        seconds = (self.updated_at - self.started_at).total_seconds()
        return self.embedded / seconds if seconds > 0 and self.embedded else None


def start_run(db: StateDB, collection: str, target: str, model: str) -> int:
    now = datetime.now(UTC)
    row = MigrationRunRow(
        collection=collection,
        target=target,
        model=model,
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=now,
        updated_at=now,
        finished_at=None,
        status="running",
        todo=0,
        embedded=0,
        deleted=0,
        error=None,
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        return row.id


def update_run(db: StateDB, run_id: int, **values: Any) -> None:
    """Set progress columns; ``status`` other than running also sets finished_at."""
    now = datetime.now(UTC)
    values["updated_at"] = now
    if values.get("status", "running") != "running":
        values["finished_at"] = now
    with db.session() as session:
        session.execute(
            update(MigrationRunRow).where(MigrationRunRow.id == run_id).values(**values)
        )


def last_run(db: StateDB, collection: str) -> RunProgress | None:
    query = (
        select(MigrationRunRow)
        .where(MigrationRunRow.collection == collection)
        .order_by(MigrationRunRow.id.desc())
        .limit(1)
    )
    with db.session() as session:
        row = session.scalars(query).first()
        if row is None:
            return None
        return RunProgress(
            id=row.id,
            collection=row.collection,
            pid=row.pid,
            host=row.host,
            started_at=row.started_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
            status=row.status,
            todo=row.todo,
            embedded=row.embedded,
            deleted=row.deleted,
            error=row.error,
        )

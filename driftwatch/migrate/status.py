"""``migrate status``: how far green is, and whether the switch is in force.

``done + missing + stale == total`` (blue's records with text). ``complete``
also needs no orphans (green copies of records deleted in blue), and nothing
left of green's load (``unfinished_load``: a pgvector green's index, built when
a run leaves every record written). While a run
is going (its process alive), the rate it writes at and the ETA for what is
left are shown too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftwatch.migrate.diff import diff_collections
from driftwatch.migrate.spec import Endpoints
from driftwatch.migrate.state import Switch, active_switch, last_run
from driftwatch.state.db import StateDB


@dataclass(frozen=True)
class MigrationStatus:
    collection: str
    target: str
    target_exists: bool
    total: int
    done: int
    missing: int
    stale: int
    orphaned: int
    without_text: int
    without_text_ids: list[str]
    running: bool
    rate: float | None  # records/s of the running run
    eta_seconds: float | None
    last_run: str | None  # status of the last run: running|complete|incomplete|failed
    last_error: str | None
    switch: Switch | None
    unfinished_load: str | None = None  # why green cannot serve queries yet (its index)

    @property
    def complete(self) -> bool:
        records = not self.missing and not self.stale and not self.orphaned
        return self.target_exists and records and self.unfinished_load is None

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "target": self.target,
            "target_exists": self.target_exists,
            "total": self.total,
            "done": self.done,
            "missing": self.missing,
            "stale": self.stale,
            "orphaned": self.orphaned,
            "without_text": self.without_text,
            "without_text_ids": self.without_text_ids,
            "unfinished_load": self.unfinished_load,
            "complete": self.complete,
            "running": self.running,
            "rate": self.rate,
            "eta_seconds": self.eta_seconds,
            "last_run": self.last_run,
            "last_error": self.last_error,
            "cutover": None
            if self.switch is None
            else {
                "store": self.switch.store,
                "target": self.switch.target,
                "embedder": self.switch.embedder,
                "model": self.switch.model,
                "at": self.switch.at.isoformat(),
            },
        }


def migration_status(endpoints: Endpoints, db: StateDB | None) -> MigrationStatus:
    spec = endpoints.spec
    green = endpoints.green()
    diff = diff_collections(endpoints.blue(), green)
    run = last_run(db, spec.blue.name) if db is not None else None
    running = run is not None and run.alive
    rate = run.rate if running and run is not None else None
    left = len(diff.missing) + len(diff.stale)
    return MigrationStatus(
        collection=spec.blue.name,
        target=spec.migration.target,
        target_exists=green is not None,
        total=diff.total,
        done=diff.done,
        missing=len(diff.missing),
        stale=len(diff.stale),
        orphaned=len(diff.orphaned),
        without_text=diff.without_text,
        without_text_ids=diff.without_text_ids,
        running=running,
        rate=rate,
        eta_seconds=left / rate if rate else None,
        last_run=None if run is None else ("interrupted" if _killed(run) else run.status),
        last_error=None if run is None else run.error,
        switch=active_switch(db, spec.blue.name) if db is not None else None,
        unfinished_load=None if green is None else green.unfinished_load(),
    )


def _killed(run: Any) -> bool:
    """A row still saying running whose process is gone: killed (SIGKILL, OOM, power)."""
    return bool(run.status == "running" and not run.alive)

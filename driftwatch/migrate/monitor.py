"""What the daemon measures of a migration, every ``migration.status_every``.

One observation: blue against green (``migrate.status``) and the cutover gate's
verdict (which runs the consistency check on green with the candidate and
compares canary recall), exported by ``metrics.MigrationCollector``. The
stalled and falling-behind alerts are built on these gauges.
"""

from __future__ import annotations

import time

from driftwatch.embedders import EmbedderPool
from driftwatch.metrics import MigrationObservation
from driftwatch.migrate.gate import evaluate_gate
from driftwatch.migrate.spec import Endpoints, MigrationSpec
from driftwatch.migrate.status import migration_status
from driftwatch.state.db import StateDB


def observe(
    spec: MigrationSpec, db: StateDB, embedders: EmbedderPool | None = None
) -> MigrationObservation:
    """Measure the migration now; raises StoreError/EmbedderError/StateError.

    ``embedders``: the daemon's pool, so that each model is loaded once per process.
    """
    with Endpoints(spec, embedders) as endpoints:
        status = migration_status(endpoints, db)
        consistency: float | None = None
        ready = False
        if status.switch is None and status.target_exists:
            decision = evaluate_gate(endpoints, db, status=status)
            ready = decision.allowed
            value = (decision.consistency or {}).get("value")
            consistency = None if value is None else float(value)
    return MigrationObservation(
        collection=spec.blue.name,
        total=status.total,
        done=status.done,
        missing=status.missing,
        stale=status.stale,
        green_consistency=consistency,
        cutover_ready=ready or status.switch is not None,
        cut_over=status.switch is not None,
        observed_at=time.time(),
    )

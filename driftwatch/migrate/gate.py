"""``migrate cutover`` (the gate) and ``migrate rollback``.

The gate allows a cutover only when all of these hold, and otherwise lists
every one that does not:

1. green is complete: nothing missing, stale or orphaned, blue has no
   record without text (such a record would vanish from the application's
   results after the switch), and green has the index its store builds once
   loaded (pgvector);
2. green is consistent with the candidate: the consistency check, run on
   green with the candidate embedder, is "ok";
3. the candidate's canary recall on green is no worse than the current
   model's on blue, beyond ``migration.cutover_tolerance`` (canaries need
   ``expect`` ids for this; without any, the gate cannot compare and says so).

When it passes, the switch is recorded in the state DB (``migrate.routing``
then routes check/run/status to green with the candidate) and a baseline of
green is captured. Rollback records the way back; blue and its baselines were
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from statistics import fmean
from typing import Any

import numpy as np

from driftwatch.checks.base import CheckContext
from driftwatch.checks.consistency import check_consistency
from driftwatch.embedders.base import Embedder
from driftwatch.errors import DriftwatchError
from driftwatch.migrate.spec import Endpoints
from driftwatch.migrate.state import active_switch, record_switch
from driftwatch.migrate.status import MigrationStatus, migration_status
from driftwatch.redact import redact_url
from driftwatch.state.db import StateDB
from driftwatch.stats.ranking import recall_at_k
from driftwatch.stores.base import CollectionHandle


@dataclass
class GateDecision:
    """The gate's verdict with the facts it rests on.

    ``to_json`` has the same keys in every case (refused early, allowed, already
    cut over), so that a consumer never has to guess which ones are there: a fact
    the gate did not measure this time is null.
    """

    allowed: bool
    status: MigrationStatus
    reasons: list[str] = field(default_factory=list)
    consistency: dict[str, Any] | None = None
    canary_recall: dict[str, Any] | None = None
    application_change: str | None = None
    already: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reasons": self.reasons,
            "already_cut_over": self.already,
            "application_change": self.application_change,
            **self.status.to_json(),
            "consistency": self.consistency,
            "canary_recall": self.canary_recall,
        }


def canary_recall(
    handle: CollectionHandle, embedder: Embedder, canaries: list[Any], k: int
) -> float | None:
    """Mean recall@k of the canaries that list expected ids; None if none does."""
    with_expect = [c for c in canaries if c.expect]
    if not with_expect:
        return None
    vectors = embedder.embed([c.query for c in with_expect])
    hits = handle.query(np.asarray(vectors, dtype=np.float32), k)
    return fmean(recall_at_k(h.ids, c.expect, k) for c, h in zip(with_expect, hits, strict=True))


def evaluate_gate(
    endpoints: Endpoints, db: StateDB, seed: int = 0, status: MigrationStatus | None = None
) -> GateDecision:
    """The gate's verdict, without acting on it (``status``: measured already, if given)."""
    spec = endpoints.spec
    decision = GateDecision(allowed=False, status=status or migration_status(endpoints, db))
    if decision.status.switch is not None:
        # In force already: the gate is not run again, the state is reported.
        decision.allowed, decision.already = True, True
        decision.application_change = application_change(endpoints)
        return decision
    status = decision.status
    reasons = decision.reasons
    if not status.target_exists:
        reasons.append(f"green collection {spec.migration.target!r} does not exist: run it first")
        return decision
    if status.missing:
        reasons.append(f"{status.missing} record(s) of blue are missing from green")
    if status.stale:
        reasons.append(f"{status.stale} record(s) in green are stale (blue's text changed)")
    if status.orphaned:
        reasons.append(f"{status.orphaned} record(s) in green were deleted in blue")
    if status.without_text:
        shown = ", ".join(status.without_text_ids)
        reasons.append(
            f"{status.without_text} record(s) in blue have no text and cannot be re-embedded "
            f"(e.g. {shown}); they would be missing after the switch"
        )
    if status.unfinished_load:  # queries would scan every row after the switch
        reasons.append(status.unfinished_load)
    green = endpoints.green()
    if green is None:  # deleted between status and here
        reasons.append(f"green collection {spec.migration.target!r} disappeared")
        return decision
    candidate = endpoints.candidate()
    ctx = CheckContext(
        collection=spec.green(),
        store=green,
        embedder=candidate,
        rng=np.random.default_rng(seed),
        check="consistency",
    )
    consistency = check_consistency(ctx)
    decision.consistency = {"status": consistency.status, "value": consistency.value}
    if consistency.status != "ok":
        reasons.append(f"green is not consistent with {candidate.model!r}: {consistency.message}")
    k = spec.blue.top_k
    current_recall = canary_recall(endpoints.blue(), endpoints.current(), spec.blue.canaries, k)
    candidate_recall = canary_recall(green, candidate, spec.blue.canaries, k)
    tolerance = spec.migration.cutover_tolerance
    decision.canary_recall = {
        "current": current_recall,
        "candidate": candidate_recall,
        "tolerance": tolerance,
    }
    if current_recall is None or candidate_recall is None:
        reasons.append(
            "no canary lists expected ids (expect:), so the candidate's recall cannot be "
            "compared with the current model's"
        )
    elif candidate_recall < current_recall - tolerance:
        reasons.append(
            f"canary recall@{k} of {candidate.model!r} on green is {candidate_recall:.3f}, "
            f"below the current model's {current_recall:.3f} minus tolerance {tolerance}"
        )
    decision.allowed = not reasons
    if decision.allowed:
        decision.application_change = application_change(endpoints)
    return decision


def cutover(endpoints: Endpoints, db: StateDB, seed: int = 0) -> GateDecision:
    """Run the gate; when it passes, record the switch and capture green's baseline."""
    decision = evaluate_gate(endpoints, db, seed)
    if not decision.allowed or decision.already:
        return decision
    spec = endpoints.spec
    candidate = endpoints.candidate()
    record_switch(
        db,
        spec.blue.name,
        "cutover",
        store=spec.target_store,
        target=spec.migration.target,
        embedder=spec.migration.to,
        model=candidate.model,
        detail={"canary_recall": decision.canary_recall, "consistency": decision.consistency},
    )
    # The status was measured before the switch: it must show the one just recorded.
    decision.status = replace(decision.status, switch=active_switch(db, spec.blue.name))
    _capture_green_baseline(endpoints, db)
    return decision


def _capture_green_baseline(endpoints: Endpoints, db: StateDB) -> None:
    from driftwatch.checks.baseline import capture_baseline
    from driftwatch.state.baselines import save_baseline

    green = endpoints.green()
    if green is None:
        raise DriftwatchError("green disappeared during the cutover")
    ctx = CheckContext(
        collection=endpoints.spec.green(),
        store=green,
        embedder=endpoints.candidate(),
        check="baseline",
    )
    save_baseline(db, capture_baseline(ctx))


def rollback(endpoints: Endpoints, db: StateDB) -> bool:
    """Monitoring back to blue and the current embedder; False if no cutover was in force."""
    spec = endpoints.spec
    if active_switch(db, spec.blue.name) is None:
        return False
    record_switch(
        db,
        spec.blue.name,
        "rollback",
        store=spec.blue.store,
        target=spec.blue.name,
        embedder=spec.blue.embedder,
        model=spec.current.model,
        detail={"from": spec.migration.target},
    )
    return True


def application_change(endpoints: Endpoints) -> str:
    """What the application must change to follow the cutover."""
    spec = endpoints.spec
    store = spec.config.stores[spec.target_store]
    url = getattr(store, "url", None)
    where = redact_url(url) if url else getattr(store, "path", None) or spec.target_store
    return (
        f"point the application at collection {spec.migration.target!r} in store "
        f"{spec.target_store!r} ({where}) instead of {spec.blue.name!r}, and embed its queries "
        f"and new documents with {spec.candidate.model!r} (embedder {spec.migration.to!r}); "
        f"keep {spec.blue.name!r} until you are sure: `driftwatch migrate rollback` goes back"
    )

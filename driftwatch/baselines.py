"""The baseline workflow: which known-good state the checks compare with, and when
driftwatch may capture one by itself.

One place decides it for the daemon, ``driftwatch check`` and ``driftwatch
baseline`` (the rule is documented in docs/checks.md, "Baselines"):

- an active, complete baseline is used as it is;
- an incomplete one (captured while the collection held fewer than ``top_k``
  records) is completed as soon as the collection holds enough, from the
  canary query vectors the baseline's model produced at capture, so a model
  swapped in the meantime is still caught (checks.baseline);
- with no active baseline, one is captured automatically only when the
  state DB has no history of the collection. If it holds verdicts of checks
  that compare with a baseline (so one existed), or the state DB reports that
  its history was lost while driftwatch ran, a
  baseline captured now could enshrine a model that has already drifted:
  automatic capture is refused, every check that needs a baseline reports
  "error" with the reason (DriftwatchCheckFailing), and a person decides with
  ``driftwatch baseline --force``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from driftwatch.checks.base import Baseline, CheckContext
from driftwatch.checks.baseline import (
    can_complete,
    capture_baseline,
    complete_baseline,
    incomplete_reason,
    same_embedder,
)
from driftwatch.checks.registry import CHECKS
from driftwatch.errors import DriftwatchError
from driftwatch.state import baselines as baseline_repo
from driftwatch.state import results as result_repo

if TYPE_CHECKING:
    from driftwatch.config import CollectionConfig
    from driftwatch.metrics import DriftwatchMetrics
    from driftwatch.pools import Pools
    from driftwatch.state.db import StateDB
    from driftwatch.stores.base import CollectionHandle

log = logging.getLogger(__name__)

Action = Literal[
    "existing", "captured", "completed", "recaptured", "incomplete", "refused", "failed"
]


@dataclass(frozen=True)
class BaselineOutcome:
    """What the workflow did for one collection, and the baseline the checks get."""

    action: Action
    baseline: Baseline | None
    message: str = ""

    @property
    def blocks(self) -> bool:
        """True when the checks that need a baseline cannot judge and must say why."""
        return self.baseline is None and self.action in ("refused", "failed")

    @property
    def news(self) -> bool:
        """True when something happened this cycle that the results should mention."""
        return self.action in ("captured", "completed", "recaptured")


class BaselineKeeper:
    """Reads, captures and completes baselines in one state DB (thread-safe).

    ``auto_capture=False`` only reads: the demo's simulated swap must never take
    the swapped model's view as the known-good state.
    """

    def __init__(
        self,
        pools: Pools,
        db: StateDB,
        metrics: DriftwatchMetrics | None = None,
        *,
        auto_capture: bool = True,
    ) -> None:
        self._pools = pools
        self._db = db
        self._metrics = metrics
        self._auto_capture = auto_capture
        self._lock = threading.Lock()

    # --- the automatic path (daemon, `driftwatch check`) ---------------------

    def ensure(
        self, coll: CollectionConfig, handle: CollectionHandle | None = None
    ) -> BaselineOutcome:
        """The baseline to judge ``coll`` with, captured or completed first if the rule allows."""
        with self._lock:
            try:
                active = baseline_repo.active_baseline(self._db, coll.name)
                if active is not None:
                    if not self._auto_capture or incomplete_reason(active, coll) is None:
                        return BaselineOutcome("existing", active)
                    return self._complete(coll, active, handle)
                if not self._auto_capture:
                    return BaselineOutcome("existing", None)
                refusal = self._history(coll)
                if refusal is not None:
                    return self._refused(coll, refusal)
                return self._capture(coll, handle)
            except DriftwatchError as exc:
                log.error(
                    "cannot establish the baseline of %s: %s",
                    coll.name,
                    exc,
                    extra={"event": "baseline_failed", "collection": coll.name},
                )
                return BaselineOutcome(
                    "failed", None, f"cannot establish the baseline of {coll.name!r}: {exc}"
                )

    # --- the explicit path (`driftwatch baseline [--force]`) -----------------

    def capture(self, coll: CollectionConfig, force: bool = False) -> BaselineOutcome:
        """Capture a baseline on request; raises StoreError / EmbedderError / StateError.

        Without ``force`` an existing baseline is kept, and a collection with
        history but no baseline is refused (the person running it decides with --force).
        """
        with self._lock:
            active = baseline_repo.active_baseline(self._db, coll.name)
            if active is not None and not force:
                return BaselineOutcome(
                    "existing", active, f"{coll.name}: a baseline exists; use --force to replace it"
                )
            if active is None and not force:
                refusal = self._history(coll)
                if refusal is not None:
                    return self._refused(coll, refusal)
            return self._capture(coll, None)

    # --- steps -------------------------------------------------------------------

    def _history(self, coll: CollectionConfig) -> str | None:
        """Why capturing now could hide drift, or None when the collection is new to the state."""
        if self._db.lost_history:
            return (
                "the state database was lost or replaced while driftwatch ran, so its "
                f"history of {coll.name!r} is gone"
            )
        judged = [name for name, spec in CHECKS.items() if spec.needs_baseline]
        since = result_repo.first_judged_at(self._db, coll.name, judged)
        if since is not None:
            return (
                f"the state database holds verdicts on {coll.name!r} judged against a "
                f"baseline since {since:%Y-%m-%d %H:%M} UTC, but that baseline is gone"
            )
        return None

    def _refused(self, coll: CollectionConfig, why: str) -> BaselineOutcome:
        message = (
            f"no baseline captured automatically: {why}; the live model may already have "
            "drifted, and a baseline taken now would hide it. Check the consistency and "
            "version_mix results, then run `driftwatch baseline --collection "
            f"{coll.name} --force`"
        )
        log.error(message, extra={"event": "baseline_refused", "collection": coll.name})
        return BaselineOutcome("refused", None, message)

    def _context(self, coll: CollectionConfig, handle: CollectionHandle | None) -> CheckContext:
        handle = handle if handle is not None else self._pools.collection(coll)
        embedder = self._pools.embedder_for(coll, handle)
        return CheckContext(collection=coll, store=handle, embedder=embedder, check="baseline")

    def _capture(self, coll: CollectionConfig, handle: CollectionHandle | None) -> BaselineOutcome:
        baseline = self._save(capture_baseline(self._context(coll, handle)))
        message = f"baseline captured with {baseline.model}"
        reason = incomplete_reason(baseline, coll)
        if reason is not None:
            message += f"; {reason}"
        log.info(
            message,
            extra={"event": "baseline_captured", "collection": coll.name, "model": baseline.model},
        )
        return BaselineOutcome("captured", baseline, message)

    def _complete(
        self, coll: CollectionConfig, active: Baseline, handle: CollectionHandle | None
    ) -> BaselineOutcome:
        ctx = self._context(coll, handle)
        reason = incomplete_reason(active, coll) or ""
        records = ctx.store.count()
        if records < coll.top_k:
            return BaselineOutcome("incomplete", active, reason)
        if can_complete(active, coll):
            done = self._save(complete_baseline(active, coll, ctx.store))
            message = (
                f"baseline completed: canary results added now that {coll.name!r} holds "
                f"{records} records, from the queries as {active.model!r} embedded them at capture"
            )
            log.info(message, extra={"event": "baseline_completed", "collection": coll.name})
            return BaselineOutcome("completed", done, message)
        # A baseline from before canary vectors were kept: only an unchanged model may redo it.
        same, lowest = same_embedder(ctx, active)
        if not same:
            message = (
                f"{reason}; not re-captured automatically: the live embedder no longer "
                f"reproduces the baseline's fingerprint (lowest cosine {lowest:.4f}); verify the "
                f"model, then run `driftwatch baseline --collection {coll.name} --force`"
            )
            log.error(message, extra={"event": "baseline_refused", "collection": coll.name})
            return BaselineOutcome("incomplete", active, message)
        new = self._save(capture_baseline(ctx))
        message = (
            f"incomplete baseline re-captured now that {coll.name!r} holds {records} records "
            f"(the live embedder still reproduces its fingerprint, lowest cosine {lowest:.6f})"
        )
        log.info(message, extra={"event": "baseline_recaptured", "collection": coll.name})
        return BaselineOutcome("recaptured", new, message)

    def _save(self, baseline: Baseline) -> Baseline:
        saved = replace(baseline, id=baseline_repo.save_baseline(self._db, baseline))
        if self._metrics is not None:
            self._metrics.record_baseline(
                saved.collection, saved.model, saved.created_at.timestamp()
            )
        return saved

"""One place where checks run: open what they need, run them, hand the results on.

    scheduler / CLI -> Runner.run(collection, checks) -> check(ctx) -> CheckResult
                    -> sinks given at construction (metrics, state DB history, notifier)
                    -> the results, returned

Everything about a check comes from its spec (checks.registry): whether it
needs the baseline (obtained through baselines.BaselineKeeper, which may
capture or complete it first), and whether it feeds or judges the score
window. A window the newest probe added no scores to is handed over with the
reason (CheckContext.missing_scores), so that stored scores of earlier probes
are never judged as if the probe still worked. A check that raises becomes an
"error" CheckResult naming the cause; the runner itself never raises for a
failing store, embedder, check or sink.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from driftwatch.baselines import BaselineKeeper, BaselineOutcome
from driftwatch.checks.base import CheckContext, CheckResult, CheckSpec, MissingScores
from driftwatch.checks.registry import CHECKS, SCORE_SOURCE
from driftwatch.config import CollectionConfig, Config
from driftwatch.embedders.counting import CountingEmbedder
from driftwatch.errors import DriftwatchError, StateError, StoreError
from driftwatch.pools import Pools
from driftwatch.redact import scrub
from driftwatch.sinks import ResultSink, StateSink, record_everywhere
from driftwatch.state import results as result_repo
from driftwatch.state.db import StateDB, open_state
from driftwatch.stores.base import ProgressCallback

log = logging.getLogger(__name__)

# Results that ran to the end and carry their evidence.
_COMPLETED = ("ok", "warning", "drift")

# A score source whose newest run is older than this many of its intervals has stopped
# running (a hung job, a stopped daemon): its window describes a past that may be gone.
_STALE_AFTER_INTERVALS = 3


@dataclass
class Runner:
    """Runs checks for the config's collections; cheap to build around long-lived pools.

    ``state`` is read (the score window of earlier runs); ``baselines`` gives each
    collection its baseline (None: checks that need one say "unavailable");
    ``sinks`` receive every run's results.
    """

    config: Config
    pools: Pools
    state: StateDB | None = None
    baselines: BaselineKeeper | None = None
    sinks: Sequence[ResultSink] = ()
    progress: ProgressCallback | None = None

    def checks_for(self, coll: CollectionConfig) -> list[str]:
        return [name for name in CHECKS if coll.checks is None or name in coll.checks]

    def run(self, coll: CollectionConfig, checks: Sequence[str] | None = None) -> list[CheckResult]:
        """Run the named checks (default: all configured) on one collection, in CHECKS order;
        the results go to every sink and are returned."""
        wanted = [CHECKS[c] for c in self.checks_for(coll) if checks is None or c in checks]
        results = self._run(coll, wanted)
        for result in results:
            # An error (store unreachable, embedder down) is worth a WARNING, not INFO.
            log.log(
                logging.WARNING if result.status == "error" else logging.INFO,
                result.message,
                extra={
                    "event": "check_finished",
                    "collection": result.collection,
                    "check": result.check,
                    "status": result.status,
                    "value": result.value,
                    "duration_s": round(result.duration_s, 3),
                },
            )
        record_everywhere(self.sinks, results)
        return results

    def _run(self, coll: CollectionConfig, wanted: list[CheckSpec]) -> list[CheckResult]:
        try:
            handle = self.pools.collection(coll)
        except StoreError as exc:
            # The exception's own name: StoreUnavailable makes driftwatch_store_up 0.
            return [_error(coll, spec.name, str(exc), type(exc).__name__) for spec in wanted]
        outcome = BaselineOutcome("existing", None)
        if self.baselines is not None and any(s.needs_baseline for s in wanted):
            outcome = self.baselines.ensure(coll, handle)
        embedder = self.pools.embedder_for(coll, handle)
        recent: list[float] = []
        missing: MissingScores | None = None
        if any(s.needs_scores for s in wanted):
            # When this run feeds the window too, its own result decides what is missing.
            fed_now = any(s.provides_scores for s in wanted)
            recent, missing = self._score_window(coll, stored_outcome=not fed_now)
        results = []
        for spec in wanted:
            if spec.needs_baseline and outcome.blocks:
                results.append(_error(coll, spec.name, outcome.message, "BaselineUnavailable"))
                continue
            counting = CountingEmbedder(embedder)
            ctx = CheckContext(
                collection=coll,
                store=handle,
                embedder=counting,
                baseline=outcome.baseline if spec.needs_baseline else None,
                recent_scores=recent,
                missing_scores=missing,
                check=spec.name,
                progress=self.progress,
            )
            result = _run_one(spec, ctx)
            if counting.texts:  # what monitoring cost with a paid provider (metrics.py)
                cost = {"embedded_texts": counting.texts, "embedded_tokens": counting.tokens}
                result = replace(result, detail={**result.detail, **cost})
            if spec.needs_baseline and outcome.news:
                result = replace(result, message=scrub(f"{result.message} ({outcome.message})"))
            if spec.provides_scores:
                # This cycle's scores belong in the window the distribution check judges;
                # without them the window holds only the past.
                missing = _missing_scores(result, spec.provides_scores, stored=False)
                if missing is None:
                    recent = list(result.detail[spec.provides_scores]) + recent
            results.append(result)
        return results

    def _score_window(
        self, coll: CollectionConfig, stored_outcome: bool
    ) -> tuple[list[float], MissingScores | None]:
        """The scores of earlier probes from the state DB, and why the newest probe added
        none (None: it did). ``stored_outcome``: a run without the score source (the
        daemon runs each check on its own schedule) learns the latter from the source's
        newest stored result."""
        source = SCORE_SOURCE
        if source is None or source.provides_scores is None:
            return [], None
        if source.name not in self.checks_for(coll):
            # Scores stored before it was switched off would be judged forever.
            why = (
                f"the {source.name} check, which feeds the score window, is not configured "
                f"for collection {coll.name!r} (collections[].checks)"
            )
            return [], MissingScores("unavailable", why)
        if self.state is None:
            return [], None
        try:
            recent = result_repo.recent_scores(
                self.state, coll.name, source.name, source.provides_scores, coll.score_window
            )
            last = (
                result_repo.latest_result(self.state, coll.name, source.name)
                if stored_outcome
                else None
            )
        except StateError as exc:
            log.error("cannot read recent scores of %s: %s", coll.name, exc)
            why = f"cannot read the score window from the state DB: {exc}"
            return [], MissingScores("error", why, type(exc).__name__)
        if last is None:
            return recent, None
        interval = getattr(coll.schedule, source.schedule)
        age = datetime.now(UTC) - last.started_at
        if age > _STALE_AFTER_INTERVALS * interval:
            why = (
                f"the last {source.name} run, which feeds the score window, started "
                f"{_span(age)} ago (it runs every {_span(interval)}); the window "
                "holds only the past"
            )
            return [], MissingScores("unavailable", why)
        return recent, _missing_scores(last, source.provides_scores, stored=True)


def _run_one(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    try:
        return spec.function(ctx)
    except DriftwatchError as exc:
        return ctx.result("error", str(exc), error=type(exc).__name__)
    except Exception as exc:  # a bug in one check must not stop the others
        log.exception(
            "check crashed", extra={"collection": ctx.collection.name, "check": ctx.check}
        )
        return ctx.result(
            "error", f"internal error: {type(exc).__name__}: {exc}", error=type(exc).__name__
        )


def _missing_scores(source: CheckResult, key: str, *, stored: bool) -> MissingScores | None:
    """None if ``source`` (a run of the check feeding the score window) delivered scores,
    else why not. ``stored``: the source's newest run in the state DB, not this cycle's."""
    if source.status in _COMPLETED and source.detail.get(key):
        return None
    run = f"the last {source.check} run" if stored else source.check
    if source.status != "error":
        # It could not run here (empty collection, no canaries, other dimension): neither
        # can a verdict on its scores, and that is no error of driftwatch's.
        return MissingScores("unavailable", f"{run} gave none ({source.status}): {source.message}")
    why = f"{run} failed: {source.message}"
    if stored:
        # Its cause (StoreUnavailable, say) was that run's: this run reached the store, and
        # repeating the kind would mark the store down (daemon._store_seen).
        return MissingScores("error", why, "StaleScoreWindow")
    kind = source.detail.get("error")
    return MissingScores("error", why, kind if isinstance(kind, str) else None)


def _span(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _error(coll: CollectionConfig, check: str, message: str, kind: str) -> CheckResult:
    return CheckResult(
        check=check,
        collection=coll.name,
        status="error",
        value=None,
        threshold=None,
        detail={"error": kind},
        started_at=datetime.now(UTC),
        duration_s=0.0,
        message=scrub(message),  # a store error may carry what its server echoed
    )


@contextmanager
def runner_on_state(
    config: Config, progress: ProgressCallback | None = None
) -> Iterator[tuple[Runner, BaselineKeeper]]:
    """A Runner recording into the config's state DB, and its baseline keeper (for the CLI);
    pools and DB are closed at the end. Raises StateError if the state DB cannot be opened.
    """
    db = open_state(config.state_url)
    pools = Pools(config)
    try:
        keeper = BaselineKeeper(pools, db)
        yield Runner(config, pools, db, keeper, [StateSink(db)], progress), keeper
    finally:
        pools.close()
        db.close()

"""One place where checks run: open what they need, run them, record what they found.

    scheduler / CLI -> Runner.run(collection, checks) -> check(ctx) -> CheckResult
                    -> state DB (history), metrics, notifier

A check that raises becomes an "error" CheckResult naming the cause; the
runner itself never raises for a failing store, embedder, check or state DB.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from driftwatch.checks.base import Baseline, CheckContext, CheckResult
from driftwatch.checks.registry import CHECKS, NEEDS_BASELINE
from driftwatch.config import CollectionConfig, Config
from driftwatch.embedders import EmbedderPool
from driftwatch.errors import DriftwatchError, StateError, StoreError, StoreUnavailable
from driftwatch.state import baselines as baseline_repo
from driftwatch.state import results as result_repo
from driftwatch.state.db import open_state
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle, ProgressCallback, VectorStore

if TYPE_CHECKING:
    from driftwatch.embedders.base import Embedder
    from driftwatch.metrics import DriftwatchMetrics
    from driftwatch.notify.service import Notifier
    from driftwatch.state.db import StateDB

log = logging.getLogger(__name__)


class StorePool:
    """One client per configured store, reconnected after it fails."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._stores: dict[str, VectorStore] = {}
        self._lock = threading.Lock()

    def collection(self, store: str, name: str) -> CollectionHandle:
        with self._lock:
            if store not in self._stores:
                self._stores[store] = open_store(store, self._config.stores[store])
            client = self._stores[store]
        try:
            return client.open_collection(name)
        except StoreUnavailable:
            self.discard(store)
            raise

    def discard(self, store: str) -> None:
        with self._lock:
            client = self._stores.pop(store, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        for store in list(self._stores):
            self.discard(store)


class LazyEmbedder:
    """Builds the embedder on first use, so a check that needs none (version mix)
    still runs when the embedder endpoint is down."""

    def __init__(
        self, pool: EmbedderPool, name: str, model: str, collection: CollectionHandle
    ) -> None:
        self._pool, self._name, self._model, self._collection = pool, name, model, collection

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._pool.get(self._name, self._collection).embed(texts)

    def close(self) -> None:
        """The pool owns the embedder."""


@dataclass
class Runner:
    config: Config
    db: StateDB | None = None
    metrics: DriftwatchMetrics | None = None
    notifier: Notifier | None = None
    progress: ProgressCallback | None = None
    stores: StorePool = field(init=False)
    embedders: EmbedderPool = field(init=False)

    def __post_init__(self) -> None:
        self.stores = StorePool(self.config)
        self.embedders = EmbedderPool(self.config.embedders)

    def close(self) -> None:
        self.stores.close()
        self.embedders.close()

    # --- running checks ------------------------------------------------------

    def checks_for(self, coll: CollectionConfig) -> list[str]:
        return [name for name in CHECKS if coll.checks is None or name in coll.checks]

    def run(self, coll: CollectionConfig, checks: Sequence[str] | None = None) -> list[CheckResult]:
        """Run the named checks (default: all configured) on one collection, in CHECKS order."""
        wanted = [c for c in self.checks_for(coll) if checks is None or c in checks]
        try:
            handle = self.stores.collection(coll.store, coll.name)
        except StoreError as exc:
            results = [self._failed(coll, name, str(exc)) for name in wanted]
            self._record(results)
            return results

        baseline = self._baseline(coll) if any(c in NEEDS_BASELINE for c in wanted) else None
        embedder: Embedder = LazyEmbedder(
            self.embedders, coll.embedder, self.config.embedders[coll.embedder].model, handle
        )
        recent = self._recent_scores(coll) if "score_distribution" in wanted else []
        results = []
        for name in wanted:
            ctx = CheckContext(
                collection=coll,
                store=handle,
                embedder=embedder,
                baseline=baseline,
                recent_scores=recent,
                check=name,
                progress=self.progress,
            )
            result = self._run_one(ctx)
            if name == "canary" and result.status != "error":
                # This cycle's scores belong in the window the distribution check judges.
                recent = list(result.detail.get("scores") or []) + list(recent)
            results.append(result)
        self._record(results)
        return results

    def _run_one(self, ctx: CheckContext) -> CheckResult:
        try:
            return CHECKS[ctx.check](ctx)
        except DriftwatchError as exc:
            return ctx.result("error", str(exc), error=type(exc).__name__)
        except Exception as exc:  # a bug in one check must not stop the others
            log.exception(
                "check crashed", extra={"collection": ctx.collection.name, "check": ctx.check}
            )
            return ctx.result(
                "error", f"internal error: {type(exc).__name__}: {exc}", error=type(exc).__name__
            )

    @staticmethod
    def _failed(coll: CollectionConfig, check: str, message: str) -> CheckResult:
        return CheckResult(
            check=check,
            collection=coll.name,
            status="error",
            value=None,
            threshold=None,
            detail={"error": "StoreError"},
            started_at=datetime.now(UTC),
            duration_s=0.0,
            message=message,
        )

    def _record(self, results: list[CheckResult]) -> None:
        for result in results:
            log.info(
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
            if self.metrics is not None:
                self.metrics.record_result(result)
        if self.db is not None:
            try:
                for result in results:
                    result_repo.save_result(self.db, result)
                self._state_ok(True)
            except StateError as exc:
                self._state_ok(False)
                log.error("cannot record check results: %s", exc)
        if self.notifier is not None:
            try:
                self.notifier.on_results(results)
            except DriftwatchError as exc:
                log.error("cannot queue notifications: %s", exc)

    def _state_ok(self, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.state_db_up.set(1 if ok else 0)

    # --- baselines -----------------------------------------------------------

    def _baseline(self, coll: CollectionConfig) -> Baseline | None:
        if self.db is None:
            return None
        try:
            return baseline_repo.active_baseline(self.db, coll.name)
        except StateError as exc:
            log.error("cannot read baseline of %s: %s", coll.name, exc)
            return None

    def _recent_scores(self, coll: CollectionConfig) -> list[float]:
        if self.db is None:
            return []
        try:
            return result_repo.recent_canary_scores(self.db, coll.name, coll.score_window)
        except StateError as exc:
            log.error("cannot read recent canary scores of %s: %s", coll.name, exc)
            return []

    def capture_baseline(self, coll: CollectionConfig, force: bool = False) -> Baseline | None:
        """Capture and store a baseline; returns None if one exists and force is False.

        Raises StoreError / EmbedderError / StateError: the caller says what failed.
        """
        from driftwatch.checks.baseline import capture_baseline

        if self.db is None:
            raise StateError("a baseline needs the state database")
        if not force and baseline_repo.active_baseline(self.db, coll.name) is not None:
            return None
        handle = self.stores.collection(coll.store, coll.name)
        embedder = self.embedders.get(coll.embedder, handle)
        ctx = CheckContext(collection=coll, store=handle, embedder=embedder, check="baseline")
        baseline = capture_baseline(ctx)
        baseline_repo.save_baseline(self.db, baseline)
        if self.metrics is not None:
            self.metrics.record_baseline(coll.name, baseline.model, baseline.created_at.timestamp())
        log.info(
            "baseline captured",
            extra={"event": "baseline_captured", "collection": coll.name, "model": baseline.model},
        )
        return baseline


@contextmanager
def runner_on_state(config: Config, progress: ProgressCallback | None = None) -> Iterator[Runner]:
    """A Runner on the config's state DB (for the CLI); runner and DB closed at the end.

    Raises StateError if the state DB cannot be opened.
    """
    db = open_state(config.state_url)
    try:
        runner = Runner(config, db=db, progress=progress)
        try:
            yield runner
        finally:
            runner.close()
    finally:
        db.close()

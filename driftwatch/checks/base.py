"""The contract every check follows: CheckContext in, CheckResult out.

A check is a plain function ``(CheckContext) -> CheckResult``. It may use the
store and embedder handed to it and nothing else: no Prometheus, no Slack, no
state DB. The runner turns results into metrics, history and alerts in one place.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from driftwatch.redact import scrub

if TYPE_CHECKING:
    from driftwatch.config import CollectionConfig
    from driftwatch.embedders.base import Embedder
    from driftwatch.stores.base import CollectionHandle, ProgressCallback

Status = Literal["ok", "warning", "drift", "error", "unavailable"]
STATUSES: tuple[Status, ...] = get_args(Status)
# Exported as driftwatch_check_status; alert rules and dashboards depend on these codes.
STATUS_CODES: dict[Status, int] = {"ok": 0, "warning": 1, "drift": 2, "error": 3, "unavailable": 4}
# The model/version label of records without the metadata key (metrics, breakdowns).
UNTAGGED = "none"


def metadata_tag(metadata: Mapping[str, Any] | None, key: str) -> str | None:
    """A metadata value as a label; non-string values (1, 2.0, True) are stringified."""
    if not metadata:
        return None
    value = metadata.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@dataclass(frozen=True)
class CheckResult:
    """One run of one check on one collection (the DESIGN.md contract)."""

    check: str
    collection: str
    status: Status
    value: float | None
    threshold: float | None
    detail: Mapping[str, Any]
    started_at: datetime
    duration_s: float
    message: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["detail"] = _jsonable(dict(self.detail))
        data["value"] = _finite_or_none(self.value)
        data["threshold"] = _finite_or_none(self.threshold)
        return data


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and NaN do not survive json.dumps; normalise them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _finite_or_none(value)
    return value


@dataclass(frozen=True)
class CanaryBaseline:
    query: str
    ids: list[str]
    scores: list[float]
    # The query's vector from the baseline's model: completes a baseline captured on an
    # empty collection (checks.baseline). None in baselines older than that.
    vector: list[float] | None = None


@dataclass(frozen=True)
class Baseline:
    """What the live embedder and the store looked like when things were known good."""

    collection: str
    model: str
    created_at: datetime
    dimension: int | None
    fingerprint_texts: list[str]
    fingerprint_vectors: np.ndarray  # float32 (n_texts, dim), L2-normalised
    canaries: list[CanaryBaseline]
    scores: list[float]  # canary similarity scores: the reference window
    id: int | None = None
    # The population check's reference: a uniform sample of stored vectors (float32,
    # unit rows) and their model tags, captured with the baseline. None in older ones.
    reference_vectors: np.ndarray | None = None
    reference_tags: list[str] | None = None
    # The store's write position at capture (stores.base.WriteLog): the population
    # check compares the records written after it. None: the store keeps no write log.
    write_position: int | None = None


@dataclass(frozen=True)
class MissingScores:
    """Why this cycle added no scores to the score window (the runner finds out).

    The window of earlier probes is still in the state DB, but judging it would
    report on a past the store and embedder may no longer match: a check that
    needs fresh scores reports ``status`` with ``reason`` instead. ``error`` is
    the error kind to report (``CheckResult.detail["error"]``), if any.
    """

    status: Literal["error", "unavailable"]
    reason: str
    error: str | None = None


@dataclass
class CheckContext:
    """Everything a check may use. Built by the runner, one per (collection, cycle)."""

    collection: CollectionConfig
    store: CollectionHandle
    embedder: Embedder
    baseline: Baseline | None = None
    recent_scores: Sequence[float] = ()  # canary scores of recent probes (score window)
    missing_scores: MissingScores | None = None  # set when this cycle's probe gave none
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    progress: ProgressCallback | None = None  # full scans report (done, total) here
    check: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _t0: float = field(default_factory=time.perf_counter)

    def result(
        self,
        status: Status,
        message: str,
        value: float | None = None,
        threshold: float | None = None,
        **detail: Any,
    ) -> CheckResult:
        """Build this check's result; started_at and duration are filled in here."""
        return CheckResult(
            check=self.check,
            collection=self.collection.name,
            status=status,
            value=None if value is None else float(value),
            threshold=None if threshold is None else float(threshold),
            detail=detail,
            started_at=self.started_at,
            duration_s=time.perf_counter() - self._t0,
            # A peer may echo a secret into an error (a URL path, a key): the
            # message goes to the state DB, Slack and `status`.
            message=scrub(message),
        )


CheckFunction = Callable[[CheckContext], CheckResult]


@dataclass(frozen=True)
class Evidence:
    """A number from ``CheckResult.detail`` exported as its own gauge (metrics.py renders it).

    Plain evidence reads ``detail[key]`` (labels: collection). With ``labels``,
    ``detail[key]`` is a list of rows and each row is one series: the label values
    are the row's values under those names (missing: ``UNTAGGED``), the number is
    ``row[value_key]``. Keys absent or None in a run's detail are not exported.
    """

    key: str
    metric: str
    help: str
    labels: tuple[str, ...] = ()
    value_key: str = "value"


@dataclass(frozen=True)
class CheckSpec:
    """Everything driftwatch knows about one check, in one place.

    The runner, the daemon's scheduler, metrics.py, the Slack notifier and the
    state layer read these fields; none of them names a check.

    ``alerts`` lists the alert rules built on the check: the first fires on
    "drift" (and on "warning" when there is no second), the second, if given,
    on "warning". ``provides_scores`` names the detail key whose numbers feed
    the score window that checks with ``needs_scores`` judge (recent runs are
    read back from the state DB; this cycle's are handed over directly).
    """

    name: str
    function: CheckFunction
    schedule: str  # ScheduleConfig field: "probe" | "version_mix" | ...
    needs_baseline: bool = False
    evidence: tuple[Evidence, ...] = ()
    alerts: tuple[str, ...] = ()
    provides_scores: str | None = None
    needs_scores: bool = False

    def alert_for(self, status: str) -> str | None:
        """The alert (and runbook section) that ``status`` of this check fires, if any."""
        if not self.alerts or status not in ("drift", "warning"):
            return None
        if status == "warning" and len(self.alerts) > 1:
            return self.alerts[1]
        return self.alerts[0]

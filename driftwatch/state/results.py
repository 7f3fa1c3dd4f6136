"""Check-result history: record every CheckResult, read back the newest, prune old ones.

Rows are newest-first by ``started_at`` (ties broken by insertion order), and
every function hands back the ``CheckResult`` dataclass, never a row object.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Label, Select, delete, func, select

from driftwatch.checks.base import CheckResult, Status
from driftwatch.state.db import StateDB
from driftwatch.state.models import CheckResultRow

CANARY_CHECK = "canary"
# Results that ran to the end and carry their evidence (error/unavailable carry none).
_COMPLETED = ("ok", "warning", "drift")
_NEWEST_FIRST = (CheckResultRow.started_at.desc(), CheckResultRow.id.desc())


def save_result(db: StateDB, result: CheckResult) -> int:
    """Record one result in its own transaction; returns the row id."""
    data = result.to_json()  # JSON-safe detail; NaN/inf value or threshold become NULL
    row = CheckResultRow(
        collection=result.collection,
        check=result.check,
        status=result.status,
        value=data["value"],
        threshold=data["threshold"],
        detail=data["detail"],
        message=result.message,
        started_at=result.started_at,
        duration_s=result.duration_s,
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        return row.id


def latest_results(db: StateDB, collection: str | None = None) -> list[CheckResult]:
    """The newest result of each (collection, check), sorted by collection then check."""
    ranked = select(CheckResultRow.id, _rank())
    if collection is not None:
        ranked = ranked.where(CheckResultRow.collection == collection)
    newest = ranked.subquery()
    query = (
        select(CheckResultRow)
        .join(newest, newest.c.id == CheckResultRow.id)
        .where(newest.c.rank == 1)
        .order_by(CheckResultRow.collection, CheckResultRow.check)
    )
    return _results(db, query)


def history(db: StateDB, collection: str, check: str, limit: int = 100) -> list[CheckResult]:
    """The last ``limit`` results of one check on one collection, newest first."""
    query = (
        select(CheckResultRow)
        .where(CheckResultRow.collection == collection, CheckResultRow.check == check)
        .order_by(*_NEWEST_FIRST)
        .limit(limit)
    )
    return _results(db, query)


def recent_canary_scores(db: StateDB, collection: str, limit_runs: int) -> list[float]:
    """Canary similarity scores of the last ``limit_runs`` completed canary probes.

    Each probe stores its per-query scores in ``detail["scores"]``; they are
    flattened newest probe first (in stored order within a probe). Probes that
    errored or could not run hold no scores and do not use up the window.
    """
    query = (
        select(CheckResultRow.detail)
        .where(
            CheckResultRow.collection == collection,
            CheckResultRow.check == CANARY_CHECK,
            CheckResultRow.status.in_(_COMPLETED),
        )
        .order_by(*_NEWEST_FIRST)
        .limit(limit_runs)
    )
    with db.session() as session:
        details = list(session.scalars(query))
    return [float(s) for detail in details for s in _scores(detail)]


def prune(db: StateDB, older_than: datetime) -> int:
    """Delete results started before ``older_than``; returns how many were deleted.

    The newest result of each (collection, check) is kept however old, so
    ``driftwatch status`` still shows the last word of a check that stopped running.
    """
    ranked = select(CheckResultRow.id, _rank()).subquery()
    newest = select(ranked.c.id).where(ranked.c.rank == 1)
    statement = delete(CheckResultRow).where(
        CheckResultRow.started_at < older_than, CheckResultRow.id.not_in(newest)
    )
    with db.session() as session:
        return session.execute(statement).rowcount  # type: ignore[attr-defined,no-any-return]


def _rank() -> Label[int]:
    """1 for the newest result of each (collection, check), 2 for the one before, ..."""
    return (
        func.row_number()
        .over(
            partition_by=(CheckResultRow.collection, CheckResultRow.check),
            order_by=_NEWEST_FIRST,
        )
        .label("rank")
    )


def _scores(detail: dict[str, Any] | None) -> Sequence[float]:
    scores = (detail or {}).get("scores")
    if not isinstance(scores, list):
        return []
    return [s for s in scores if isinstance(s, int | float) and not isinstance(s, bool)]


def _results(db: StateDB, query: Select[CheckResultRow]) -> list[CheckResult]:
    with db.session() as session:
        return [_to_result(row) for row in session.scalars(query)]


def _to_result(row: CheckResultRow) -> CheckResult:
    return CheckResult(
        check=row.check,
        collection=row.collection,
        status=cast(Status, row.status),  # only Status values are ever written
        value=row.value,
        threshold=row.threshold,
        detail=row.detail,
        started_at=row.started_at,
        duration_s=row.duration_s,
        message=row.message,
    )

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


def latest_result(db: StateDB, collection: str, check: str) -> CheckResult | None:
    """The newest result of ``check`` on ``collection``, None if it never ran (one
    row through ix_check_results_lookup, for a caller on the probe's path)."""
    query = (
        select(CheckResultRow)
        .where(CheckResultRow.collection == collection, CheckResultRow.check == check)
        .order_by(*_NEWEST_FIRST)
        .limit(1)
    )
    return next(iter(_results(db, query)), None)


def latest_completed(db: StateDB, check: str) -> list[CheckResult]:
    """The newest *completed* result of ``check`` per collection, sorted by collection.

    A failed run carries no evidence, so the run before it still holds the last
    known state (the feed watcher reads the models a collection holds this way).
    """
    ranked = (
        select(CheckResultRow.id, _rank())
        .where(CheckResultRow.check == check, CheckResultRow.status.in_(_COMPLETED))
        .subquery()
    )
    query = (
        select(CheckResultRow)
        .join(ranked, ranked.c.id == CheckResultRow.id)
        .where(ranked.c.rank == 1)
        .order_by(CheckResultRow.collection)
    )
    return _results(db, query)


def first_judged_at(db: StateDB, collection: str, checks: Sequence[str]) -> datetime | None:
    """When the oldest kept verdict (ok, warning or drift) of one of ``checks`` on
    ``collection`` started; None if there is none.

    The baseline workflow asks it about the checks that compare with a baseline:
    such a verdict means a baseline existed, so a missing one is not captured
    silently. Other results (version mix, errors, "unavailable") say nothing about it.
    """
    query = select(func.min(CheckResultRow.started_at)).where(
        CheckResultRow.collection == collection,
        CheckResultRow.check.in_(list(checks)),
        CheckResultRow.status.in_(_COMPLETED),
    )
    with db.session() as session:
        return session.scalar(query)


def recent_scores(
    db: StateDB, collection: str, check: str, key: str, limit_runs: int
) -> list[float]:
    """The numbers in ``detail[key]`` of the last ``limit_runs`` completed runs of ``check``.

    The score window: each canary probe stores its per-query similarities in
    ``detail["scores"]`` (the check's spec names check and key); they are
    flattened newest run first (in stored order within a run). Runs that
    errored or could not run hold no scores and do not use up the window.
    """
    query = (
        select(CheckResultRow.detail)
        .where(
            CheckResultRow.collection == collection,
            CheckResultRow.check == check,
            CheckResultRow.status.in_(_COMPLETED),
        )
        .order_by(*_NEWEST_FIRST)
        .limit(limit_runs)
    )
    with db.session() as session:
        details = list(session.scalars(query))
    return [float(s) for detail in details for s in _numbers(detail, key)]


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


def _numbers(detail: dict[str, Any] | None, key: str) -> Sequence[float]:
    scores = (detail or {}).get(key)
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

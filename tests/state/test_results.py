"""Check-result history on both backends: save, newest per check, windows, retention."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from driftwatch.checks.base import CheckResult, Status
from driftwatch.errors import StateError
from driftwatch.state.db import StateDB
from driftwatch.state.models import CheckResultRow
from driftwatch.state.results import (
    first_judged_at,
    latest_result,
    latest_results,
    prune,
    recent_scores,
    save_result,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def result(
    check: str = "version_mix",
    collection: str = "docs",
    *,
    minutes: int = 0,
    status: Status = "ok",
    value: float | None = 1.0,
    detail: Mapping[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        check=check,
        collection=collection,
        status=status,
        value=value,
        threshold=0.5,
        detail=detail if detail is not None else {"n": minutes},
        started_at=T0 + timedelta(minutes=minutes),
        duration_s=0.25,
        message=f"{check} on {collection} at +{minutes}m",
    )


def count(db: StateDB) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(CheckResultRow)) or 0


def test_saved_result_reads_back_unchanged(state_db: StateDB) -> None:
    saved = result(detail={"documents": [{"model": "m", "count": 3}], "total": 3})
    save_result(state_db, saved)
    assert latest_results(state_db) == [saved]


def test_numpy_and_non_finite_numbers_are_stored_as_json(state_db: StateDB) -> None:
    saved = CheckResult(
        check="fingerprint",
        collection="docs",
        status="drift",
        value=float("nan"),
        threshold=float("inf"),
        detail={"cosines": np.array([0.5, 0.25], dtype=np.float32), "n": np.int64(2)},
        started_at=T0,
        duration_s=0.5,
        message="drift",
    )
    save_result(state_db, saved)
    [back] = latest_results(state_db)
    assert back.value is None
    assert back.threshold is None
    assert back.detail == {"cosines": [0.5, 0.25], "n": 2}


def test_latest_results_is_the_newest_per_collection_and_check(state_db: StateDB) -> None:
    for minutes in (0, 10, 5):  # saved out of order: newest is by started_at
        save_result(state_db, result("version_mix", "docs", minutes=minutes))
        save_result(state_db, result("canary", "docs", minutes=minutes + 1))
        save_result(state_db, result("version_mix", "faq", minutes=minutes + 2))

    latest = latest_results(state_db)
    assert [(r.collection, r.check, r.started_at) for r in latest] == [
        ("docs", "canary", T0 + timedelta(minutes=11)),
        ("docs", "version_mix", T0 + timedelta(minutes=10)),
        ("faq", "version_mix", T0 + timedelta(minutes=12)),
    ]
    assert [r.collection for r in latest_results(state_db, "faq")] == ["faq"]
    assert latest_results(state_db, "missing") == []
    # One (collection, check) alone: the same row as in the full list.
    assert latest_result(state_db, "docs", "canary") == latest[0]
    assert latest_result(state_db, "faq", "canary") is None


def test_same_start_time_resolves_to_the_last_saved(state_db: StateDB) -> None:
    save_result(state_db, result(status="ok"))
    save_result(state_db, result(status="drift"))
    assert [r.status for r in latest_results(state_db)] == ["drift"]
    newest = latest_result(state_db, "docs", "version_mix")
    assert newest is not None and newest.status == "drift"


def started(db: StateDB, check: str) -> list[datetime]:
    with db.session() as session:
        query = select(CheckResultRow.started_at).where(CheckResultRow.check == check)
        return sorted(session.scalars(query))


def test_first_verdict_of_baseline_checks_tells_whether_a_baseline_existed(
    state_db: StateDB,
) -> None:
    judged = ["fingerprint", "canary"]
    save_result(state_db, result("version_mix", minutes=1))  # needs no baseline
    save_result(state_db, result("fingerprint", minutes=2, status="error"))  # no verdict
    save_result(state_db, result("canary", minutes=3, status="unavailable"))
    assert first_judged_at(state_db, "docs", judged) is None

    for minutes, status in ((9, "ok"), (5, "drift"), (7, "warning")):
        save_result(state_db, result("fingerprint", minutes=minutes, status=status))
    save_result(state_db, result("canary", collection="other", minutes=4))

    assert first_judged_at(state_db, "docs", judged) == T0 + timedelta(minutes=5)
    assert first_judged_at(state_db, "other", judged) == T0 + timedelta(minutes=4)
    assert first_judged_at(state_db, "missing", judged) is None


def test_recent_scores_flatten_the_last_completed_probes(state_db: StateDB) -> None:
    probes: list[tuple[Status, dict[str, Any]]] = [
        ("ok", {"scores": [0.91, 0.88]}),
        ("warning", {"scores": [0.70]}),
        ("error", {"error": "store unreachable"}),
        ("drift", {"scores": [0.21, 0.19, 0.25]}),
        ("unavailable", {}),
    ]
    for minutes, (status, detail) in enumerate(probes):
        save_result(state_db, result("canary", minutes=minutes, status=status, detail=detail))
    save_result(state_db, result("canary", "other", minutes=9, detail={"scores": [0.5]}))

    def window(collection: str, runs: int) -> list[float]:
        return recent_scores(state_db, collection, "canary", "scores", runs)

    assert window("docs", 2) == [0.21, 0.19, 0.25, 0.70]
    assert window("docs", 12) == [0.21, 0.19, 0.25, 0.70, 0.91, 0.88]
    assert window("missing", 12) == []


def test_prune_deletes_old_history_but_keeps_each_checks_last_result(state_db: StateDB) -> None:
    for minutes in (0, 10, 20, 30):
        save_result(state_db, result("version_mix", minutes=minutes))
    save_result(state_db, result("canary", minutes=1))  # old, but the only canary result

    deleted = prune(state_db, older_than=T0 + timedelta(minutes=25))

    assert deleted == 3
    assert count(state_db) == 2
    assert started(state_db, "version_mix") == [T0 + timedelta(minutes=30)]
    assert [r.check for r in latest_results(state_db)] == ["canary", "version_mix"]
    assert prune(state_db, older_than=T0 + timedelta(minutes=25)) == 0


def test_a_result_that_cannot_be_saved_leaves_nothing_behind(state_db: StateDB) -> None:
    broken = CheckResult(
        check="version_mix",
        collection="docs",
        status="ok",
        value=1.0,
        threshold=None,
        detail={},
        started_at=datetime(2026, 3, 1),  # naive: refused
        duration_s=0.1,
        message="m",
    )
    with pytest.raises(StateError, match=r"state database .*naive datetime"):
        save_result(state_db, broken)
    assert count(state_db) == 0
    save_result(state_db, result())
    assert count(state_db) == 1

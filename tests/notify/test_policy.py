"""Which results become notifications: the rules in driftwatch/notify/policy.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.checks.base import Status
from driftwatch.config import Severity
from driftwatch.notify.policy import (
    RETRY_BASE_S,
    RETRY_CAP_S,
    Action,
    AlertState,
    decide_check,
    decide_deprecation,
    deprecation_severity,
    retry_delay_s,
)
from tests.notify.helpers import START

HOUR = timedelta(hours=1)


def run(
    statuses: list[Status], min_severity: Severity = "warning", step: timedelta = HOUR
) -> list[Action | None]:
    """Feed a sequence of statuses through decide_check; returns the actions taken."""
    state: AlertState | None = None
    actions: list[Action | None] = []
    now = START
    for status in statuses:
        decision = decide_check(state, status, now, timedelta(hours=4), min_severity)
        actions.append(decision.action)
        state = decision.state
        now += step
    return actions


def test_drift_fires_once_then_resolves() -> None:
    assert run(["ok", "drift", "drift", "drift", "ok", "ok"]) == [
        None,
        "firing",
        None,
        None,
        "resolved",
        None,
    ]


def test_still_firing_is_renotified_after_the_interval() -> None:
    actions = run(["drift"] * 10)  # one result an hour, renotify every 4 hours
    assert actions == ["firing", None, None, None, "firing", None, None, None, "firing", None]


def test_a_single_error_is_held_until_it_repeats() -> None:
    assert run(["error", "ok"]) == [None, None]
    assert run(["error", "error", "error", "ok"]) == [None, "firing", None, "resolved"]


def test_error_after_a_notified_drift_fires_at_once() -> None:
    assert run(["drift", "error"]) == ["firing", "firing"]


def test_status_change_fires_the_new_status() -> None:
    assert run(["warning", "drift", "warning"]) == ["firing", "firing", "firing"]


def test_below_min_severity_is_not_sent_and_resolves_what_was() -> None:
    assert run(["warning", "ok"], min_severity="critical") == [None, None]
    assert run(["drift", "warning", "ok"], min_severity="critical") == [
        "firing",
        "resolved",
        None,
    ]


def test_unavailable_changes_nothing() -> None:
    assert run(["drift", "unavailable", "drift", "ok"]) == ["firing", None, None, "resolved"]


def test_deprecation_severity_by_days_to_shutdown() -> None:
    today = date(2026, 3, 1)
    assert deprecation_severity(None, today) == "info"
    assert deprecation_severity(today + timedelta(days=31), today) == "info"
    assert deprecation_severity(today + timedelta(days=30), today) == "warning"
    assert deprecation_severity(today + timedelta(days=8), today) == "warning"
    assert deprecation_severity(today + timedelta(days=7), today) == "critical"
    assert deprecation_severity(today - timedelta(days=3), today) == "critical"


def test_deprecation_fires_on_escalation_and_on_changed_dates() -> None:
    first = decide_deprecation(None, "info", False, START, "info")
    assert first.action == "firing"
    same = decide_deprecation(first.state, "info", False, START, "info")
    assert same.action is None
    edited = decide_deprecation(first.state, "info", True, START, "info")
    assert edited.action == "firing"
    escalated = decide_deprecation(first.state, "warning", False, START, "info")
    assert escalated.action == "firing"
    filtered = decide_deprecation(None, "info", False, START, "warning")
    assert filtered.action is None
    assert filtered.state is not None
    assert decide_deprecation(filtered.state, "critical", False, START, "warning").action == (
        "firing"
    )


@given(attempts=st.integers(min_value=1, max_value=60), jitter=st.floats(0, 1, exclude_max=True))
def test_retry_delay_is_full_jitter_under_the_cap(attempts: int, jitter: float) -> None:
    delay = retry_delay_s(attempts, jitter)
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempts - 1))
    # Full jitter: the random draw spans the whole interval [0, ceiling).
    assert delay == pytest.approx(jitter * ceiling)
    assert 0 <= delay <= ceiling <= RETRY_CAP_S

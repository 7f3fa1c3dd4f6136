"""Which results become notifications, how urgent they are, and when to retry.

Pure functions without I/O; the Notifier applies them to the ``alert_state``
rows it keeps per alert fingerprint (collection, check).

Rules, in the order they are applied to one check result:

- ``ok`` resolves: if the fingerprint's current status was notified, a
  resolved message goes out; otherwise nothing is sent.
- ``unavailable`` (the check cannot run here) changes nothing.
- ``warning`` and ``drift`` fire at once; ``error`` (the check could not run)
  fires only when it repeats on the next run, so a single timeout pages
  nobody. An error that replaces an already notified status fires at once,
  so on-call never keeps believing the old status.
- a status that is still firing is notified again after ``renotify``.
- a status below ``min_severity`` is recorded but not sent; if it replaces a
  notified status, that status is resolved instead ("now: warning").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from driftwatch.checks.base import Status
from driftwatch.config import Severity
from driftwatch.retry import backoff_seconds

SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}
FIRING: frozenset[str] = frozenset({"warning", "drift", "error"})
ALERT_SEVERITY: dict[str, Severity] = {
    "drift": "critical",
    "warning": "warning",
    "error": "warning",
}
# Days before an announced shutdown at which a deprecation escalates.
SHUTDOWN_CRITICAL_DAYS = 7
SHUTDOWN_WARNING_DAYS = 30

RETRY_BASE_S = 2.0
RETRY_CAP_S = 15 * 60.0
RETRY_AFTER_CAP_S = 60 * 60.0

Action = Literal["firing", "resolved"]


@dataclass(frozen=True)
class AlertState:
    """What is known about one fingerprint: its current status and whether it was notified."""

    status: str
    severity: Severity
    since: datetime
    last_notified_at: datetime | None  # None: the current status was not (yet) sent

    @property
    def open(self) -> bool:
        """A firing status that on-call was told about and not yet told is over."""
        return self.status in FIRING and self.last_notified_at is not None


@dataclass(frozen=True)
class Decision:
    """What to send (if anything) and the fingerprint's state afterwards."""

    action: Action | None
    state: AlertState | None  # None: keep no state (never notified, now ok)
    previous: AlertState | None  # the state before, for "was drift" in messages


def at_least(severity: Severity, minimum: Severity) -> bool:
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]


def worst(severities: list[Severity]) -> Severity:
    return max(severities, key=SEVERITY_RANK.__getitem__)


def decide_check(
    prev: AlertState | None,
    status: Status,
    now: datetime,
    renotify: timedelta,
    min_severity: Severity,
) -> Decision:
    """Apply the module's rules to one check result."""
    if status == "unavailable":
        return Decision(None, prev, prev)
    was_open = prev is not None and prev.open
    if status == "ok":
        if prev is None:
            return Decision(None, None, None)
        resolved = AlertState("ok", "info", now, None)
        return Decision("resolved" if was_open else None, resolved, prev)

    severity = ALERT_SEVERITY[status]
    wanted = at_least(severity, min_severity)
    if prev is not None and prev.status == status:
        if prev.open:
            last = prev.last_notified_at or prev.since
            if now - last >= renotify:
                return Decision("firing", _notified(prev, now), prev)
            return Decision(None, prev, prev)
        # Same status, not yet sent: an error's repeat, or filtered by severity.
        if wanted:
            return Decision("firing", _notified(prev, now), prev)
        return Decision(None, prev, prev)

    held = status == "error" and not was_open
    if wanted and not held:
        return Decision("firing", AlertState(status, severity, now, now), prev)
    new = AlertState(status, severity, now, None)
    return Decision("resolved" if was_open else None, new, prev)


def decide_deprecation(
    prev: AlertState | None,
    severity: Severity,
    changed: bool,
    now: datetime,
    min_severity: Severity,
) -> Decision:
    """A deprecation fires when first seen, when it escalates, and when its dates change.

    Its state's status is the severity itself, so 30 -> 7 days left notifies again.
    """
    if prev is not None and prev.status == severity and not changed:
        return Decision(None, prev, prev)
    if at_least(severity, min_severity):
        return Decision("firing", AlertState(severity, severity, now, now), prev)
    return Decision(None, AlertState(severity, severity, now, None), prev)


def deprecation_severity(shutdown_on: date | None, today: date) -> Severity:
    """Shutdown within 7 days (or past) critical, within 30 days warning, else info."""
    if shutdown_on is None:
        return "info"
    days_left = (shutdown_on - today).days
    if days_left <= SHUTDOWN_CRITICAL_DAYS:
        return "critical"
    if days_left <= SHUTDOWN_WARNING_DAYS:
        return "warning"
    return "info"


def retry_delay_s(attempts: int, jitter: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempts-1))].

    ``jitter`` is a number in [0, 1) (random.random()); replicas retrying the
    same dead receiver therefore spread out instead of arriving together.
    """
    return backoff_seconds(attempts, RETRY_BASE_S, RETRY_CAP_S, jitter)


def _notified(state: AlertState, now: datetime) -> AlertState:
    return AlertState(state.status, state.severity, state.since, now)

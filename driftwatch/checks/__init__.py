"""Checks: one module each; CHECKS maps a check's name to its function.

Order matters: the runner runs them in this order, so a dimension mismatch is
reported before checks that would only restate it.
"""

from __future__ import annotations

from driftwatch.checks.base import CheckContext, CheckFunction, CheckResult
from driftwatch.checks.version_mix import check_version_mix

CHECKS: dict[str, CheckFunction] = {
    "version_mix": check_version_mix,
}

# Checks that compare with the collection's baseline (captured on first start).
NEEDS_BASELINE = frozenset({"fingerprint", "canary", "score_distribution"})

# Which schedule interval drives each check (ScheduleConfig field name).
SCHEDULE_OF: dict[str, str] = {
    "version_mix": "version_mix",
}

__all__ = ["CHECKS", "NEEDS_BASELINE", "SCHEDULE_OF", "CheckContext", "CheckFunction", "CheckResult"]

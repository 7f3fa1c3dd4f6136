"""The check registry: CHECKS maps a check's name to its function.

Order matters: the runner runs checks in this order, so a dimension mismatch is
reported before checks that would only restate it. Importing this module
imports every check (and scipy); the contract types live in checks.base,
which stays light.
"""

from __future__ import annotations

from driftwatch.checks.base import CheckFunction
from driftwatch.checks.canary import check_canary
from driftwatch.checks.consistency import check_consistency
from driftwatch.checks.dimension import check_dimension
from driftwatch.checks.fingerprint import check_fingerprint
from driftwatch.checks.score_distribution import check_score_distribution
from driftwatch.checks.version_mix import check_version_mix

CHECKS: dict[str, CheckFunction] = {
    "dimension": check_dimension,
    "fingerprint": check_fingerprint,
    "consistency": check_consistency,
    "canary": check_canary,
    "score_distribution": check_score_distribution,
    "version_mix": check_version_mix,
}

# Checks that compare with the collection's baseline (captured on first start).
NEEDS_BASELINE = frozenset({"fingerprint", "canary", "score_distribution"})

# Which schedule interval drives each check (ScheduleConfig field name).
SCHEDULE_OF: dict[str, str] = {
    "dimension": "probe",
    "fingerprint": "probe",
    "consistency": "probe",
    "canary": "probe",
    "score_distribution": "probe",
    "version_mix": "version_mix",
}

"""The CHECKS / SCHEDULE_OF registry in driftwatch/checks/__init__.py."""

from driftwatch.checks.registry import CHECKS, SCHEDULE_OF
from driftwatch.config import ScheduleConfig


def test_checks_run_in_order_dimension_first() -> None:
    assert list(CHECKS) == [
        "dimension",
        "fingerprint",
        "consistency",
        "canary",
        "score_distribution",
        "version_mix",
    ]


def test_every_check_has_a_schedule_interval() -> None:
    assert set(SCHEDULE_OF) == set(CHECKS)
    assert {SCHEDULE_OF[name] for name in CHECKS if name != "version_mix"} == {"probe"}
    assert SCHEDULE_OF["version_mix"] == "version_mix"
    assert all(field in ScheduleConfig.model_fields for field in SCHEDULE_OF.values())

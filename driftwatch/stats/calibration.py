"""False alarms calibrated to an expected time between them.

A test at p < 0.05 run every 5 minutes raises a false alarm every ~100
minutes with nothing wrong. Instead a check that turns a statistic into a
verdict on a schedule is given ``expected_time_between_false_alarms`` (ERT,
default one year) and derives its per-run significance level from it:

    alpha = run interval / ERT           5 min / 1 year -> 9.5e-6
                                         1 h   / 1 year -> 1.1e-4

If runs were independent, false alarms would then arrive as a Bernoulli
process with one expected per ERT. Consecutive runs of one check share most of
their data (a score window, an unchanged recent sample), so they are positively
correlated and false alarms are rarer than that: alpha is an upper bound.

A check that combines k statistics and calls drift when any of them is
significant tests each at ``alpha / k`` (Bonferroni), so the check as a whole
still stays within alpha.

The trade: a shorter ERT (or a longer schedule interval) raises alpha and
lowers the evidence a drift needs, so it is caught sooner, at the price of
more false alarms. ``docs/checks.md`` shows the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

YEAR = timedelta(days=365)


@dataclass(frozen=True)
class Calibration:
    """Per-run significance levels of one check."""

    interval_s: float
    expected_time_between_false_alarms_s: float
    alpha: float  # per run, for the check as a whole
    statistics: int
    per_statistic_alpha: float


def per_run_alpha(interval: timedelta, expected_time_between_false_alarms: timedelta) -> float:
    """Significance level of one run so that false alarms come once per ERT at most."""
    run_s = interval.total_seconds()
    ert_s = expected_time_between_false_alarms.total_seconds()
    if run_s <= 0:
        raise ValueError(f"run interval must be positive, got {interval}")
    if ert_s <= run_s:
        raise ValueError(
            f"expected_time_between_false_alarms ({expected_time_between_false_alarms}) must be "
            f"longer than the run interval ({interval}): otherwise every run may alarm"
        )
    return run_s / ert_s


def calibrate(
    interval: timedelta,
    expected_time_between_false_alarms: timedelta = YEAR,
    statistics: int = 1,
) -> Calibration:
    """Per-run alpha and its Bonferroni share for each of ``statistics`` tests."""
    if statistics < 1:
        raise ValueError(f"need at least one statistic, got {statistics}")
    alpha = per_run_alpha(interval, expected_time_between_false_alarms)
    return Calibration(
        interval_s=interval.total_seconds(),
        expected_time_between_false_alarms_s=expected_time_between_false_alarms.total_seconds(),
        alpha=alpha,
        statistics=statistics,
        per_statistic_alpha=alpha / statistics,
    )

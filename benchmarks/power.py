"""The power of the consistency check's drift rule (benchmarks/detection.py reports it).

Exact over the binomial distribution of matched records in a uniform sample;
needs scipy, which only the tests and benchmarks install.
"""

from __future__ import annotations

import math

from scipy.special import bdtr

from driftwatch.stats.proportion import wilson_interval


def flag_probability(
    stale_share: float, trials: int, min_ratio: float, confidence: float = 0.95
) -> float:
    """P(the Wilson upper bound falls below ``min_ratio``) when ``stale_share`` is stale.

    Exact over the binomial distribution of matched records in a uniform
    sample of ``trials``: the power of the consistency check's drift rule.
    """
    if not 0 <= stale_share <= 1:
        raise ValueError(f"stale_share must be in [0, 1], got {stale_share}")
    flagged = [
        k for k in range(trials + 1) if wilson_interval(k, trials, confidence).high < min_ratio
    ]
    if not flagged:
        return 0.0
    # The upper bound grows with k, so the flagged set is 0..max(flagged).
    return float(bdtr(max(flagged), trials, 1 - stale_share))


def smallest_detectable_share(
    trials: int, min_ratio: float, power: float = 0.95, confidence: float = 0.95
) -> float:
    """Smallest stale share (to 0.001) that the drift rule flags with at least ``power``."""
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        if flag_probability(mid, trials, min_ratio, confidence) >= power:
            hi = mid
        else:
            lo = mid
    return math.ceil(hi * 1000) / 1000

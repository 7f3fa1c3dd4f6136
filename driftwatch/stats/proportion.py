"""A share of successes with its confidence interval.

The consistency check reports "matched / sampled" with a Wilson score
interval: unlike the normal approximation it stays inside [0, 1] and is honest
at the edges (300 of 300 matched is [0.987, 1.0], not [1.0, 1.0]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Proportion:
    successes: int
    trials: int
    ratio: float
    low: float
    high: float
    confidence: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Proportion:
    """Wilson score interval of ``successes / trials``; trials=0 gives ratio NaN, [0, 1]."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if trials == 0:
        return Proportion(0, 0, math.nan, 0.0, 1.0, confidence)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # Exact at the edges (the formula gives 1 - 1e-17 for 300/300).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Proportion(successes, trials, p, low, high, confidence)

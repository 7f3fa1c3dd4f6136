"""Two-sample tests between a reference and a recent sample of scores.

Each test is a small pure function returning a typed result; the
score-distribution check runs all three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# scipy.stats would do all of this too, but importing it costs the daemon ~60 MB
# of resident memory for three functions; numpy does.
_KOLMOGOROV_TERMS = np.arange(1, 101)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution: 2 sum (-1)^(k-1) exp(-2 k^2 x^2)."""
    if x <= 0.04:  # the series converges slowly here; the survival function is 1.0
        return 1.0
    k = _KOLMOGOROV_TERMS
    terms = np.where(k % 2 == 1, 1.0, -1.0) * np.exp(-2.0 * k * k * x * x)
    return float(np.clip(2.0 * terms.sum(), 0.0, 1.0))


# PSI adds this many pseudo-observations to every bin, so an empty bin gives
# a large but finite contribution instead of log(0).
PSI_SMOOTHING = 0.5


@dataclass(frozen=True)
class DistributionTest:
    """Outcome of one two-sample test; ``pvalue`` is None for distances."""

    name: str
    statistic: float
    pvalue: float | None = None


def _sample(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} sample is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} sample contains NaN or infinite values")
    return arr


def ks_test(
    reference: Sequence[float] | np.ndarray,
    recent: Sequence[float] | np.ndarray,
    max_effective_n: int | None = None,
) -> DistributionTest:
    """Two-sample Kolmogorov-Smirnov: max gap between the empirical CDFs, and its p-value.

    The p-value is the asymptotic Kolmogorov distribution with Stephens'
    small-sample correction, ``Q((sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) * D)``
    with ``n_e = n m / (n + m)``: within 0.02 of scipy's exact value for the
    sample sizes verdicts use (at least ``score_min_samples`` scores), and on the
    same side of 0.05, 0.01 and 0.001 (tests/stats/test_distribution.py).

    ``max_effective_n`` caps the sample sizes the p-value assumes. A score
    window built from repeated probes of the same canaries holds many near-copies
    of each score; counting them as independent would make any small, harmless
    shift "significant".
    """
    ref = np.sort(_sample(reference, "reference"))
    new = np.sort(_sample(recent, "recent"))
    both = np.concatenate([ref, new])
    gap = np.abs(
        np.searchsorted(ref, both, side="right") / ref.size
        - np.searchsorted(new, both, side="right") / new.size
    )
    statistic = float(gap.max())
    n, m = ref.size, new.size
    if max_effective_n is not None:
        n, m = min(n, max_effective_n), min(m, max_effective_n)
    root = np.sqrt(n * m / (n + m))
    pvalue = kolmogorov_sf(float((root + 0.12 + 0.11 / root) * statistic))
    return DistributionTest("ks", statistic, pvalue)


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates from ties merged)."""
    inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def psi(
    reference: Sequence[float] | np.ndarray,
    recent: Sequence[float] | np.ndarray,
    bins: int = 10,
) -> DistributionTest:
    """Population stability index over bins at the reference's quantiles.

    sum((r - e) * ln(r / e)) over bins, e and r the smoothed shares of the
    reference and recent samples. Rule of thumb: < 0.1 stable, 0.1-0.25
    shifting, > 0.25 a different population.
    """
    if bins < 2:
        raise ValueError(f"psi needs at least 2 bins, got {bins}")
    ref = _sample(reference, "reference")
    new = _sample(recent, "recent")
    edges = quantile_edges(ref, bins)
    slots = len(edges) + 1
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=slots)
    new_counts = np.bincount(np.searchsorted(edges, new, side="right"), minlength=slots)
    e = (ref_counts + PSI_SMOOTHING) / (ref.size + PSI_SMOOTHING * slots)
    r = (new_counts + PSI_SMOOTHING) / (new.size + PSI_SMOOTHING * slots)
    return DistributionTest("psi", float(np.sum((r - e) * np.log(r / e))))


def wasserstein(
    reference: Sequence[float] | np.ndarray, recent: Sequence[float] | np.ndarray
) -> DistributionTest:
    """Earth mover's distance between the two samples, in score units.

    In one dimension it is the area between the two empirical CDFs.
    """
    ref = np.sort(_sample(reference, "reference"))
    new = np.sort(_sample(recent, "recent"))
    points = np.sort(np.concatenate([ref, new]))
    widths = np.diff(points)
    ref_cdf = np.searchsorted(ref, points[:-1], side="right") / ref.size
    new_cdf = np.searchsorted(new, points[:-1], side="right") / new.size
    return DistributionTest("wasserstein", float(np.sum(np.abs(ref_cdf - new_cdf) * widths)))

"""Two-sample tests between a reference and a recent sample of scores.

Each detector is a small pure function returning a typed result; DETECTORS
maps a name to it so the score-distribution check (and users' tooling) can
run them uniformly, in the style of alibi-detect / evidently drift tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp, kstwo, wasserstein_distance

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

    ``max_effective_n`` caps the sample sizes the p-value assumes. A score
    window built from repeated probes of the same canaries holds many near-copies
    of each score; counting them as independent would make any small, harmless
    shift "significant". Capped, the p-value uses the asymptotic distribution
    of the statistic (scipy's ``kstwo``) with the capped sizes.
    """
    ref = _sample(reference, "reference")
    new = _sample(recent, "recent")
    result = ks_2samp(ref, new)
    statistic, pvalue = float(result.statistic), float(result.pvalue)
    if max_effective_n is not None and max(ref.size, new.size) > max_effective_n:
        n = min(ref.size, max_effective_n)
        m = min(new.size, max_effective_n)
        pvalue = float(np.clip(kstwo.sf(statistic, round(n * m / (n + m))), 0.0, 1.0))
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
    """Earth mover's distance between the two samples, in score units."""
    distance = wasserstein_distance(_sample(reference, "reference"), _sample(recent, "recent"))
    return DistributionTest("wasserstein", float(distance))


Detector = Callable[[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray], DistributionTest]

DETECTORS: dict[str, Detector] = {
    "ks": ks_test,
    "psi": psi,
    "wasserstein": wasserstein,
}


def run_detectors(
    reference: Sequence[float] | np.ndarray,
    recent: Sequence[float] | np.ndarray,
    names: Sequence[str] = tuple(DETECTORS),
) -> dict[str, DistributionTest]:
    """Run the named detectors on one pair of samples."""
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown} (known: {', '.join(DETECTORS)})")
    return {name: DETECTORS[name](reference, recent) for name in names}

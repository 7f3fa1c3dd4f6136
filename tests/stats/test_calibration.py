"""Per-run alpha from the expected time between false alarms, and the property it
promises, measured on a smaller simulation with real vectors (the full run with
churn is benchmarks/calibration.py)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from driftwatch.stats.calibration import YEAR, calibrate, per_run_alpha
from driftwatch.stats.domain_classifier import classifier_test
from driftwatch.stats.mmd import mmd_test
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import MINILM


def test_alpha_is_interval_over_expected_time() -> None:
    assert per_run_alpha(timedelta(minutes=5), YEAR) == pytest.approx(9.51e-6, rel=1e-3)
    cal = calibrate(timedelta(hours=1), YEAR, statistics=2)
    assert cal.alpha == pytest.approx(1 / 8760)
    assert cal.per_statistic_alpha == pytest.approx(cal.alpha / 2)
    # Trading delay for false alarms: a month between false alarms allows 12x more.
    month = calibrate(timedelta(hours=1), timedelta(days=365 / 12))
    assert month.alpha == pytest.approx(12 * cal.alpha)


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must be longer than the run interval"):
        per_run_alpha(timedelta(hours=2), timedelta(hours=1))
    with pytest.raises(ValueError, match="at least one statistic"):
        calibrate(timedelta(hours=1), statistics=0)


def _upper(k_expected_rate: float, runs: int) -> int:
    """The largest false-alarm count still consistent (99.9%) with the target rate."""
    return int(stats.binom.ppf(0.999, runs, k_expected_rate))


def _splits(runs: int, size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    vectors = corpus_vectors(MINILM).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        idx = rng.permutation(len(vectors))[: 2 * size]
        out.append((vectors[idx[:size]], vectors[idx[size:]]))
    return out


@pytest.mark.slow
def test_mmd_false_alarms_stay_within_alpha_when_nothing_changed() -> None:
    runs = 300
    rng = np.random.default_rng(11)
    p = np.array([mmd_test(a, b, rng, permutations=200).pvalue for a, b in _splits(runs, 40, 1)])
    for alpha in (0.1, 0.05, 0.01):
        assert int((p < alpha).sum()) <= _upper(alpha, runs), (alpha, np.sort(p)[:10])
    # Not conservative to uselessness either: p-values of no change are spread over (0, 1).
    assert 0.35 < float(p.mean()) < 0.65


@pytest.mark.slow
def test_classifier_false_alarms_stay_within_alpha_when_nothing_changed() -> None:
    runs = 60
    rng = np.random.default_rng(12)
    p = np.array([classifier_test(a, b, rng).pvalue for a, b in _splits(runs, 40, 2)])
    for alpha in (0.1, 0.05):
        assert int((p < alpha).sum()) <= _upper(alpha, runs), (alpha, np.sort(p)[:10])

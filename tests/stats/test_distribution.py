import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.stats.distribution import ks_test, psi, wasserstein

scores = st.lists(st.floats(-1, 1, allow_nan=False), min_size=5, max_size=60)


@settings(max_examples=50)
@given(scores, scores)
def test_statistics_are_symmetric_and_non_negative(a: list[float], b: list[float]) -> None:
    assert ks_test(a, b).statistic == pytest.approx(ks_test(b, a).statistic)
    assert wasserstein(a, b).statistic == pytest.approx(wasserstein(b, a).statistic)
    assert 0 <= ks_test(a, b).statistic <= 1
    assert 0 <= ks_test(a, b).pvalue <= 1  # type: ignore[operator]
    assert psi(a, b).statistic >= 0


@given(scores)
def test_a_sample_against_itself_shows_no_change(a: list[float]) -> None:
    assert ks_test(a, a).statistic == 0
    assert psi(a, a).statistic == pytest.approx(0, abs=1e-12)
    assert wasserstein(a, a).statistic == pytest.approx(0, abs=1e-12)


def test_a_shift_is_measured_in_score_units() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0.45, 0.1, 400)
    assert wasserstein(ref, ref - 0.25).statistic == pytest.approx(0.25)
    assert psi(ref, ref - 0.25).statistic > 1.0
    assert ks_test(ref, ref - 0.25).pvalue < 1e-10  # type: ignore[operator]


def test_psi_survives_empty_bins() -> None:
    # Every recent value falls into one bin: finite, large.
    value = psi(np.linspace(0, 1, 100), np.full(50, 2.0)).statistic
    assert np.isfinite(value) and value > 2


def test_psi_with_tied_reference_values_merges_bins() -> None:
    assert psi([0.5] * 50, [0.5] * 50).statistic == pytest.approx(0.0)


def test_capping_the_effective_sample_size_weakens_the_p_value() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(0.45, 0.1, 200)
    window = np.tile(ref + 0.03, 12)  # 12 near-copies of one slightly moved probe
    honest = ks_test(ref, window, max_effective_n=len(ref))
    naive = ks_test(ref, window)
    assert honest.statistic == naive.statistic
    assert honest.pvalue > naive.pvalue  # type: ignore[operator]


def test_bad_samples_are_named() -> None:
    with pytest.raises(ValueError, match="recent sample is empty"):
        psi([1.0, 2.0], [])
    with pytest.raises(ValueError, match="reference sample contains NaN"):
        ks_test([float("nan")], [1.0])


def test_wasserstein_is_the_distance_scores_moved() -> None:
    shifted = wasserstein([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.5, 0.6])
    assert shifted.statistic == pytest.approx(0.1)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.2])
@pytest.mark.parametrize(("n", "m"), [(50, 60), (200, 150), (400, 400)])
def test_agrees_with_scipy_stats(shift: float, n: int, m: int) -> None:
    """The numpy implementations give scipy.stats' answers (scipy.stats is not
    imported by the daemon: it costs ~40 MB of resident memory)."""
    from scipy import stats

    rng = np.random.default_rng(n + m)
    a = rng.normal(0.5, 0.1, n)
    b = rng.normal(0.5 + shift, 0.1, m)
    ours = ks_test(a, b)
    theirs = stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.pvalue == pytest.approx(theirs.pvalue, abs=0.02)
    for alpha in (0.05, 0.01, 0.001):  # the same verdict at every usual threshold
        assert (ours.pvalue < alpha) == (theirs.pvalue < alpha)  # type: ignore[operator]
    assert wasserstein(a, b).statistic == pytest.approx(stats.wasserstein_distance(a, b))


@pytest.mark.parametrize("x", [0.05, 0.3, 0.5, 0.8, 1.0, 1.36, 2.0, 3.0])
def test_kolmogorov_survival_function_matches_scipy(x: float) -> None:
    from scipy.special import kolmogorov

    from driftwatch.stats.distribution import kolmogorov_sf

    assert kolmogorov_sf(x) == pytest.approx(float(kolmogorov(x)), abs=1e-9)

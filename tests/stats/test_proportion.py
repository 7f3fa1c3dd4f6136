import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from driftwatch.stats.proportion import wilson_interval


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_contains_the_ratio_and_stays_in_unit_range(case: tuple[int, int]) -> None:
    k, n = case
    p = wilson_interval(k, n)
    assert 0 <= p.low <= p.ratio <= p.high <= 1


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_is_symmetric_in_successes_and_failures(case: tuple[int, int]) -> None:
    k, n = case
    a, b = wilson_interval(k, n), wilson_interval(n - k, n)
    assert a.low == pytest.approx(1 - b.high, abs=1e-12)
    assert a.high == pytest.approx(1 - b.low, abs=1e-12)


def test_matches_scipy_wilson_interval() -> None:
    for k, n in [(240, 300), (1, 50), (299, 300)]:
        ours = wilson_interval(k, n)
        ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_all_matched_is_exactly_one_at_the_top() -> None:
    p = wilson_interval(300, 300)
    assert p.high == 1.0 and 0.98 < p.low < 1.0


def test_no_trials_is_uninformative() -> None:
    p = wilson_interval(0, 0)
    assert math.isnan(p.ratio) and (p.low, p.high) == (0.0, 1.0)


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(5, 3)

"""MMD² with a fitted null tail: exact pieces against scipy/direct sums, and real vectors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftwatch.stats.mmd import gamma_sf, median_bandwidth, mmd_test, squared_distances
from tests.support.corpus_vectors import corpus_vectors
from tests.support.licenses import license_vectors
from tests.support.models import MINILM


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


@pytest.mark.parametrize("shape", [0.3, 1.0, 4.5, 40.0, 400.0])
@pytest.mark.parametrize("quantile", [0.01, 0.5, 0.99, 0.999999])
def test_gamma_tail_matches_scipy(shape: float, quantile: float) -> None:
    x = float(stats.gamma.ppf(quantile, shape, scale=0.7))
    assert gamma_sf(x, shape, 0.7) == pytest.approx(stats.gamma.sf(x, shape, scale=0.7), rel=1e-8)


def test_unbiased_statistic_and_bandwidth_match_direct_sums() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 5)), rng.normal(0.3, 1.0, size=(40, 5))
    pooled = np.vstack([x, y])
    d2 = np.array([[np.sum((a - b) ** 2) for b in pooled] for a in pooled])
    assert np.allclose(squared_distances(pooled), d2)
    sigma = np.median(np.sqrt(d2[np.triu_indices(70, 1)]))
    assert median_bandwidth(d2) == pytest.approx(sigma)
    k = np.exp(-d2 / (2 * sigma**2))
    kxx, kyy, kxy = k[:30, :30], k[30:, 30:], k[:30, 30:]
    expected = (kxx.sum() - 30) / (30 * 29) + (kyy.sum() - 40) / (40 * 39) - 2 * kxy.mean()
    result = mmd_test(x, y, np.random.default_rng(1), permutations=100)
    assert result.mmd2 == pytest.approx(expected)
    assert result.bandwidth == pytest.approx(sigma)
    assert (result.n_reference, result.n_recent, result.permutations) == (30, 40, 100)


def test_fitted_tail_agrees_with_the_permutation_pvalue_where_both_resolve() -> None:
    vectors = _unit(corpus_vectors(MINILM).astype(np.float64))
    rng = np.random.default_rng(5)
    for _ in range(5):
        idx = rng.permutation(len(vectors))[:300]
        r = mmd_test(vectors[idx[:150]], vectors[idx[150:]], rng, permutations=1000)
        assert abs(r.pvalue - r.permutation_pvalue) < 0.06, r


def test_another_domain_is_far_beyond_any_permutation() -> None:
    docs = _unit(corpus_vectors(MINILM).astype(np.float64))
    other = _unit(license_vectors(MINILM).astype(np.float64))
    rng = np.random.default_rng(2)
    r = mmd_test(docs[rng.permutation(len(docs))[:150]], other[:150], rng)
    assert r.permutation_pvalue == pytest.approx(1 / (r.permutations + 1))
    assert r.pvalue < 1e-12
    assert r.mmd2 > 0.05


@pytest.mark.parametrize(
    ("ref", "new", "message"),
    [
        (np.zeros((1, 3)), np.zeros((5, 3)), "reference sample must be a"),
        (np.zeros((5, 3)), np.zeros((5, 4)), "3-d, recent vectors 4-d"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
    ],
)
def test_bad_input_is_named(ref: np.ndarray, new: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mmd_test(ref, new, np.random.default_rng(0))


def test_too_few_permutations_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 20 permutations"):
        mmd_test(np.eye(5), np.eye(5), np.random.default_rng(0), permutations=5)

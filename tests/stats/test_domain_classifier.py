"""Domain-classifier AUC on real vectors, and its null tail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftwatch.stats.domain_classifier import (
    auc_null_sd,
    auc_pvalue,
    auc_threshold,
    classifier_test,
    sd_upper_bound,
)
from tests.support.corpus_vectors import corpus_vectors
from tests.support.licenses import license_vectors
from tests.support.models import MINILM


def test_null_sd_is_the_mann_whitney_one() -> None:
    # n = m = 200: sqrt(401 / (12 * 40000)) = 0.02890
    assert auc_null_sd(200, 200) == pytest.approx(0.028904, abs=1e-6)
    assert auc_pvalue(0.5, 0.0289) == pytest.approx(0.5)
    # Evidently's fixed 0.55 is a ~4% event at this size even for independent vectors.
    assert auc_pvalue(0.55, auc_null_sd(200, 200)) == pytest.approx(0.0418, abs=1e-3)


def test_threshold_inverts_the_pvalue() -> None:
    for alpha in (0.05, 1e-3, 5.7e-5):
        t = auc_threshold(alpha, 0.04)
        assert auc_pvalue(t, 0.04) == pytest.approx(alpha, rel=1e-6)
    with pytest.raises(ValueError, match="alpha must be in"):
        auc_threshold(0.0, 0.04)


def test_sd_upper_bound_matches_the_chi_square_one() -> None:
    k = 29
    exact = np.sqrt(k / stats.chi2.ppf(0.05, k))
    assert sd_upper_bound(1.0, 30) == pytest.approx(exact, rel=5e-3)


def test_another_domain_is_told_apart_and_the_same_domain_is_not() -> None:
    docs = corpus_vectors(MINILM)
    rng = np.random.default_rng(4)
    idx = rng.permutation(len(docs))
    same = classifier_test(docs[idx[:200]], docs[idx[200:400]], rng)
    assert same.auc < 0.6 and same.pvalue > 1e-3
    other = classifier_test(docs[idx[:200]], license_vectors(MINILM)[:200], rng)
    assert other.auc > 0.95 and other.pvalue < 1e-20
    assert (other.folds, other.n_reference, other.n_recent) == (5, 200, 200)
    # The null spread is the relabelled runs' (clustered text: wider than Mann-Whitney).
    assert other.null_sd >= auc_null_sd(200, 200)
    assert other.permutations == 30


def test_bad_input_is_named() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="one dimension"):
        classifier_test(np.zeros((10, 3)), np.zeros((10, 4)), rng)
    with pytest.raises(ValueError, match="at least 5 vectors on each side"):
        classifier_test(np.zeros((10, 3)), np.zeros((3, 3)), rng)

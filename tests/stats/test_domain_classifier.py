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
    fit_logistic,
    null_inflation,
    roc_auc,
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
    # The null spread is Mann-Whitney's times the reference's own inflation (clustered
    # text varies more than independent draws would).
    assert other.inflation >= 1.0
    assert other.null_sd == pytest.approx(other.inflation * auc_null_sd(200, 200))


def test_null_inflation_of_clustered_text_exceeds_one_and_is_reused_as_given() -> None:
    docs = corpus_vectors(MINILM).astype(np.float64)
    rng = np.random.default_rng(5)
    idx = rng.permutation(len(docs))
    reference, recent = docs[idx[:300]], docs[idx[300:500]]
    inflation = null_inflation(reference, 200, rng)
    # Paragraphs come in clusters: the AUC varies more than Mann-Whitney's spread says.
    assert 1.05 < inflation < 3.0
    given = classifier_test(reference, recent, rng, inflation=inflation)
    assert given.inflation == inflation
    assert given.null_sd == pytest.approx(inflation * auc_null_sd(300, 200))


def test_bad_input_is_named() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="reference vectors are 3-d, recent vectors 4-d"):
        classifier_test(np.zeros((10, 3)), np.zeros((10, 4)), rng)
    with pytest.raises(ValueError, match="at least 5 vectors on each side"):
        classifier_test(np.zeros((10, 3)), np.zeros((3, 3)), rng)
    with pytest.raises(ValueError, match="at least 10 reference vectors"):
        null_inflation(np.zeros((8, 3)), 8, rng)


@pytest.mark.parametrize(
    ("docs_rows", "licence_rows"),
    [(100, 60), (300, 200)],
    ids=["in-the-span-of-the-rows", "directly"],
)
def test_logistic_fit_is_scikit_learns_on_real_vectors(docs_rows: int, licence_rows: int) -> None:
    """Both ways the fit runs: in the span of the rows (160 rows of 384-d) and directly (500)."""
    from sklearn.linear_model import LogisticRegression

    docs = corpus_vectors(MINILM).astype(np.float64)
    licences = license_vectors(MINILM).astype(np.float64)
    x = np.vstack([docs[:docs_rows], licences[:licence_rows]])
    y = np.concatenate([np.zeros(docs_rows), np.ones(licence_rows)])
    weights, intercept = fit_logistic(x, y)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(weights, reference.coef_[0], atol=1e-5)
    assert intercept == pytest.approx(float(reference.intercept_[0]), abs=1e-5)


def test_roc_auc_is_scikit_learns_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 300).astype(np.float64)
    scores = np.round(rng.normal(size=300) + 0.3 * y, 1)  # rounded: many ties
    assert roc_auc(y, scores) == pytest.approx(float(roc_auc_score(y, scores)), abs=1e-12)
    with pytest.raises(ValueError, match="both labels"):
        roc_auc(np.ones(4), np.arange(4.0))

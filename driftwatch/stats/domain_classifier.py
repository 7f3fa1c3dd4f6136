"""Domain-classifier two-sample test: can a classifier tell recent vectors from reference ones?

A logistic regression is trained to label each vector "reference" or
"recent"; its out-of-fold probabilities (stratified k-fold, so no vector is
scored by a model that saw it) give a ROC AUC. 0.5 means the two samples
cannot be told apart; Evidently's default ("model" method) flags AUC > 0.55.

A fixed 0.55 is not a calibrated threshold: its false-alarm rate depends on
the sample sizes (at 200 + 200 vectors, AUC 0.55 is a 1-in-25 chance event
even for independent vectors). Nor is the textbook Mann-Whitney tail,
``sd = sqrt((n + m + 1) / (12 n m))``, on its own: on real text, paragraphs
come in clusters (one module's docs, one licence's clauses) and the
cross-validated AUC varies more than that: measured 0.041 vs 0.029 at 200 +
200 CPython paragraphs, so p-values from it were 1.7x too small at p < 0.1.

So the null's spread is Mann-Whitney's times an *inflation* measured on the
reference sample alone (``null_inflation``): the same cross-validation on
``permutations`` random splits of the reference into two parts. Under "no
change" the recent records come from the reference's population, so its
clusters set the spread; measured on real vectors (300 reference + 200
recent CPython paragraphs), the inflation from reference splits was 1.28-1.55,
from permuting the pooled sample 1.41-1.47, and the true spread of fresh
recent samples against a fixed reference 1.17-1.32: the reference's estimate
errs on the safe side. Its 95% upper confidence bound is used (never below 1),
centred at 0.5 (real no-change AUCs sit slightly below). The inflation depends
only on the reference, so a check computes it once per baseline (~30
cross-validations) and each run then costs one cross-validation.

The classifier is an L2-regularised logistic regression (C = 1, scikit-learn's
default) fitted by Newton's method in numpy (``fit_logistic``): scikit-learn
would keep ~80 MB resident in the daemon (it imports SciPy), a third of its
memory target. The tests check it against scikit-learn's own fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

DEFAULT_FOLDS = 5
DEFAULT_PERMUTATIONS = 30


@dataclass(frozen=True)
class ClassifierResult:
    auc: float
    pvalue: float
    null_sd: float  # the spread of the AUC under no difference the p-value used
    inflation: float  # null_sd over Mann-Whitney's (null_inflation)
    folds: int
    n_reference: int
    n_recent: int


def auc_null_sd(n_reference: int, n_recent: int) -> float:
    """Standard deviation of the AUC (Mann-Whitney U / (n m)) when nothing differs."""
    n, m = n_reference, n_recent
    return math.sqrt((n + m + 1) / (12.0 * n * m))


def auc_pvalue(auc: float, null_sd: float) -> float:
    """One-sided P(AUC >= auc) under no difference: normal, centred at 0.5."""
    return float(NormalDist().cdf(-(auc - 0.5) / null_sd))


def auc_threshold(alpha: float, null_sd: float) -> float:
    """The AUC above which ``auc_pvalue`` falls below ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return 0.5 + NormalDist().inv_cdf(1 - alpha) * null_sd


def sd_upper_bound(sd: float, samples: int, confidence: float = 0.95) -> float:
    """Upper confidence bound of a standard deviation estimated from ``samples`` draws
    (chi-square with Wilson-Hilferty's approximation; no scipy in the daemon)."""
    k = samples - 1
    z = NormalDist().inv_cdf(1 - confidence)
    chi2_low = k * (1 - 2 / (9 * k) + z * math.sqrt(2 / (9 * k))) ** 3
    return sd * math.sqrt(k / chi2_low)


def null_inflation(
    reference: np.ndarray,
    n_recent: int,
    rng: np.random.Generator,
    folds: int = DEFAULT_FOLDS,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> float:
    """How much more the cross-validated AUC varies under no difference than Mann-Whitney's
    spread: measured on random splits of ``reference`` alone, in the proportion of the
    test (reference : recent), as a 95% upper bound, never below 1."""
    ref = _checked(reference, "reference")
    if permutations < 10:
        raise ValueError(f"need at least 10 permutations for the null, got {permutations}")
    n = ref.shape[0]
    if n < 2 * folds or n_recent < 1:
        raise ValueError(
            f"need at least {2 * folds} reference vectors and one recent to measure the null, "
            f"got {n} and {n_recent}"
        )
    recent_part = min(max(round(n * n_recent / (n + n_recent)), folds), n - folds)
    labels = np.zeros(n)
    labels[:recent_part] = 1
    aucs = np.array(
        [_cv_auc(ref, rng.permutation(labels), folds, rng) for _ in range(permutations)]
    )
    spread = sd_upper_bound(float(aucs.std(ddof=1)), permutations)
    return max(1.0, spread / auc_null_sd(n - recent_part, recent_part))


def classifier_test(
    reference: np.ndarray,
    recent: np.ndarray,
    rng: np.random.Generator,
    folds: int = DEFAULT_FOLDS,
    inflation: float | None = None,
) -> ClassifierResult:
    """Cross-validated logistic-regression ROC AUC of recent vs reference vectors.

    ``inflation`` is ``null_inflation`` of this reference (measured here when not given).
    """
    ref = _checked(reference, "reference")
    new = _checked(recent, "recent")
    if ref.shape[1] != new.shape[1]:
        raise ValueError(f"reference vectors are {ref.shape[1]}-d, recent vectors {new.shape[1]}-d")
    if min(ref.shape[0], new.shape[0]) < folds:
        raise ValueError(
            f"need at least {folds} vectors on each side for {folds}-fold cross-validation, "
            f"got {ref.shape[0]} reference and {new.shape[0]} recent"
        )
    if inflation is None:
        inflation = null_inflation(ref, new.shape[0], rng, folds)
    x = np.vstack([ref, new])
    y = np.concatenate([np.zeros(ref.shape[0]), np.ones(new.shape[0])])
    auc = _cv_auc(x, y, folds, rng)
    null_sd = inflation * auc_null_sd(ref.shape[0], new.shape[0])
    return ClassifierResult(
        auc=auc,
        pvalue=auc_pvalue(auc, null_sd),
        null_sd=null_sd,
        inflation=inflation,
        folds=folds,
        n_reference=ref.shape[0],
        n_recent=new.shape[0],
    )


def _checked(values: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} vectors must be an (n, dim) matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} vectors contain NaN or infinite values")
    return arr


def _cv_auc(x: np.ndarray, y: np.ndarray, folds: int, rng: np.random.Generator) -> float:
    """ROC AUC of out-of-fold decision values (stratified k-fold)."""
    scores = np.empty(len(y))
    assignment = stratified_folds(y, folds, rng)
    for fold in range(folds):
        test = assignment == fold
        weights, intercept = fit_logistic(x[~test], y[~test])
        scores[test] = x[test] @ weights + intercept
    return roc_auc(y, scores)


def stratified_folds(y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number of each row: each class shuffled and dealt round the folds in turn."""
    assignment = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        assignment[rows] = np.arange(rows.size) % folds
    return assignment


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: float = 1.0, max_iter: int = 100, tol: float = 1e-10
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression: weights and intercept minimising
    ``c * sum(log-loss) + |w|^2 / 2`` (intercept not penalised), by Newton's method.

    The same objective and optimum as scikit-learn's ``LogisticRegression(C=c)``
    (tests/stats/test_domain_classifier.py compares them). Written out because
    importing scikit-learn keeps ~80 MB resident in the daemon for the life of the
    process; with fewer than a few thousand rows and columns, Newton's method
    converges in ~8 steps of one square solve each.

    With far fewer rows than columns, the optimal weights lie in the span of the
    rows: any part orthogonal to them leaves every row's score unchanged and only
    adds to the penalty. So the fit runs on the rows' coordinates in an
    orthonormal basis of that span (QR of ``x.T``): the same optimum, from
    (rows + 1)-square solves instead of (columns + 1)-square ones. Measured on
    real 384-d vectors, one 5-fold cross-validation of 40 + 40: 0.074 -> 0.011
    CPU s, the same AUC; at 200 + 200 (320 training rows) the QR costs what it
    saves, so it is used up to half as many rows as columns.
    """
    rows, dim = x.shape
    if 2 * rows <= dim:
        basis, triangle = np.linalg.qr(x.T)  # x = triangle.T @ basis.T; basis orthonormal
        coordinates, intercept = _newton_logistic(triangle.T, y, c, max_iter, tol)
        return basis @ coordinates, intercept
    return _newton_logistic(x, y, c, max_iter, tol)


def _newton_logistic(
    x: np.ndarray, y: np.ndarray, c: float, max_iter: int, tol: float
) -> tuple[np.ndarray, float]:
    rows, dim = x.shape
    design = np.hstack([x, np.ones((rows, 1))])
    penalty = np.ones(dim + 1)
    penalty[-1] = 0.0
    beta = np.zeros(dim + 1)
    for _ in range(max_iter):
        p = _sigmoid(design @ beta)
        gradient = c * (design.T @ (p - y)) + penalty * beta
        hessian = c * (design.T * (p * (1.0 - p))) @ design
        hessian[np.diag_indices_from(hessian)] += penalty + 1e-12
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.max(np.abs(step))) < tol:
            break
    return beta[:-1], float(beta[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|
    return out


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney U / (n m)) of ``scores`` for labels 1 vs 0, ties counted half."""
    positive = y == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both labels")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    average_rank = upper - (counts - 1) / 2.0  # 1-based mean rank of each tied group
    rank_sum = float(average_rank[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)

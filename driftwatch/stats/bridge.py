"""Maps from one embedding space into another, fitted on paired vectors, and the
small retrieval measures ``migrate evaluate`` reports. Pure numpy/scikit-learn.

A "bridge" lets the candidate model's queries search the unchanged (current
model's) index: fit W on pairs (candidate vector, current vector) of the same
texts, then search with ``query @ W``. Two fits:

- orthogonal Procrustes: W = U V^T from the SVD of X^T Y (a rotation; needs equal
  dimensions, else it is the nearest semi-orthogonal map), numpy only;
- ridge regression (scikit-learn ``Ridge``, no intercept): any linear map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from driftwatch.embedders.base import l2_normalise


def procrustes_map(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """W (d_source, d_target) minimising ||source @ W - target|| with W^T W = I."""
    u, _, vt = np.linalg.svd(source.T.astype(np.float64) @ target.astype(np.float64))
    k = min(source.shape[1], target.shape[1])
    return np.asarray(u[:, :k] @ vt[:k, :], dtype=np.float32)


def ridge_map(source: np.ndarray, target: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """W (d_source, d_target) of a ridge regression from source to target."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha, fit_intercept=False)
    model.fit(source, target)
    return np.asarray(model.coef_.T, dtype=np.float32)


def top_k(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, similarities) of the k most cosine-similar index rows per query."""
    sims = l2_normalise(queries) @ l2_normalise(index).T
    k = min(k, index.shape[0])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
    positions = np.take_along_axis(part, order, axis=1)
    return positions, np.take_along_axis(sims, positions, axis=1)


def neighbour_recall(
    mapped: np.ndarray, native: np.ndarray, index: np.ndarray, k: int, exclude: Sequence[int]
) -> float:
    """Mean share of the native query's top-k the mapped query also finds.

    ``exclude[i]``: the index row of query i's own record, left out of both
    result lists so that finding one's own record does not count.
    """
    got, want = _without_self(mapped, index, k, exclude), _without_self(native, index, k, exclude)
    shares = [len(set(a) & set(b)) / k for a, b in zip(got, want, strict=True)]
    return float(np.mean(shares)) if shares else 0.0


def _without_self(
    queries: np.ndarray, index: np.ndarray, k: int, exclude: Sequence[int]
) -> list[list[int]]:
    positions, _ = top_k(queries, index, k + 1)
    return [
        [int(p) for p in row if p != own][:k] for row, own in zip(positions, exclude, strict=True)
    ]


def bootstrap_ci(
    values: Sequence[float],
    rng: np.random.Generator,
    resamples: int = 2000,
    level: float = 0.95,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean (or ``statistic``) of ``values``."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return None
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    stats = statistic(data[picks]) if statistic else data[picks].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)

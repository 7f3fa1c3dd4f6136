"""Bridge maps and the small retrieval measures of migrate evaluate."""

from __future__ import annotations

import numpy as np

from driftwatch.stats.bridge import (
    bootstrap_ci,
    neighbour_recall,
    procrustes_map,
    ridge_map,
    top_k,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_procrustes_recovers_a_rotation_and_mapped_queries_find_the_same_neighbours() -> None:
    rng = np.random.default_rng(0)
    current = _unit(rng.normal(size=(400, 32)))
    rotation, _ = np.linalg.qr(rng.normal(size=(32, 32)))
    candidate = current @ rotation.T  # the same space, turned
    w = procrustes_map(candidate[:300], current[:300])
    assert np.allclose(w, rotation, atol=1e-4)
    held_out = np.arange(300, 400)
    exclude = held_out.tolist()
    assert neighbour_recall(candidate[held_out] @ w, current[held_out], current, 10, exclude) == 1
    # Without the map the turned vectors find (almost) none of the right neighbours.
    assert neighbour_recall(candidate[held_out], current[held_out], current, 10, exclude) < 0.2


def test_ridge_recovers_a_general_linear_map() -> None:
    rng = np.random.default_rng(1)
    candidate = rng.normal(size=(500, 16))
    linear = rng.normal(size=(16, 24))
    w = ridge_map(candidate, candidate @ linear, alpha=1e-6)
    assert w.shape == (16, 24) and np.allclose(w, linear, atol=1e-3)


def test_top_k_orders_by_cosine() -> None:
    index = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    positions, sims = top_k(np.array([[1.0, 0.1]]), index, 2)
    assert positions.tolist() == [[0, 2]]
    assert sims[0, 0] > sims[0, 1]


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_data() -> None:
    rng = np.random.default_rng(2)
    small = rng.uniform(size=20).tolist()
    large = rng.uniform(size=2000).tolist()
    low, high = bootstrap_ci(small, np.random.default_rng(0)) or (0.0, 0.0)
    assert low <= float(np.mean(small)) <= high
    wide = high - low
    low, high = bootstrap_ci(large, np.random.default_rng(0)) or (0.0, 0.0)
    assert high - low < wide / 5
    assert bootstrap_ci([], np.random.default_rng(0)) is None

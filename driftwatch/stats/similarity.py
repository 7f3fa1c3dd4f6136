"""Row-wise cosine similarity between two sets of vectors."""

from __future__ import annotations

import numpy as np


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of a[i] and b[i] for every row i; float64, in [-1, 1].

    Both sides are normalised here (stored vectors need not be unit length);
    a zero row has no direction, so its cosine is 0 rather than NaN.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"cosine_rows needs two matrices of one shape: {x.shape} vs {y.shape}")
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    dots = np.einsum("ij,ij->i", x, y)
    out = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    clipped: np.ndarray = np.clip(out, -1.0, 1.0)
    return clipped

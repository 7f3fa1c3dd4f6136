import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftwatch.stats.similarity import cosine_rows

finite = st.floats(-100, 100, allow_nan=False, width=32)


@given(arrays(np.float32, (5, 8), elements=finite), arrays(np.float32, (5, 8), elements=finite))
def test_cosine_is_symmetric_and_bounded(a: np.ndarray, b: np.ndarray) -> None:
    ab, ba = cosine_rows(a, b), cosine_rows(b, a)
    assert np.allclose(ab, ba)
    assert np.all((ab >= -1) & (ab <= 1))


def test_cosine_ignores_length_and_sign_of_direction() -> None:
    a = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    b = np.array([[2.0, 4.0, 6.0], [-3.0, 0.0, 0.0]])
    assert cosine_rows(a, b) == pytest.approx([1.0, -1.0])


def test_zero_row_gives_zero_not_nan() -> None:
    assert cosine_rows(np.zeros((1, 3)), np.ones((1, 3))).tolist() == [0.0]


def test_shape_mismatch_is_named() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\) vs \(2, 4\)"):
        cosine_rows(np.ones((2, 3)), np.ones((2, 4)))

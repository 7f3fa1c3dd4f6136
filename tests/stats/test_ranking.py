import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftwatch.stats.ranking import (
    overlap_at_k,
    rank_biased_overlap,
    recall_at_k,
    reciprocal_rank,
)

ranked = st.lists(st.sampled_from("abcdefghijklmnopqrst"), max_size=15, unique=True)


@given(ranked, ranked)
def test_rbo_is_symmetric_and_bounded(a: list[str], b: list[str]) -> None:
    x, y = rank_biased_overlap(a, b), rank_biased_overlap(b, a)
    assert x == pytest.approx(y)
    assert 0 <= x <= 1


@given(st.lists(st.text(min_size=1), min_size=1, max_size=20, unique=True))
def test_rbo_of_a_list_with_itself_is_one(a: list[str]) -> None:
    assert rank_biased_overlap(a, a) == pytest.approx(1.0)


def test_rbo_of_disjoint_lists_is_zero() -> None:
    assert rank_biased_overlap(list("abc"), list("xyz")) == 0.0


def test_rbo_weights_the_top() -> None:
    base = list("abcdefghij")
    swap_top = list("bacdefghij")
    swap_bottom = list("abcdefghji")
    assert rank_biased_overlap(base, swap_bottom) > rank_biased_overlap(base, swap_top) > 0.8


def test_rbo_empty_lists() -> None:
    assert rank_biased_overlap([], []) == 1.0
    assert rank_biased_overlap([], ["a"]) == 0.0


def test_rbo_matches_the_papers_uneven_formula_on_a_prefix() -> None:
    # A short list that is a prefix of the long one agrees completely as far as it goes:
    # the extrapolation assumes the agreement continues.
    assert rank_biased_overlap(list("abc"), list("abcdef")) == pytest.approx(1.0)


@given(ranked, ranked, st.integers(1, 15))
def test_overlap_is_symmetric_and_bounded(a: list[str], b: list[str], k: int) -> None:
    assert overlap_at_k(a, b, k) == overlap_at_k(b, a, k)
    assert 0 <= overlap_at_k(a, b, k) <= 1


def test_overlap_ignores_order_within_k() -> None:
    assert overlap_at_k(list("abcd"), list("dcba"), 4) == 1.0
    assert overlap_at_k(list("abcd"), list("abxy"), 4) == 0.5


def test_recall_and_reciprocal_rank() -> None:
    results = ["x", "a", "y", "b"]
    assert recall_at_k(results, {"a", "b"}, 2) == 0.5
    assert recall_at_k(results, {"a", "b"}, 4) == 1.0
    assert reciprocal_rank(results, {"b", "a"}) == 0.5
    assert reciprocal_rank(results, {"z"}) == 0.0


def test_recall_needs_expected_ids() -> None:
    with pytest.raises(ValueError, match="expected id"):
        recall_at_k(["a"], set(), 1)

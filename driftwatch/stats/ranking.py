"""Agreement between two ranked result lists, and retrieval quality against expected ids.

Used by the canary check: the ids a canary query returns now vs at baseline
(overlap@k, rank-biased overlap) and vs the ids it should return (recall@k,
reciprocal rank).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / k, in [0, 1]; order within the top k does not matter."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return len(set(a[:k]) & set(b[:k])) / k


def rank_biased_overlap(a: Sequence[str], b: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap (Webber, Moffat and Zobel 2010, eq. 32), in [0, 1].

    Top-weighted: with p=0.9 the first 10 ranks carry ~86% of the weight.
    Handles lists of different lengths; two empty lists agree (1.0), one
    empty list agrees with nothing (0.0). Ids are assumed unique per list.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, n = len(short), len(long_)
    if n == 0:
        return 1.0
    if s == 0:
        return 0.0
    seen_short: set[str] = set()
    seen_long: set[str] = set()
    overlap = 0
    weighted = 0.0
    x_s = 0
    for d in range(1, n + 1):
        item_long = long_[d - 1]
        if d <= s:
            item_short = short[d - 1]
            if item_short == item_long:
                overlap += 1
            else:
                overlap += (item_short in seen_long) + (item_long in seen_short)
            seen_short.add(item_short)
        elif item_long in seen_short:
            overlap += 1
        seen_long.add(item_long)
        if d == s:
            x_s = overlap
        weighted += overlap / d * p**d
        if d > s:
            weighted += x_s * (d - s) / (s * d) * p**d
    extrapolated = ((overlap - x_s) / n + x_s / s) * p**n
    return min(1.0, (1 - p) / p * weighted + extrapolated)


def recall_at_k(results: Sequence[str], expected: Collection[str], k: int) -> float:
    """Share of the expected ids found in the top k results."""
    if not expected:
        raise ValueError("recall needs at least one expected id")
    return len(set(results[:k]) & set(expected)) / len(set(expected))


def reciprocal_rank(results: Sequence[str], expected: Collection[str]) -> float:
    """1 / rank of the first expected id in the results, 0 if none is there."""
    wanted = set(expected)
    for rank, item in enumerate(results, start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0

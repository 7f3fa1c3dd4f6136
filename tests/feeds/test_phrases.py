"""One list of retirement phrases: the date reader and the notice matcher agree on it."""

from __future__ import annotations

from datetime import date

import pytest

from driftwatch.feeds import dates, match
from driftwatch.feeds.dates import scan_dates
from driftwatch.feeds.match import is_retirement_notice
from driftwatch.feeds.phrases import RETIREMENT_PHRASES

# Wording from real notices (DESIGN.md) and the phrases the two old copies disagreed on.
PHRASES = {
    "deprecated": ["was deprecated on", "moves to legacy on"],
    "shutdown": [
        "will be shut down on",
        "will be retired on",
        "will be discontinued on",
        "is no longer available after",
        "is no longer accessible after",
        "reaches end of life on",
        "reaches end of support on",
        "will be removed on",
        "is sunset on",
        "will be decommissioned on",
        "requests will fail after",
    ],
    "earliest_shutdown": ["retires no earlier than", "retires no sooner than"],
}


@pytest.mark.parametrize(
    ("kind", "phrase"), [(k, p) for k, phrases in PHRASES.items() for p in phrases]
)
def test_a_phrase_that_dates_a_retirement_also_makes_a_notice(kind: str, phrase: str) -> None:
    text = f"text-embedding-ada-002 {phrase} 2026-10-30."
    (found,) = scan_dates(text, date(2026, 1, 1)).found
    assert found.kind == kind
    assert is_retirement_notice(text)


def test_not_before_alone_is_no_retirement() -> None:
    # "earliest shutdown" phrases only classify dates: they announce nothing alone.
    assert not is_retirement_notice("Do not migrate text-embedding-3-small not before 2026-10-30.")


def test_both_readers_use_the_one_list() -> None:
    assert dates.RETIREMENT_PHRASES is RETIREMENT_PHRASES
    assert not hasattr(match, "RETIREMENT")  # the second copy is gone

"""Dates in real notice wording, their classification, and arbitrary text."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.feeds.dates import NoticeDates, notice_dates, scan_dates

# The wording providers actually used (DESIGN.md), with what each announces.
REAL_NOTICES = [
    (
        "They will be shut down on January 04, 2024.",
        NoticeDates(shutdown_on=date(2024, 1, 4)),
    ),
    (
        "The following models were deprecated on July 6, 2023 and will be retired on "
        "June 14, 2024.",
        NoticeDates(deprecated_on=date(2023, 7, 6), shutdown_on=date(2024, 6, 14)),
    ),
    (
        "| `text-embedding-ada-002` | 2 | Generally Available | n/a | No earlier than "
        "2026-10-30 | n/a |",
        NoticeDates(earliest_shutdown_on=date(2026, 10, 30)),
    ),
    (
        "Effective April 4, 2026, the following models are no longer available. Requests "
        "using these model IDs will fail.",
        NoticeDates(shutdown_on=date(2026, 4, 4)),
    ),
    (
        "On October 30, 2025, the following embedding models will be discontinued and will "
        "start returning errors",
        NoticeDates(shutdown_on=date(2025, 10, 30)),
    ),
    (
        "Titan Embeddings G1 - Text: Legacy. EOL date: No sooner than 9/23/2025",
        NoticeDates(earliest_shutdown_on=date(2025, 9, 23)),
    ),
    (
        "The embed-english-v2.0 model will be retired on 4 January 2024.",
        NoticeDates(shutdown_on=date(2024, 1, 4)),
    ),
    (
        "Deprecated on June 14th, 2024; shutdown on the 1st of nothing.",
        NoticeDates(deprecated_on=date(2024, 6, 14)),
    ),
]


@pytest.mark.parametrize(("text", "expected"), REAL_NOTICES)
def test_real_notice_wording(text: str, expected: NoticeDates) -> None:
    assert notice_dates(text, reference=date(2023, 6, 1)) == expected


def test_yearless_date_takes_the_entry_year() -> None:
    text = "November 18th: text-embedding-004 will be shut down."
    assert notice_dates(text, reference=date(2025, 11, 1)).shutdown_on == date(2025, 11, 18)


def test_yearless_date_well_before_the_entry_means_next_year() -> None:
    text = "January 14th: text-embedding-004 will be shut down."
    assert notice_dates(text, reference=date(2025, 11, 1)).shutdown_on == date(2026, 1, 14)


def test_yearless_date_without_reference_is_not_guessed() -> None:
    assert scan_dates("November 18th: shut down", reference=None).found == ()


def test_dates_that_do_not_exist_are_reported_not_used() -> None:
    scan = scan_dates("Retired on 2024-02-30 and February 31, 2025.", reference=None)
    assert scan.found == ()
    assert scan.invalid == ("2024-02-30", "February 31, 2025")


def test_a_date_without_a_retirement_phrase_is_unclassified() -> None:
    scan = scan_dates("We published a blog post on March 3, 2024.", reference=None)
    assert [(d.on, d.kind) for d in scan.found] == [(date(2024, 3, 3), None)]
    assert not notice_dates("We published a blog post on March 3, 2024.").any


def test_phrases_do_not_cross_sentences() -> None:
    text = "Model X is deprecated. Our conference is on May 5, 2025."
    assert [d.kind for d in scan_dates(text).found] == [None]


def test_each_table_row_keeps_its_own_kind() -> None:
    text = (
        "| model | deprecation | retirement |\n"
        "| a | deprecated 2025-01-01 | retired 2025-06-01 |\n"
        "| b | n/a | no earlier than 2026-10-30 |"
    )
    kinds = [(d.on, d.kind) for d in scan_dates(text).found]
    assert kinds == [
        (date(2025, 1, 1), "deprecated"),
        (date(2025, 6, 1), "shutdown"),
        (date(2026, 10, 30), "earliest_shutdown"),
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.none() | st.dates())
def test_arbitrary_text_never_raises(text: str, reference: date | None) -> None:
    scan = scan_dates(text, reference)
    for found in scan.found:
        assert 0 <= found.start < found.end <= len(text)


_NOISE = st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(_NOISE, st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)), _NOISE)
def test_an_iso_shutdown_date_in_noise_is_found(before: str, day: date, after: str) -> None:
    text = f"{before} will be shut down on {day.isoformat()} {after}"
    assert day in [d.on for d in scan_dates(text).found]

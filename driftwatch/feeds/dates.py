"""Read the dates a retirement notice announces, and what each date means.

Providers write dates every which way; these forms are recognised::

    2026-10-30            January 04, 2024      4 January 2024
    June 14th, 2024       9/23/2025 (US order)  November 18th (no year)

A yearless date takes its year from the entry's own date (the ``reference``);
if that puts it more than ``YEARLESS_PAST_DAYS`` before the entry, it means
next year's. Each date is classified by the nearest retirement phrase
(``feeds.phrases``, the one list) in the same clause, preferring a phrase
before the date ("will be retired on June 14") over one after it
("On October 30, 2025, ... will be discontinued"):

- ``deprecated``         deprecated on ...
- ``shutdown``           shut down / retired / discontinued / no longer available ...
- ``earliest_shutdown``  no earlier than / no sooner than ...

The entry's published/updated time is never passed through here: it is the
announcement date, not a shutdown date. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from driftwatch.feeds.phrases import RETIREMENT_PHRASES, PhraseKind

DateKind = PhraseKind

YEARLESS_PAST_DAYS = 90
# A phrase further than this from a date (within its clause) does not classify it.
MAX_PHRASE_DISTANCE = 120

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"

# Most specific first: a span taken by an earlier pattern is not matched again.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<![\d-])" + _YEAR + r"-(?P<m>\d{2})-(?P<day>\d{2})(?![\d])")),
    ("us", re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<day>\d{1,2})/" + _YEAR + r"(?![\d/])")),
    ("mdy", re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r"(?:\s*,\s*|\s+)" + _YEAR + r"\b", re.I)),
    ("dmy", re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR + r"\b", re.I)),
    ("md", re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r"\b(?!\s*,?\s*\d)", re.I)),
]

# Clause boundaries: sentence ends, line breaks, table cells, semicolons.
_BOUNDARY = re.compile(r"[.!?](?:\s|$)|[\n|;]")


@dataclass(frozen=True)
class FoundDate:
    """One date in the text: where it stands and what it announces (None: unclear)."""

    on: date
    kind: DateKind | None
    start: int
    end: int


@dataclass(frozen=True)
class DateScan:
    """Every date found, plus date-shaped text that is no real date (``2024-02-30``)."""

    found: tuple[FoundDate, ...]
    invalid: tuple[str, ...]


@dataclass(frozen=True)
class NoticeDates:
    """The earliest date of each kind a notice announces."""

    deprecated_on: date | None = None
    shutdown_on: date | None = None
    earliest_shutdown_on: date | None = None

    @property
    def any(self) -> bool:
        return any((self.deprecated_on, self.shutdown_on, self.earliest_shutdown_on))


def scan_dates(text: str, reference: date | None = None) -> DateScan:
    """Find and classify every date in ``text``; ``reference`` resolves yearless dates."""
    taken: list[tuple[int, int]] = []
    found: list[FoundDate] = []
    invalid: list[str] = []
    for form, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            parsed = _to_date(form, match, reference)
            if parsed is None:
                if form != "md" or reference is not None:
                    invalid.append(match.group(0))
                continue
            found.append(FoundDate(parsed, _classify(text, start, end), start, end))
    found.sort(key=lambda d: d.start)
    return DateScan(tuple(found), tuple(invalid))


def notice_dates(text: str, reference: date | None = None) -> NoticeDates:
    """The earliest deprecated / shutdown / earliest-shutdown date in ``text``."""
    return summarise(scan_dates(text, reference).found)


def summarise(found: tuple[FoundDate, ...] | list[FoundDate]) -> NoticeDates:
    """Reduce classified dates to the earliest of each kind; unclassified ones are dropped."""

    def earliest(kind: DateKind) -> date | None:
        dates = [d.on for d in found if d.kind == kind]
        return min(dates) if dates else None

    return NoticeDates(earliest("deprecated"), earliest("shutdown"), earliest("earliest_shutdown"))


def _to_date(form: str, match: re.Match[str], reference: date | None) -> date | None:
    groups = match.groupdict()
    month = int(groups["m"]) if groups.get("m") else _MONTHS[groups["month"].lower()]
    day = int(groups["day"])
    if form == "md":
        if reference is None:
            return None
        candidate = _safe_date(reference.year, month, day)
        if candidate is not None and candidate < reference - timedelta(days=YEARLESS_PAST_DAYS):
            candidate = _safe_date(reference.year + 1, month, day)
        return candidate
    return _safe_date(int(groups["year"]), month, day)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _classify(text: str, start: int, end: int) -> DateKind | None:
    """The kind named by the nearest retirement phrase in the date's clause."""
    clause_start = max((m.end() for m in _BOUNDARY.finditer(text, 0, start)), default=0)
    after = _BOUNDARY.search(text, end)
    clause_end = after.start() if after else len(text)
    best: tuple[float, DateKind] | None = None
    for kind, pattern in RETIREMENT_PHRASES:
        for match in pattern.finditer(text, clause_start, clause_end):
            if match.end() <= start:
                distance: float = start - match.end()
            elif match.start() >= end:
                # A phrase after the date counts, but less than one before it.
                distance = (match.start() - end) * 1.5 + 10
            else:
                continue
            if distance <= MAX_PHRASE_DISTANCE and (best is None or distance < best[0]):
                best = (distance, kind)
    return best[1] if best else None

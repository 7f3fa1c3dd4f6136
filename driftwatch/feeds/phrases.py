"""The one list of retirement phrases, and what each one announces.

Two readers used to keep their own copies, and the copies drifted apart: a
notice saying a model "is no longer accessible" was classified as a shutdown
date but not recognised as a retirement notice at all. Both readers now use
this list:

- ``feeds.match.is_retirement_notice``: does an entry speak of retirement
  (``deprecated`` and ``shutdown`` phrases);
- ``feeds.dates``: what a date next to a phrase means (all three kinds).

``earliest_shutdown`` phrases ("not before") say nothing about retirement on
their own ("not before you migrate"), so they only classify dates.
Pure data and one helper, no I/O.
"""

from __future__ import annotations

import re
from typing import Literal

PhraseKind = Literal["deprecated", "shutdown", "earliest_shutdown"]

# (kind, pattern); the order is the order dates.py prefers on a tie.
RETIREMENT_PHRASES: tuple[tuple[PhraseKind, re.Pattern[str]], ...] = (
    (
        "earliest_shutdown",
        re.compile(r"no (?:earlier|sooner) than|not before|at the earliest", re.I),
    ),
    ("deprecated", re.compile(r"\bdeprecat\w*|\blegacy\b", re.I)),
    (
        "shutdown",
        re.compile(
            r"\bshut(?:s|ting)?[ -]?down\b|\bretir\w*|\bdiscontinu\w*|\bsunset\w*"
            r"|\bno longer (?:be )?(?:available|supported|accessible)"
            r"|\bremov(?:ed|al)\b|\bend[ -]of[ -](?:life|support)\b|\bEOL\b"
            r"|\b(?:start(?:s|ing)? )?returning errors\b|\bwill fail\b|\bturned off\b"
            r"|\bdecommission\w*",
            re.I,
        ),
    ),
)

_ANNOUNCES_RETIREMENT = re.compile(
    "|".join(p.pattern for kind, p in RETIREMENT_PHRASES if kind != "earliest_shutdown"), re.I
)


def speaks_of_retirement(text: str) -> bool:
    """True when ``text`` contains a deprecation or shutdown phrase."""
    return _ANNOUNCES_RETIREMENT.search(text) is not None

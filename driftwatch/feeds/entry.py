"""What a parsed feed is made of: entries, and the notices some state as data.

Shared by the format readers (``feeds.parse`` for RSS / Atom / JSON Feed,
``feeds.catalog`` for model-deprecation catalogs) and everything downstream.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from driftwatch.errors import FeedParseError


class FeedParseFailed(FeedParseError):
    """A body that is not a usable feed, with the reason label it is counted under."""

    def __init__(self, feed: str, reason: str, detail: str) -> None:
        super().__init__(f"feed {feed}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class StructuredNotice:
    """A model and its dates as a feed states them in data, not prose."""

    model: str
    provider: str | None = None
    deprecated_on: date | None = None
    shutdown_on: date | None = None
    earliest_shutdown_on: date | None = None
    aliases: tuple[str, ...] = ()  # other ids of the same model (dated snapshots)
    replacement: tuple[str, ...] = ()  # where users should migrate, recommended first


@dataclass(frozen=True)
class Entry:
    """One feed entry; ``text`` is title plus summary/content with HTML stripped."""

    id: str
    title: str
    text: str
    link: str | None
    published: datetime | None
    updated: datetime | None
    structured: tuple[StructuredNotice, ...] = ()
    prose: bool = True  # False: ``text`` is a summary of ``structured``, not to be matched

    @property
    def announced(self) -> datetime | None:
        """When the notice was published (the announcement, never the shutdown)."""
        return self.published or self.updated

    @property
    def content_hash(self) -> str:
        """Changes whenever the entry is edited in place."""
        parts = [self.title, self.text, self.link or "", repr(self.structured)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = field(default=())  # per-entry problems (bad dates)


def hash_id(title: str, texts: list[str]) -> str:
    return "sha256:" + hashlib.sha256((title + "".join(texts)).encode()).hexdigest()


def iso_date(value: Any, where: str, problems: list[str]) -> date | None:
    """A ``YYYY-MM-DD`` date, or None (an unparsable one is added to ``problems``)."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        problems.append(f"{where}: date {str(value)[:40]!r} does not parse (want YYYY-MM-DD)")
        return None

"""What the feed watcher hands to the notifier: one new or changed deprecation notice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DeprecationEvent:
    """A model in use appeared in a retirement notice (new, or its dates changed)."""

    model: str
    provider: str
    feed: str
    title: str
    link: str | None
    deprecated_on: date | None
    shutdown_on: date | None
    earliest_shutdown_on: date | None
    needs_review: bool  # matched only through a family alias
    conflict: bool  # another source gives a different shutdown date
    changed: bool  # an entry edited in place: its dates differ from what was notified
    notice_id: int | None = None  # deprecation_notices row; FeedWatcher.mark_notified uses it
    replacement: str | None = None  # "migrate to": what the notice recommends instead
    conflict_detail: str | None = None  # which sources give which shutdown dates

    @property
    def fingerprint(self) -> str:
        return f"deprecation/{self.provider}/{self.model}"

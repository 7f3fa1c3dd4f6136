"""What ``driftwatch feeds check`` shows: notices for models in use, and feed health.

``FeedReport.to_json()`` is the ``--json`` output::

    {"generated_at": "2026-01-02T03:04:05+00:00", "exit_code": 1,
     "feeds": [{"feed": "openai", "url": "https://example.org/…", "status": "ok",
                "reason": null, "message": "12 entries", "entries": 12,
                "new_notices": 1, "duration_s": 0.2}],
     "notices": [{"model": "text-embedding-ada-002", "provider": "openai",
                  "feed": "openai", "title": "...", "link": "...",
                  "matched_as": "text-embedding-ada-002", "announced": "...",
                  "deprecated_on": null, "shutdown_on": "2024-01-04",
                  "earliest_shutdown_on": null, "days_until_shutdown": -30,
                  "needs_review": false, "conflict": false,
                  "replacement": "text-embedding-3-small", "conflict_detail": null}]}

Exit code: 2 when any feed failed (it wins: a blind feed must not hide behind
a notice), else 1 when a model in use has a notice, else 0.

``render_report`` prints the same as two rich tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

FetchStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class FeedOutcome:
    """How one feed check went."""

    feed: str
    url: str  # redacted
    status: FetchStatus
    reason: str | None  # the driftwatch_feed_errors_total reason label on error
    message: str
    entries: int | None
    new_notices: int
    duration_s: float


@dataclass(frozen=True)
class NoticeView:
    """One current notice about a model in use."""

    model: str
    provider: str
    feed: str
    title: str
    link: str | None
    matched_as: str
    announced: datetime | None
    deprecated_on: date | None
    shutdown_on: date | None
    earliest_shutdown_on: date | None
    days_until_shutdown: int | None
    needs_review: bool
    conflict: bool
    replacement: str | None = None  # "migrate to": what the notice recommends instead
    conflict_detail: str | None = None  # which sources give which shutdown dates

    @property
    def effective_shutdown(self) -> date | None:
        """The announced shutdown date, or else the earliest possible one."""
        return self.shutdown_on or self.earliest_shutdown_on


@dataclass(frozen=True)
class FeedReport:
    generated_at: datetime
    feeds: tuple[FeedOutcome, ...]
    notices: tuple[NoticeView, ...]

    @property
    def exit_code(self) -> int:
        """2: a feed failed; else 1: a model in use has a notice; else 0: all clear.

        A failed feed wins over a notice: notices stay recorded and listed either
        way, but a script that only sees "1, notice" would never learn that a
        feed went blind and later notices are being missed.
        """
        if any(f.status == "error" for f in self.feeds):
            return 2
        if self.notices:
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "exit_code": self.exit_code,
            "feeds": [asdict(f) for f in self.feeds],
            "notices": [notice_json(n) for n in self.notices],
        }


def notice_json(notice: NoticeView) -> dict[str, Any]:
    """One notice as JSON: dates in ISO form."""
    data = asdict(notice)
    for key, value in data.items():
        if isinstance(value, date | datetime):
            data[key] = value.isoformat()
    return data


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def render_report(report: FeedReport, console: Console) -> None:
    """Print the notices, then each feed's fetch status."""
    if report.notices:
        table = Table(title="Deprecation notices for models in use")
        table.add_column("model", overflow="fold", min_width=12)
        table.add_column("provider", overflow="fold", min_width=8)
        for column in ("deprecated", "shutdown"):
            table.add_column(column, no_wrap=True)
        table.add_column("days left", justify="right")
        table.add_column("source", overflow="fold")
        table.add_column("notice", overflow="fold", min_width=20)
        for n in report.notices:
            shutdown = _day(n.shutdown_on)
            if n.shutdown_on is None and n.earliest_shutdown_on is not None:
                shutdown = f"≥ {_day(n.earliest_shutdown_on)}"
            flags = [
                f for f, on in (("needs review", n.needs_review), ("conflict", n.conflict)) if on
            ]
            days = "-" if n.days_until_shutdown is None else str(n.days_until_shutdown)
            style = (
                "red" if n.days_until_shutdown is not None and n.days_until_shutdown < 30 else None
            )
            title = n.title + (f" [{', '.join(flags)}]" if flags else "")
            if n.replacement:
                title += f"\nmigrate to {n.replacement} (driftwatch migrate plan)"
            if n.conflict_detail:
                title += f"\n{n.conflict_detail}"
            if n.link:
                title += f"\n{n.link}"
            # Feed text is data, not rich markup: "[...]" in a title must print as is.
            table.add_row(
                Text(n.model),
                Text(n.provider),
                _day(n.deprecated_on),
                shutdown,
                days,
                Text(n.feed),
                Text(title),
                style=style,
            )
        console.print(table)
    else:
        console.print("No deprecation notices for the models in use.")
    feeds = Table(title="Feeds")
    for column in ("feed", "status", "entries", "new", "message"):
        feeds.add_column(column)
    for f in report.feeds:
        status = f.status if f.reason is None else f"{f.status} ({f.reason})"
        entries = "-" if f.entries is None else str(f.entries)
        feeds.add_row(
            Text(f.feed),
            status,
            entries,
            str(f.new_notices),
            Text(f.message),
            style="red" if f.status == "error" else None,
        )
    console.print(feeds)


def render_notices(notices: Sequence[NoticeView], console: Console) -> None:
    """The short deprecation table of ``driftwatch status``: what retires, when, what next."""
    if not notices:
        return
    table = Table(title="deprecation notices for models in use")
    for column in ("model", "shutdown", "days left", "migrate to", "source"):
        table.add_column(column, overflow="fold")
    for n in notices:
        shutdown = _day(n.effective_shutdown)
        if n.shutdown_on is None and n.earliest_shutdown_on is not None:
            shutdown = f"≥ {shutdown}"
        days = "-" if n.days_until_shutdown is None else str(n.days_until_shutdown)
        table.add_row(
            Text(n.model),
            shutdown + (" (sources disagree)" if n.conflict else ""),
            days,
            Text(n.replacement or "-"),
            Text(n.feed),
        )
    console.print(table)
    console.print("Plan each migration with: driftwatch migrate plan --collection NAME")

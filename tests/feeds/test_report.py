"""The feeds check report: JSON shape, exit codes, and the rich tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from rich.console import Console

from driftwatch.feeds.report import FeedOutcome, FeedReport, NoticeView, render_report

AT = datetime(2025, 12, 1, tzinfo=UTC)
OK = FeedOutcome("azure", "https://example.org/…", "ok", None, "3 entries", 3, 1, 0.1)
DOWN = FeedOutcome(
    "down", "https://example.org/…", "error", "http_5xx", "feed down: 500", None, 0, 0.1
)
NOTICE = NoticeView(
    model="text-embedding-ada-002",
    provider="openai",
    feed="azure",
    title="Embedding model retirement dates",
    link="https://example.org/azure",
    matched_as="text-embedding-ada-002",
    announced=datetime(2025, 10, 15, tzinfo=UTC),
    deprecated_on=None,
    shutdown_on=None,
    earliest_shutdown_on=date(2026, 10, 30),
    days_until_shutdown=333,
    needs_review=True,
    conflict=False,
)


def test_exit_codes() -> None:
    assert FeedReport(AT, (OK,), ()).exit_code == 0
    assert FeedReport(AT, (OK, DOWN), ()).exit_code == 2
    # A failed feed wins: a notice must not hide a feed that went blind.
    assert FeedReport(AT, (OK, DOWN), (NOTICE,)).exit_code == 2
    assert FeedReport(AT, (OK,), (NOTICE,)).exit_code == 1


def test_json_is_serialisable_and_complete() -> None:
    data = json.loads(json.dumps(FeedReport(AT, (OK, DOWN), (NOTICE,)).to_json()))
    assert data["generated_at"] == AT.isoformat()
    assert data["exit_code"] == 2
    assert [f["status"] for f in data["feeds"]] == ["ok", "error"]
    assert data["feeds"][1]["reason"] == "http_5xx"
    (notice,) = data["notices"]
    assert notice["earliest_shutdown_on"] == "2026-10-30"
    assert notice["shutdown_on"] is None
    assert notice["announced"] == "2025-10-15T00:00:00+00:00"
    assert (notice["needs_review"], notice["conflict"]) == (True, False)
    assert (notice["replacement"], notice["conflict_detail"]) == (None, None)


def test_render_shows_notices_and_feed_status() -> None:
    console = Console(record=True, width=200)
    render_report(FeedReport(AT, (OK, DOWN), (NOTICE,)), console)
    text = console.export_text()
    assert "text-embedding-ada-002" in text
    assert "≥ 2026-10-30" in text
    assert "333" in text
    assert "Embedding model retirement dates [needs review]" in text
    assert "error (http_5xx)" in text


def test_feed_text_is_not_taken_as_markup() -> None:
    console = Console(record=True, width=200)
    odd = FeedOutcome("[bold]x", "u", "error", "malformed", "feed [red]x[/red]: bad", None, 0, 0.1)
    render_report(FeedReport(AT, (odd,), ()), console)
    assert "feed [red]x[/red]: bad" in console.export_text()


def test_render_without_notices() -> None:
    console = Console(record=True, width=120)
    render_report(FeedReport(AT, (OK,), ()), console)
    assert "No deprecation notices for the models in use." in console.export_text()

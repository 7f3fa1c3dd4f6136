"""The shutdown calendar, read back with a real iCalendar parser (the icalendar package)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar

from driftwatch.feeds.calendar import REMINDER_DAYS, shutdown_calendar
from driftwatch.feeds.report import NoticeView

TODAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _notice(model: str, feed: str = "openai", **kw: object) -> NoticeView:
    values: dict[str, object] = {
        "model": model,
        "provider": "openai",
        "feed": feed,
        "title": f"{model}; retirement, with commas",
        "link": f"https://example.org/{model}",
        "matched_as": model,
        "announced": None,
        "deprecated_on": None,
        "shutdown_on": None,
        "earliest_shutdown_on": None,
        "days_until_shutdown": None,
        "needs_review": False,
        "conflict": False,
        **kw,
    }
    return NoticeView(**values)  # type: ignore[arg-type]


def test_upcoming_shutdowns_become_all_day_events_with_reminders() -> None:
    notices = [
        _notice(
            "text-embedding-ada-002",
            shutdown_on=date(2026, 4, 30),
            replacement="text-embedding-3-small",
        ),
        _notice("embed-english-v2.0", earliest_shutdown_on=date(2026, 3, 1)),  # today counts
        _notice("textembedding-gecko@001", shutdown_on=date(2026, 2, 28)),  # past: left out
        _notice("no-date-001"),  # no date: nothing to put in a calendar
    ]
    cal = Calendar.from_ical(shutdown_calendar(notices, TODAY, NOW))
    assert str(cal["VERSION"]) == "2.0"
    events = cal.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == [
        "embed-english-v2.0 (openai) earliest shutdown",
        "text-embedding-ada-002 (openai) shuts down",
    ]
    ada = events[1]
    assert ada.decoded("DTSTART") == date(2026, 4, 30)
    assert ada.decoded("DTEND") == date(2026, 5, 1)
    assert ada.decoded("DTSTAMP") == NOW
    description = str(ada["DESCRIPTION"])
    assert "Migrate to text-embedding-3-small." in description
    assert "driftwatch migrate plan" in description
    # Text with commas and semicolons survives the escaping.
    assert "text-embedding-ada-002; retirement, with commas" in description
    assert str(ada["URL"]) == "https://example.org/text-embedding-ada-002"
    triggers = sorted(alarm.decoded("TRIGGER") for alarm in ada.walk("VALARM"))
    assert triggers == sorted(timedelta(days=-d) for d in REMINDER_DAYS)
    assert "earliest date" in str(events[0]["DESCRIPTION"])


def test_uids_are_stable_so_a_subscribed_calendar_updates_in_place() -> None:
    notice = _notice("text-embedding-ada-002", shutdown_on=date(2026, 4, 30))
    first = Calendar.from_ical(shutdown_calendar([notice], TODAY, NOW)).walk("VEVENT")
    later = Calendar.from_ical(shutdown_calendar([notice], TODAY, NOW + timedelta(days=3))).walk(
        "VEVENT"
    )
    assert [str(e["UID"]) for e in first] == [str(e["UID"]) for e in later]
    moved = _notice("text-embedding-ada-002", shutdown_on=date(2026, 5, 15))
    (other,) = Calendar.from_ical(shutdown_calendar([moved], TODAY, NOW)).walk("VEVENT")
    assert str(other["UID"]) != str(first[0]["UID"])


def test_sources_that_disagree_give_one_event_per_date_saying_so() -> None:
    detail = "sources disagree: azure 2026-06-30; catalog ≥ 2026-10-30"
    notices = [
        _notice(
            "text-embedding-ada-002",
            feed="azure",
            shutdown_on=date(2026, 6, 30),
            conflict=True,
            conflict_detail=detail,
        ),
        _notice(
            "text-embedding-ada-002",
            feed="catalog",
            earliest_shutdown_on=date(2026, 10, 30),
            conflict=True,
            conflict_detail=detail,
        ),
    ]
    events = Calendar.from_ical(shutdown_calendar(notices, TODAY, NOW)).walk("VEVENT")
    assert [e.decoded("DTSTART") for e in events] == [date(2026, 6, 30), date(2026, 10, 30)]
    for event in events:
        assert detail in str(event["DESCRIPTION"])


def test_no_upcoming_shutdown_is_still_a_valid_calendar() -> None:
    cal = Calendar.from_ical(shutdown_calendar([], TODAY, NOW))
    assert cal.walk("VEVENT") == []
    assert str(cal["PRODID"]).startswith("-//driftwatch//")

"""An iCalendar file of the upcoming shutdowns of the models in use, for on-call.

``driftwatch feeds calendar`` writes it from the notices in the state DB, so a
team can subscribe to it (or import it) and see each shutdown date in the
calendar they already read. One all-day event per model in use and announced
shutdown date (a model whose sources disagree gets one event per date, each
saying so), with reminders 30 and 7 days before. The event's UID is derived
from the model, provider and date, so regenerating the file updates events in
place instead of duplicating them.

The file is written with the ``icalendar`` package (RFC 5545: line folding,
escaping, CRLF) rather than by hand; it is imported only here, so the daemon
never loads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from driftwatch import __version__
from driftwatch.feeds.report import NoticeView

REMINDER_DAYS = (30, 7)
PRODID = f"-//driftwatch//driftwatch {__version__}//EN"


def shutdown_calendar(notices: Iterable[NoticeView], today: date, now: datetime) -> bytes:
    """The iCalendar document of every shutdown on or after ``today``."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "driftwatch: model shutdowns")
    for (model, provider, day), group in _by_shutdown(notices, today).items():
        first = group[0]
        soft = all(n.shutdown_on is None for n in group)
        event = Event()
        event.add("uid", _uid(model, provider, day))
        event.add("dtstamp", now)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        when = "earliest shutdown" if soft else "shuts down"
        event.add("summary", f"{model} ({provider}) {when}")
        event.add("description", _description(group))
        event.add("categories", ["driftwatch", "model-shutdown"])
        event.add("transp", "TRANSPARENT")
        if first.link:
            event.add("url", first.link)
        for days in REMINDER_DAYS:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{model} shuts down in {days} days")
            alarm.add("trigger", timedelta(days=-days))
            event.add_component(alarm)
        cal.add_component(event)
    return bytes(cal.to_ical())


def _by_shutdown(
    notices: Iterable[NoticeView], today: date
) -> dict[tuple[str, str, date], list[NoticeView]]:
    grouped: dict[tuple[str, str, date], list[NoticeView]] = {}
    for notice in notices:
        day = notice.effective_shutdown
        if day is not None and day >= today:
            grouped.setdefault((notice.model, notice.provider, day), []).append(notice)
    return dict(sorted(grouped.items(), key=lambda item: (item[0][2], item[0][0])))


def _description(group: list[NoticeView]) -> str:
    first = group[0]
    lines = [f"{first.model} ({first.provider}) is retired by its provider on this date."]
    replacements = sorted({n.replacement for n in group if n.replacement})
    if replacements:
        lines.append("Migrate to " + " or ".join(replacements) + ".")
    lines.append("Plan the re-embedding with: driftwatch migrate plan")
    if first.shutdown_on is None:
        lines.append("The provider gave an earliest date: the shutdown may come later.")
    details = sorted({n.conflict_detail for n in group if n.conflict_detail})
    lines += [f"Dates differ between sources ({d})." for d in details]
    lines += [f"Source: {n.feed}: {n.title}" + (f" {n.link}" if n.link else "") for n in group]
    return "\n".join(lines)


def _uid(model: str, provider: str, day: date) -> str:
    digest = hashlib.sha256(f"{provider}\x1f{model}\x1f{day.isoformat()}".encode()).hexdigest()
    return f"{digest[:32]}@driftwatch"

"""Turn recorded notice rows into what people and Prometheus see.

- ``conflicts``: for each model, whether its current notices announce more
  than one shutdown date, and which source says which ("azure ≥ 2026-10-30;
  modeldeprecations 2026-06-30"), so a structured catalog that disagrees with
  a provider's prose is flagged, not silently overruled;
- ``notice_view`` / ``deprecation_event``: one row as a ``feeds check`` /
  ``status`` line or as a notifier event, with the replacement;
- ``deprecation_statuses``: per model in use, the metric values.
Pure functions over rows; the caller opens the session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from datetime import time as dt_time

from driftwatch.feeds.events import DeprecationEvent
from driftwatch.feeds.match import ModelInUse
from driftwatch.feeds.report import NoticeView
from driftwatch.metrics import ModelDeprecationStatus
from driftwatch.state.models import DeprecationNoticeRow


def shutdown_of(row: DeprecationNoticeRow) -> date | None:
    """The announced shutdown date, or else the earliest possible one."""
    return row.shutdown_on or row.earliest_shutdown_on


def conflicts(rows: Iterable[DeprecationNoticeRow]) -> dict[str, str]:
    """Model -> which feed gives which shutdown date, for models whose sources disagree."""
    said: dict[str, dict[str, str]] = defaultdict(dict)
    dates: dict[str, set[date]] = defaultdict(set)
    for row in rows:
        shutdown = shutdown_of(row)
        if shutdown is None:
            continue
        dates[row.model].add(shutdown)
        soft = "≥ " if row.shutdown_on is None else ""
        said[row.model].setdefault(f"{row.feed} {soft}{shutdown.isoformat()}", "")
    return {
        model: "sources disagree: " + "; ".join(sorted(said[model]))
        for model, found in dates.items()
        if len(found) > 1
    }


def notice_view(row: DeprecationNoticeRow, conflict: str | None, today: date) -> NoticeView:
    """One current notice as ``feeds check`` and ``status`` show it."""
    shutdown = shutdown_of(row)
    return NoticeView(
        model=row.model,
        provider=row.provider,
        feed=row.feed,
        title=row.title,
        link=row.link,
        matched_as=row.matched_as,
        announced=row.published_at,
        deprecated_on=row.deprecated_on,
        shutdown_on=row.shutdown_on,
        earliest_shutdown_on=row.earliest_shutdown_on,
        days_until_shutdown=(shutdown - today).days if shutdown else None,
        needs_review=row.needs_review,
        conflict=conflict is not None,
        replacement=row.replacement,
        conflict_detail=conflict,
    )


def deprecation_event(
    row: DeprecationNoticeRow, conflict: str | None, changed: bool
) -> DeprecationEvent:
    """One notice not yet notified, as the notifier takes it."""
    return DeprecationEvent(
        model=row.model,
        provider=row.provider,
        feed=row.feed,
        title=row.title,
        link=row.link,
        deprecated_on=row.deprecated_on,
        shutdown_on=row.shutdown_on,
        earliest_shutdown_on=row.earliest_shutdown_on,
        needs_review=row.needs_review,
        conflict=conflict is not None,
        changed=changed,
        notice_id=row.id,
        replacement=row.replacement,
        conflict_detail=conflict,
    )


def deprecation_statuses(
    models: Iterable[ModelInUse], rows: Iterable[DeprecationNoticeRow]
) -> list[ModelDeprecationStatus]:
    """Per model in use: a notice or not, its earliest shutdown, review and conflict flags."""
    rows = list(rows)
    by_model: dict[str, list[DeprecationNoticeRow]] = defaultdict(list)
    for row in rows:
        by_model[row.model].append(row)
    disagree = conflicts(rows)
    statuses = []
    for m in models:
        mine = by_model.get(m.id, [])
        shutdowns = [d for d in (shutdown_of(r) for r in mine) if d is not None]
        statuses.append(
            ModelDeprecationStatus(
                model=m.id,
                provider=m.provider,
                notice=bool(mine),
                shutdown_at=midnight_utc(min(shutdowns)) if shutdowns else None,
                needs_review=bool(mine) and all(r.needs_review for r in mine),
                conflict=m.id in disagree,
            )
        )
    return statuses


def midnight_utc(day: date) -> float:
    """Unix time of 00:00 UTC on ``day``: the moment a shutdown date begins."""
    return datetime.combine(day, dt_time(0, 0), tzinfo=UTC).timestamp()

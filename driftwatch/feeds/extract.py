"""What one feed entry says about the models in use: who retires, when, and for what.

Structured notices (a JSON Feed ``_deprecation`` object, a catalog entry) name
their model and dates as data; they are matched by id and by the notice's own
aliases, and win over the prose for that model. Prose is matched with roles
(``feeds.match``): only a **retiring** model gets the entry's dates; a model the
entry names as the replacement, or merely mentions, gets nothing, so teams that
already moved are not told their model is going away. A table row names a
model with its own dates and replacement; otherwise the whole entry's dates
and replacements apply. Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from driftwatch.feeds.dates import NoticeDates, notice_dates, scan_dates, summarise
from driftwatch.feeds.entry import Entry
from driftwatch.feeds.match import ModelInUse, is_group_alias, match_models, normalise_id


@dataclass(frozen=True)
class NoticeMatch:
    """A model in use that an entry retires, with the dates and replacement that apply."""

    model: ModelInUse
    matched_as: str
    needs_review: bool
    dates: NoticeDates
    replacement: tuple[str, ...]


def entry_matches(
    entry: Entry, models: list[ModelInUse], feed_provider: str | None, now: datetime
) -> tuple[list[NoticeMatch], tuple[str, ...]]:
    """The models in use this entry retires; and the date-shaped text that is no date."""
    matches: dict[str, NoticeMatch] = {}
    for notice in entry.structured:
        wanted = {normalise_id(n) for n in (notice.model, *notice.aliases)}
        for m in models:
            aliases = (a for a in m.aliases if not is_group_alias(a))
            names = {normalise_id(n) for n in (m.id, *aliases)}
            if (
                m.id not in matches
                and provider_applies(notice.provider or feed_provider, m)
                and wanted & names
            ):
                dates = NoticeDates(
                    notice.deprecated_on, notice.shutdown_on, notice.earliest_shutdown_on
                )
                matches[m.id] = NoticeMatch(m, notice.model, False, dates, notice.replacement)
    if not entry.prose:
        return list(matches.values()), ()
    found = [
        hit
        for hit in match_models(entry.text, models)
        if hit.role == "retiring"
        and hit.model.id not in matches
        and provider_applies(feed_provider, hit.model)
    ]
    if not found:
        return list(matches.values()), ()
    reference = (entry.announced or now).date()
    scan = scan_dates(entry.text, reference)
    for hit in found:
        # A table row names a model and its own dates; prefer those to the whole text's.
        dates = notice_dates(hit.line, reference)
        if not dates.any:
            dates = summarise(scan.found)
        matches[hit.model.id] = NoticeMatch(
            hit.model, hit.matched_as, hit.needs_review, dates, hit.replacement
        )
    return list(matches.values()), scan.invalid


def provider_applies(provider: str | None, model: ModelInUse) -> bool:
    """A provider's notice speaks for that provider's models (unknown matches anything)."""
    if provider is None or model.provider in ("unknown", ""):
        return True
    return provider.lower() == model.provider.lower()

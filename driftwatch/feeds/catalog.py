"""Read a model-deprecation catalog: the modeldeprecations.dev JSON API format.

``/api/v1/models.json`` is one object listing every model the catalog tracks;
``/api/v1/models/{provider}/{model}.json`` is one such model on its own::

    {"$schema": "https://modeldeprecations.dev/api/v1/schema.json",
     "generatedAt": "2026-07-30T08:00:00.000Z", "asOf": "2026-07-30", "count": 1,
     "models": [{
        "provider": "openai", "model": "gpt-4-32k", "name": "GPT-4 32k",
        "aliases": ["gpt-4-32k-0613"], "description": "...",
        "deprecated_on": "2024-06-06", "shutdown_on": "2025-06-06",
        "status": "retired", "computed_status": "retired",
        "replacements": [{"provider": "openai", "model": "gpt-4o", "recommended": true}],
        "sources": [{"url": "https://...", "title": "...", "accessed": "2026-07-30"}],
        "last_verified": "2026-07-30"}]}

Every field but ``provider`` and ``model`` is optional here. A model with no
date and an ``active`` status announces nothing and is skipped; every other
becomes one entry (id ``provider/model``) whose ``structured`` notice carries
its dates, aliases and replacements (the recommended one first), and whose
link is its first source. The entry text is a one-line summary for people; it
is not matched as prose (``Entry.prose`` is False), since the data already says
which model retires. A malformed model object or date is reported in
``ParsedFeed.problems`` and the rest of the catalog is used. Pure functions.
"""

from __future__ import annotations

from typing import Any

from driftwatch.feeds.entry import Entry, FeedParseFailed, ParsedFeed, StructuredNotice, iso_date

_DATE_FIELDS = ("deprecated_on", "shutdown_on", "earliest_shutdown_on")


def is_catalog(data: Any) -> bool:
    """A catalog (``models`` list) or a single catalog model (``provider`` + ``model``)."""
    if not isinstance(data, dict) or "version" in data:
        return False
    if isinstance(data.get("models"), list):
        return True
    return isinstance(data.get("provider"), str) and isinstance(data.get("model"), str)


def parse_catalog(data: dict[str, Any], feed: str) -> ParsedFeed:
    """Entries for every model that has a lifecycle date or is not ``active``."""
    models = data["models"] if isinstance(data.get("models"), list) else [data]
    if not models and data.get("count"):
        raise FeedParseFailed(feed, "malformed", "catalog says count > 0 but lists no models")
    entries: list[Entry] = []
    problems: list[str] = []
    for index, raw in enumerate(models):
        where = f"models[{index}]"
        if (
            not isinstance(raw, dict)
            or not _id_field(raw, "provider")
            or not _id_field(raw, "model")
        ):
            problems.append(f"{where}: needs 'provider' and 'model' strings")
            continue
        entry = _entry(raw, where, problems)
        if entry is not None:
            entries.append(entry)
    return ParsedFeed(tuple(entries), tuple(problems))


def _id_field(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key)
    return isinstance(value, str) and bool(value.strip())


def _entry(raw: dict[str, Any], where: str, problems: list[str]) -> Entry | None:
    dates = {key: iso_date(raw.get(key), f"{where}.{key}", problems) for key in _DATE_FIELDS}
    status = str(raw.get("computed_status") or raw.get("status") or "")
    if not any(dates.values()) and status not in ("deprecated", "retired"):
        return None
    provider, model = raw["provider"].strip(), raw["model"].strip()
    notice = StructuredNotice(
        model=model,
        provider=provider,
        deprecated_on=dates["deprecated_on"],
        shutdown_on=dates["shutdown_on"],
        earliest_shutdown_on=dates["earliest_shutdown_on"],
        aliases=tuple(a for a in raw.get("aliases") or () if isinstance(a, str) and a),
        replacement=_replacements(raw.get("replacements")),
    )
    name = raw.get("name") if isinstance(raw.get("name"), str) else model
    summary = [f"{provider}/{model} ({name}): {status or 'dated'}"]
    summary += [f"{key} {value.isoformat()}" for key, value in dates.items() if value]
    if notice.replacement:
        summary.append("migrate to " + ", ".join(notice.replacement))
    return Entry(
        id=f"{provider}/{model}",
        title=f"{name}: {status or 'lifecycle dates'}",
        text="; ".join(summary),
        link=_first_source(raw.get("sources")),
        published=None,  # a catalog entry has no announcement time of its own
        updated=None,
        structured=(notice,),
        prose=False,
    )


def _replacements(raw: Any) -> tuple[str, ...]:
    """Replacement model ids, the recommended one first."""
    if not isinstance(raw, list):
        return ()
    valid = [r for r in raw if isinstance(r, dict) and isinstance(r.get("model"), str)]
    ordered = sorted(valid, key=lambda r: not r.get("recommended"))
    return tuple(dict.fromkeys(r["model"] for r in ordered if r["model"]))


def _first_source(raw: Any) -> str | None:
    if isinstance(raw, list):
        for source in raw:
            if isinstance(source, dict) and isinstance(source.get("url"), str):
                return str(source["url"])
    return None

"""Turn a fetched body into entries: RSS 0.9x/1.0/2.0, Atom, JSON Feed 1.1.

XML is checked first with defusedxml, which refuses any entity declaration
(the "billion laughs" bomb fails before a single entity is expanded, so memory
stays bounded) and any external entity; a body that is not well-formed XML,
not UTF-8 where it claims (or defaults) to be, or whose root is not
``<rss>``, ``<rdf:RDF>`` or ``<feed>`` (an HTML page, say) is a
``FeedParseFailed``. The policy is strict on purpose: a half-understood feed
could silently drop the one entry that matters, while a counted error that
names the feed gets looked at. Only then does feedparser read the entries.

JSON Feed items may carry a structured notice in the ``_deprecation``
extension (one object or a list)::

    "_deprecation": {"model": "embed-english-v2.0", "provider": "cohere",
                     "deprecated_on": "2026-01-15", "shutdown_on": "2026-04-04",
                     "earliest_shutdown_on": null}

Its dates are ISO ``YYYY-MM-DD``; one that does not parse is reported in
``ParsedFeed.problems`` (counted, logged) and the rest of the feed is used. An
optional ``"replacement"`` (an id or a list of ids) says where to migrate.

A JSON body with a ``models`` list instead of JSON Feed's ``version`` is a
model-deprecation catalog (the modeldeprecations.dev API format), read by
``feeds.catalog``.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
import feedparser
from defusedxml import DefusedXmlException

from driftwatch.feeds.catalog import is_catalog, parse_catalog
from driftwatch.feeds.entry import (
    Entry,
    FeedParseFailed,
    ParsedFeed,
    StructuredNotice,
    hash_id,
    iso_date,
)

__all__ = ["Entry", "FeedParseFailed", "ParsedFeed", "StructuredNotice", "parse_feed"]

_FEED_ROOTS = {"rss", "rdf", "feed"}
_JSON_FEED_VERSION = "https://jsonfeed.org/version/1"
EXTENSION_KEY = "_deprecation"


def parse_feed(body: bytes, feed: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed body; raises FeedParseFailed naming ``feed`` when it is not usable."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if not head:
        raise FeedParseFailed(feed, "empty", "empty body")
    if head.startswith((b"{", b"[")) or "json" in (content_type or ""):
        data = _load_json(body, feed)
        if is_catalog(data):
            return parse_catalog(data, feed)
        return _parse_json_feed(data, feed)
    if head.startswith((b"<!doctype html", b"<html")):
        raise FeedParseFailed(feed, "not_a_feed", "got an HTML page instead of a feed")
    _check_xml(body, feed)
    return _parse_xml_feed(body, feed)


def _check_xml(body: bytes, feed: str) -> None:
    try:
        root = SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedParseFailed(
            feed, "entities", f"refused XML with entity declarations ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        reason = "encoding" if "invalid token" in str(exc) and _not_utf8(body) else "malformed"
        raise FeedParseFailed(feed, reason, f"not well-formed XML: {exc}") from None
    name = root.tag.rsplit("}", 1)[-1].lower()
    if name not in _FEED_ROOTS:
        raise FeedParseFailed(feed, "not_a_feed", f"root element <{name}> is not RSS or Atom")


def _not_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _parse_xml_feed(body: bytes, feed: str) -> ParsedFeed:
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    entries = []
    for raw in parsed.entries:
        title = _strip_html(str(raw.get("title") or ""))
        texts = [_strip_html(str(raw.get("summary") or ""))]
        texts += [_strip_html(str(c.get("value") or "")) for c in raw.get("content") or []]
        link = raw.get("link")
        entries.append(
            Entry(
                id=str(raw.get("id") or link or hash_id(title, texts)),
                title=title,
                text=_join_text(title, texts),
                link=str(link) if link else None,
                # dict.get: FeedParserDict.get maps a missing updated to published, noisily.
                published=_struct_time(dict.get(raw, "published_parsed")),
                updated=_struct_time(dict.get(raw, "updated_parsed")),
            )
        )
    return ParsedFeed(tuple(entries))


def _load_json(body: bytes, feed: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FeedParseFailed(feed, "encoding", f"JSON feed is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FeedParseFailed(feed, "malformed", f"malformed JSON: {exc}") from None


def _parse_json_feed(data: Any, feed: str) -> ParsedFeed:
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        _JSON_FEED_VERSION
    ):
        raise FeedParseFailed(
            feed,
            "not_a_feed",
            "JSON that is neither a JSON Feed (no 'version') nor a model-deprecation "
            "catalog (no 'models' list)",
        )
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseFailed(feed, "malformed", "JSON Feed without an 'items' list")
    entries: list[Entry] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"items[{i}]: not an object")
            continue
        entries.append(_json_entry(item, i, problems))
    return ParsedFeed(tuple(entries), tuple(problems))


def _json_entry(item: dict[str, Any], index: int, problems: list[str]) -> Entry:
    title = _strip_html(str(item.get("title") or ""))
    texts = [
        str(item.get("content_text") or ""),
        _strip_html(str(item.get("content_html") or "")),
        str(item.get("summary") or ""),
    ]
    link = item.get("url") or item.get("external_url")
    where = f"items[{index}]"
    raw_notices = item.get(EXTENSION_KEY) or []
    if isinstance(raw_notices, dict):
        raw_notices = [raw_notices]
    structured = []
    for j, raw in enumerate(raw_notices if isinstance(raw_notices, list) else []):
        notice = _structured(raw, f"{where}.{EXTENSION_KEY}[{j}]", problems)
        if notice is not None:
            structured.append(notice)
    return Entry(
        id=str(item.get("id") or link or hash_id(title, texts)),
        title=title,
        text=_join_text(title, texts),
        link=str(link) if link else None,
        published=_iso_datetime(item.get("date_published"), f"{where}.date_published", problems),
        updated=_iso_datetime(item.get("date_modified"), f"{where}.date_modified", problems),
        structured=tuple(structured),
    )


def _structured(raw: Any, where: str, problems: list[str]) -> StructuredNotice | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), str) or not raw["model"]:
        problems.append(f"{where}: needs a 'model' string")
        return None
    provider = raw.get("provider")
    replacement = raw.get("replacement")
    if isinstance(replacement, str):
        replacement = [replacement]
    return StructuredNotice(
        model=raw["model"],
        provider=str(provider) if provider else None,
        deprecated_on=iso_date(raw.get("deprecated_on"), f"{where}.deprecated_on", problems),
        shutdown_on=iso_date(raw.get("shutdown_on"), f"{where}.shutdown_on", problems),
        earliest_shutdown_on=iso_date(
            raw.get("earliest_shutdown_on"), f"{where}.earliest_shutdown_on", problems
        ),
        replacement=tuple(str(r) for r in replacement or () if isinstance(r, str) and r),
    )


def _iso_datetime(value: Any, where: str, problems: list[str]) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: time {str(value)[:40]!r} does not parse (want RFC 3339)")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _join_text(title: str, texts: list[str]) -> str:
    seen: list[str] = [title] if title else []
    for text in texts:
        if text and text not in seen:
            seen.append(text)
    return "\n".join(seen)


class _TextExtractor(HTMLParser):
    """HTML -> text, keeping line breaks between blocks and ``|`` between table cells."""

    _BLOCKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def _strip_html(markup: str) -> str:
    if "<" not in markup and "&" not in markup:
        text = markup
    else:
        extractor = _TextExtractor()
        extractor.feed(markup)
        extractor.close()
        text = "".join(extractor.parts)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)

"""Every supported format, and every kind of body that is not a usable feed."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime

import pytest

from driftwatch.feeds.parse import FeedParseFailed, StructuredNotice, parse_feed
from tests.feeds import samples


def test_rss_20_entries() -> None:
    body = samples.rss2(
        [
            {"id": "oa-1", "title": "Embeddings deprecation", "description": samples.OPENAI_NOTICE},
            {"id": "oa-2", "title": "<b>New</b> model", "description": "<p>Hello &amp; bye</p>"},
        ]
    )
    entries = parse_feed(body, "t").entries
    assert [e.id for e in entries] == ["oa-1", "oa-2"]
    first = entries[0]
    assert first.title == "Embeddings deprecation"
    assert "shut down on January 04, 2024" in first.text
    assert first.link == "https://example.org/oa-1"
    assert first.published == datetime(2023, 7, 6, 12, tzinfo=UTC)
    assert entries[1].title == "New model"
    assert entries[1].text == "New model\nHello & bye"


def test_rss_091_with_its_dtd_reference() -> None:
    (entry,) = parse_feed(samples.RSS_091, "t").entries
    assert entry.id == "https://example.org/cohere"
    assert "embed-english-v2.0" in entry.text


def test_rss_10_rdf() -> None:
    (entry,) = parse_feed(samples.RSS_10, "t").entries
    assert entry.title == "Gecko models discontinued"
    assert entry.announced == datetime(2025, 4, 1, tzinfo=UTC)


def test_atom_html_table_keeps_rows_and_cells() -> None:
    (entry,) = parse_feed(samples.ATOM, "t").entries
    assert entry.id == "urn:azure:embeddings"
    assert entry.published == datetime(2025, 10, 15, tzinfo=UTC)
    assert entry.updated == datetime(2025, 11, 1, tzinfo=UTC)
    rows = entry.text.splitlines()
    assert (
        "| text-embedding-ada-002 | 2 | Generally Available | n/a "
        "| No earlier than 2026-10-30 | n/a" in rows
    )


def test_declared_latin1_is_a_valid_feed() -> None:
    (entry,) = parse_feed(samples.LATIN1_DECLARED, "t").entries
    assert entry.title == "Modèle text-embedding-004 deprecated"


def test_json_feed_with_the_deprecation_extension() -> None:
    body = samples.json_feed(
        [
            {
                "id": "c-1",
                "title": "Cohere",
                "content_text": samples.COHERE_NOTICE,
                "url": "https://example.org/c-1",
                "date_published": "2026-04-01T09:00:00Z",
                "_deprecation": [
                    {
                        "model": "embed-english-v2.0",
                        "provider": "cohere",
                        "shutdown_on": "2026-04-04",
                    },
                    {"model": "embed-multilingual-v2.0", "earliest_shutdown_on": "2026-05-01"},
                ],
            },
            {"id": "c-2", "content_html": "<p>Nothing <i>new</i></p>"},
        ]
    )
    parsed = parse_feed(body, "t", "application/feed+json")
    assert parsed.problems == ()
    first, second = parsed.entries
    assert first.published == datetime(2026, 4, 1, 9, tzinfo=UTC)
    assert first.structured == (
        StructuredNotice("embed-english-v2.0", "cohere", shutdown_on=date(2026, 4, 4)),
        StructuredNotice("embed-multilingual-v2.0", earliest_shutdown_on=date(2026, 5, 1)),
    )
    assert second.text == "Nothing new"


def test_json_feed_bad_dates_are_problems_not_failures() -> None:
    body = samples.json_feed(
        [
            {
                "id": "a",
                "date_published": "yesterday",
                "_deprecation": {"model": "m", "shutdown_on": "2026-02-30"},
            },
            {"id": "b", "_deprecation": {"shutdown_on": "2026-01-01"}},
            "not an object",
        ]
    )
    parsed = parse_feed(body, "t")
    assert [e.id for e in parsed.entries] == ["a", "b"]
    assert parsed.entries[0].structured == (StructuredNotice("m"),)
    assert parsed.problems == (
        "items[0]._deprecation[0].shutdown_on: date '2026-02-30' does not parse (want YYYY-MM-DD)",
        "items[0].date_published: time 'yesterday' does not parse (want RFC 3339)",
        "items[1]._deprecation[0]: needs a 'model' string",
        "items[2]: not an object",
    )


def test_content_hash_changes_when_the_entry_is_edited() -> None:
    one = samples.rss2([{"id": "x", "title": "t", "description": "retired on 2025-01-01"}])
    two = samples.rss2([{"id": "x", "title": "t", "description": "retired on 2025-02-01"}])
    (a,), (b,) = parse_feed(one, "t").entries, parse_feed(two, "t").entries
    assert a.id == b.id
    assert a.content_hash != b.content_hash
    assert a.content_hash == parse_feed(one, "t").entries[0].content_hash


@pytest.mark.parametrize(
    ("body", "reason", "words"),
    [
        (samples.MALFORMED, "malformed", "not well-formed XML"),
        (samples.HTML_PAGE, "not_a_feed", "HTML page instead of a feed"),
        (samples.XHTML_PAGE, "not_a_feed", "root element <html>"),
        (samples.NOT_UTF8, "encoding", "not well-formed XML"),
        (samples.BILLION_LAUGHS, "entities", "entity declarations"),
        (b"   \n", "empty", "empty body"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            "malformed",
            "malformed JSON",
        ),
        (b'{"items": []}', "not_a_feed", "a JSON Feed (no 'version')"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "malformed", "'items' list"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "caf\xe9"}',
            "encoding",
            "not UTF-8",
        ),
    ],
)
def test_unusable_bodies_fail_naming_the_feed(body: bytes, reason: str, words: str) -> None:
    with pytest.raises(FeedParseFailed) as caught:
        parse_feed(body, "vendor-feed")
    assert caught.value.reason == reason
    assert str(caught.value).startswith("feed vendor-feed: ")
    assert words in str(caught.value)


def test_billion_laughs_is_refused_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FeedParseFailed):
            parse_feed(samples.BILLION_LAUGHS, "t")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Expanded, the document is 3 GB of "lol"; refused, it costs about its own size.
    assert peak < 1_000_000

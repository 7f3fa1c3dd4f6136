"""The modeldeprecations.dev catalog format: whole catalog, one model, bad input."""

from __future__ import annotations

import json
from datetime import date

import pytest

from driftwatch.feeds.parse import FeedParseFailed, parse_feed
from tests.feeds import samples


def test_the_catalog_becomes_one_structured_entry_per_dated_model() -> None:
    parsed = parse_feed(samples.MODELDEPRECATIONS_CATALOG, "md", "application/json")
    assert parsed.problems == ()
    by_id = {e.id: e for e in parsed.entries}
    # The active model with no date announces nothing.
    assert set(by_id) == {
        "openai/text-embedding-ada-002",
        "cohere/embed-english-v2.0",
        "google/textembedding-gecko",
    }
    ada = by_id["openai/text-embedding-ada-002"]
    (notice,) = ada.structured
    assert (notice.model, notice.provider, notice.earliest_shutdown_on, notice.shutdown_on) == (
        "text-embedding-ada-002",
        "openai",
        date(2026, 10, 30),
        None,
    )
    assert notice.replacement == ("text-embedding-3-small", "text-embedding-3-large")
    assert notice.aliases == ("ada-002-2022-12",)
    assert ada.link == "https://example.org/azure/model-retirements"
    # A catalog entry has no announcement time, and its text is no prose to match.
    assert (ada.published, ada.updated, ada.prose) == (None, None, False)
    assert "migrate to text-embedding-3-small" in ada.text


def test_one_model_from_the_per_model_endpoint() -> None:
    catalog = json.loads(samples.MODELDEPRECATIONS_CATALOG)
    one = {"$schema": catalog["$schema"], **catalog["models"][1], "asOf": "2026-07-30"}
    (entry,) = parse_feed(json.dumps(one).encode(), "md").entries
    assert entry.id == "cohere/embed-english-v2.0"
    assert entry.structured[0].shutdown_on == date(2026, 4, 4)


def test_an_edited_catalog_entry_changes_its_content_hash() -> None:
    catalog = json.loads(samples.MODELDEPRECATIONS_CATALOG)
    before = {e.id: e.content_hash for e in parse_feed(json.dumps(catalog).encode(), "md").entries}
    catalog["models"][1]["shutdown_on"] = "2026-05-15"
    after = {e.id: e.content_hash for e in parse_feed(json.dumps(catalog).encode(), "md").entries}
    assert before["cohere/embed-english-v2.0"] != after["cohere/embed-english-v2.0"]
    assert before["openai/text-embedding-ada-002"] == after["openai/text-embedding-ada-002"]


def test_malformed_models_are_reported_and_the_rest_is_used() -> None:
    catalog = json.loads(samples.MODELDEPRECATIONS_CATALOG)
    catalog["models"] += [
        "not an object",
        {"provider": "openai"},
        {"provider": "openai", "model": "x-1", "status": "deprecated", "shutdown_on": "2026-13-01"},
    ]
    parsed = parse_feed(json.dumps(catalog).encode(), "md")
    assert len(parsed.entries) == 4  # the three good ones, and x-1 (deprecated, date dropped)
    assert parsed.problems == (
        "models[4]: needs 'provider' and 'model' strings",
        "models[5]: needs 'provider' and 'model' strings",
        "models[6].shutdown_on: date '2026-13-01' does not parse (want YYYY-MM-DD)",
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"count": 3, "models": []}', "count > 0 but lists no models"),
        (b'{"title": "x"}', "neither a JSON Feed"),
    ],
)
def test_unusable_catalogs_fail_naming_the_feed(body: bytes, words: str) -> None:
    with pytest.raises(FeedParseFailed) as caught:
        parse_feed(body, "md")
    assert str(caught.value).startswith("feed md: ")
    assert words in str(caught.value)

"""Id normalisation, token-boundary matching, aliases and retirement wording."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.feeds.match import (
    PROVIDER_PREFIXES,
    REGION_PREFIXES,
    ModelInUse,
    is_retirement_notice,
    match_models,
    normalise_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Text-Embedding-Ada-002", "text-embedding-ada-002"),
        ("azure/text-embedding-3-small", "text-embedding-3-small"),
        ("bedrock/us.amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0"),
        ("eu.cohere.embed-english-v3", "cohere.embed-english-v3"),
        ("models/text-embedding-004", "text-embedding-004"),
        ("publishers/google/models/textembedding-gecko@001", "textembedding-gecko@001"),
        (
            "projects/p1/locations/us-central1/publishers/google/models/text-embedding-005",
            "text-embedding-005",
        ),
        ("openai/text-embedding-ada-002", "text-embedding-ada-002"),
        ("embed-english-v2.0", "embed-english-v2.0"),
    ],
)
def test_normalise_id(raw: str, expected: str) -> None:
    assert normalise_id(raw) == expected


def _named(text: str, model_id: str, *aliases: str) -> list[tuple[str, bool]]:
    models = [ModelInUse(model_id, "p", tuple(aliases))]
    return [(m.matched_as, m.needs_review) for m in match_models(text, models)]


@pytest.mark.parametrize(
    ("configured", "notice"),
    [
        ("gpt-4", "gpt-4o will be deprecated on 2025-01-01."),
        ("textembedding-gecko", "textembedding-gecko-multilingual@001 will be retired."),
        ("text-embedding-3-small", "text-embedding-3-small-v2 is deprecated."),
        ("embed-english-v2", "embed-english-v2.0 is no longer available."),
        ("titan-embed-text-v1", "amazon.titan-embed-text-v1:0 is legacy."),
    ],
)
def test_no_substring_matches(configured: str, notice: str) -> None:
    assert _named(notice, configured) == []


@pytest.mark.parametrize(
    ("configured", "notice"),
    [
        ("textembedding-gecko@001", "textembedding-gecko@001 will be discontinued."),
        ("gpt-4", "We will shut down gpt-4, gpt-4o stays."),
        ("azure/text-embedding-ada-002", "| `text-embedding-ada-002` | 2 | deprecated |"),
        ("bedrock/amazon.titan-embed-text-v2:0", "us.amazon.titan-embed-text-v2:0 is legacy."),
        ("embed-english-v2.0", "Deprecated: embed-english-v2.0."),
        ("TEXT-EMBEDDING-004", "models/text-embedding-004 will be removed on June 1."),
    ],
)
def test_token_matches(configured: str, notice: str) -> None:
    assert _named(notice, configured) == [(configured, False)]


def test_only_retirement_notices_count() -> None:
    assert _named("text-embedding-3-small is now 20% cheaper.", "text-embedding-3-small") == []
    for phrase in (
        "is deprecated",
        "will be retired",
        "will shut down",
        "sunset",
        "is discontinued",
        "reaches end of life",
        "EOL",
        "is no longer available",
        "will be removed",
        "is a legacy model",
        "will start returning errors",
    ):
        assert is_retirement_notice(f"text-embedding-3-small {phrase}"), phrase


def test_display_name_alias_matches_as_words() -> None:
    text = "Titan Text Embeddings V2 will be retired on 2026-01-01."
    hits = _named(text, "amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2")
    assert hits == [("Titan Text Embeddings V2", False)]
    assert _named("Titan Text Embeddings V21 retired", "x-1", "Titan Text Embeddings V2") == []


def test_family_notice_matches_only_through_alias_and_needs_review() -> None:
    text = "We will shut down the first-generation text embedding models on January 04, 2024."
    assert _named(text, "text-search-ada-doc-001") == []
    hits = _named(text, "text-search-ada-doc-001", "first-generation text embedding models")
    assert hits == [("first-generation text embedding models", True)]


def test_id_beats_family_alias() -> None:
    text = "First-generation text embedding models, including text-search-ada-doc-001, retire."
    hits = _named(text, "text-search-ada-doc-001", "first-generation text embedding models")
    assert hits == [("text-search-ada-doc-001", False)]


def test_match_reports_the_line_naming_the_model() -> None:
    text = "Deprecations\n| a-1 | retired 2025-01-01 |\n| b-2 | retired 2026-01-01 |"
    (hit,) = match_models(text, [ModelInUse("b-2")])
    assert hit.line == "| b-2 | retired 2026-01-01 |"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(min_size=1, max_size=40))
def test_arbitrary_text_never_raises(text: str, model_id: str) -> None:
    hits = match_models(text, [ModelInUse(model_id, "p", (model_id + " models", model_id))])
    assert len(hits) <= 1


_ID = st.from_regex(r"[a-z][a-z0-9]{1,8}(-[a-z0-9]{1,6}){0,3}(@00[1-9]|:[0-9])?", fullmatch=True)
# Characters that continue a token, and ones that end it.
_JOINING = st.sampled_from(list("abcxyz019-_@/.:"))
_SEPARATING = st.sampled_from([" ", ", ", "; ", ")", "(", "`", "|", "\n", "! ", "'", '"'])
# No letters or digits: the filler can never spell the id itself.
_FILLER = st.text(alphabet=" -.,;()|\n#%&", max_size=20)
_ID_CHAR = re.compile(r"[a-z0-9._\-@:/]")
# The documented boundary after an id: a non-id character, or trailing punctuation
# (a sentence or list ending) followed by one, or the end of the text.
_ENDS_TOKEN = re.compile(r"[._\-:/@]*(?![a-z0-9._\-@:/])")


@settings(max_examples=200, deadline=None)
@given(_ID, _FILLER, st.booleans(), _JOINING, _SEPARATING, st.booleans(), _JOINING, _SEPARATING)
def test_id_in_text_found_exactly_at_token_boundaries(
    model_id: str,
    filler: str,
    join_before: bool,
    before_join: str,
    before_sep: str,
    join_after: bool,
    after_join: str,
    after_sep: str,
) -> None:
    before = filler + (before_join if join_before else before_sep)
    after = (after_join if join_after else after_sep) + filler
    after += " will be retired"
    text = before + model_id + after
    at_boundary = not _ID_CHAR.match(before[-1]) and _ENDS_TOKEN.match(after) is not None
    assert _named(text, model_id) == ([(model_id, False)] if at_boundary else [])


@settings(max_examples=40, deadline=None)
@given(_ID, st.sampled_from(PROVIDER_PREFIXES + REGION_PREFIXES))
def test_provider_or_region_prefix_names_the_same_model(model_id: str, prefix: str) -> None:
    assert _named(f"{prefix}{model_id} is deprecated", model_id) == [(model_id, False)]

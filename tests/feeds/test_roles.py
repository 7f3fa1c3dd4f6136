"""Roles of the models a notice names: only the retiring ones get the notice's dates.

Property tests build notices from real phrasings in every order and voice, with
lists of several models, and check that each model comes out with the role the
notice gives it, through the same ``match_models`` the feed watcher uses.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from driftwatch.feeds.dates import notice_dates
from driftwatch.feeds.match import ModelInUse, match_models
from driftwatch.feeds.roles import assign_roles

OLD = ["text-embedding-ada-002", "embed-english-v2.0", "textembedding-gecko@001", "gpt-4"]
NEW = ["text-embedding-3-small", "embed-english-v3.0", "gemini-embedding-001", "gpt-4o"]
DATES = ["2026-10-30", "June 14, 2026", "4 January 2027"]


def _join(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# {R}: the retiring models, {P}: the replacements, {D}: the shutdown date.
RETIRE = [
    "{R} will be retired on {D}.",
    "{R} will be shut down on {D}.",
    "We will retire {R} on {D}.",
    "On {D}, {R} will be discontinued and will start returning errors.",
    "{R} is deprecated and will no longer be available after {D}.",
    "The following models are no longer available as of {D}: {R}.",
    "Legacy models {R} reach end of life on {D}.",
    "We are deprecating {R}; they shut down on {D}.",
]
REPLACE = [
    "Migrate to {P}.",
    "We recommend migrating to {P}.",
    "Please switch to {P}.",
    "Upgrade to {P} before then.",
    "Use {P} instead.",
    "The recommended replacement is {P}.",
    "Recommended replacement: {P}.",
    "{P} replaces them.",
]
# One sentence that retires and replaces at once, in either voice.
COMBINED = [
    "{R} will be retired on {D} and replaced by {P}.",
    "{R} is deprecated in favor of {P} and shuts down on {D}.",
    "{P} replaces {R}, which will be shut down on {D}.",
    "{P} will replace {R} on {D}, when the old models are retired.",
    "Use {P} instead of {R}, which will be retired on {D}.",
    "Migrate from {R} to {P} before {D}, when the old models are retired.",
    "{R} will be superseded by {P} and removed on {D}.",
    "Migrate to {P} before {R} is retired on {D}.",
]


@st.composite
def notices(draw: st.DrawFn) -> tuple[str, list[str], list[str], str]:
    pairs = draw(st.lists(st.sampled_from(range(len(OLD))), min_size=1, max_size=3, unique=True))
    retiring = [OLD[i] for i in pairs]
    replacing = [NEW[i] for i in pairs]
    day = draw(st.sampled_from(DATES))
    if draw(st.booleans()):
        text = draw(st.sampled_from(COMBINED))
    else:
        first, second = draw(st.sampled_from(RETIRE)), draw(st.sampled_from(REPLACE))
        text = f"{first} {second}" if draw(st.booleans()) else f"{second} {first}"
    filled = text.format(R=_join(retiring), P=_or(replacing), D=day)
    return filled, retiring, replacing, day


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(notices())
def test_replacements_are_never_flagged_and_retiring_models_are(
    case: tuple[str, list[str], list[str], str],
) -> None:
    text, retiring, replacing, _ = case
    models = [ModelInUse(m, "p") for m in OLD + NEW]
    roles = {m.model.id: m.role for m in match_models(text, models)}
    assert {m: roles.get(m) for m in retiring} == dict.fromkeys(retiring, "retiring"), text
    assert {m: roles.get(m) for m in replacing} == dict.fromkeys(replacing, "replacement"), text
    # Models the notice does not name are not matched at all (gpt-4 is not gpt-4o).
    assert set(roles) == set(retiring) | set(replacing), text
    by_id = {m.model.id: m for m in match_models(text, models)}
    for model in retiring:
        assert set(by_id[model].replacement) == set(replacing), text


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(notices())
def test_the_shutdown_date_is_read_in_every_phrasing(
    case: tuple[str, list[str], list[str], str],
) -> None:
    """With one retiring model; a long list between a date and a phrase after it
    can push the phrase past ``MAX_PHRASE_DISTANCE`` (dates.py), as before."""
    text, retiring, _, _ = case
    assume(len(retiring) == 1)
    dates = notice_dates(text, date(2026, 1, 1))
    assert (dates.shutdown_on or dates.deprecated_on) is not None, text


def _azure_table(rows: list[tuple[str, str, str]]) -> str:
    """Text of an Azure-style HTML table as the feed parser flattens it."""
    lines = [
        "Retirement dates for embedding models:",
        "| Model | Version | Lifecycle Status | Deprecation Date | Retirement Date | Replacement",
    ]
    for model, day, replacement in rows:
        lines.append(
            f"| {model} | 2 | Deprecated | n/a | No earlier than {day} | {replacement or 'n/a'}"
        )
    return "\n".join(lines)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(OLD))), min_size=1, max_size=4, unique=True),
    st.booleans(),
)
def test_table_rows_with_a_replacement_column(indices: list[int], markdown: bool) -> None:
    rows = [(OLD[i], f"2026-0{i + 1}-1{i}", NEW[i]) for i in indices]
    text = _azure_table(rows)
    if markdown:
        header, *rest = text.split("\n")[1:]
        text = "\n".join([header + " |", "|---|---|---|---|---|---|", *(r + " |" for r in rest)])
    models = [ModelInUse(m, "p") for m in OLD + NEW]
    matches = {m.model.id: m for m in match_models(text, models)}
    for model, day, replacement in rows:
        match = matches[model]
        assert (match.role, match.replacement) == ("retiring", (replacement,)), text
        # Each row carries its own date.
        assert notice_dates(match.line).earliest_shutdown_on == date.fromisoformat(day)
        assert matches[replacement].role == "replacement", text


def test_a_model_retired_in_one_row_and_replacement_in_another_is_retiring() -> None:
    text = _azure_table(
        [
            ("text-embedding-ada-002", "2026-10-30", "text-embedding-3-small"),
            ("text-embedding-3-small", "2027-02-01", ""),
        ]
    )
    small = [ModelInUse("text-embedding-3-small", "p")]
    (match,) = match_models(text, small)
    assert match.role == "retiring"
    assert notice_dates(match.line).earliest_shutdown_on == date(2027, 2, 1)


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        (
            "text-embedding-3-small launched in January. text-embedding-ada-002 is deprecated.",
            {"text-embedding-3-small": "mentioned", "text-embedding-ada-002": "retiring"},
        ),
        (
            "The successor to text-embedding-ada-002 is text-embedding-3-small. "
            "The old model retires on 2026-10-30.",
            {"text-embedding-ada-002": "retiring", "text-embedding-3-small": "replacement"},
        ),
        (
            "Customers on embed-english-v2.0 should switch to embed-english-v3.0, as "
            "embed-english-v2.0 will be retired.",
            {"embed-english-v2.0": "retiring", "embed-english-v3.0": "replacement"},
        ),
        (
            # "moved to legacy" is no migration target: the model moved is retiring.
            "Moved to legacy on 2026-03-01: text-embedding-ada-002.",
            {"text-embedding-ada-002": "retiring"},
        ),
    ],
)
def test_phrasings(text: str, roles: dict[str, str]) -> None:
    found = assign_roles(text)
    assert {m.name: m.role for m in found.mentions} == roles


def test_urls_and_dates_are_not_model_names() -> None:
    text = "See https://example.org/v1/deprecations-2026 before 2026-10-30: migrate to gpt-4o."
    assert [m.name for m in assign_roles(text).mentions] == ["gpt-4o"]

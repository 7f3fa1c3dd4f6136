"""Decide which models in use a retirement notice speaks of.

Ids are compared after ``normalise_id``: lower case, provider and region
prefixes removed (``azure/``, ``bedrock/``, ``openai/``, ``us.``, ``eu.``,
``apac.``, ``models/``, ``publishers/google/models/`` ...), version markers
kept (``@001``, ``-v2.0``, ``:0``). A notice names a model only when the id is
a whole token of its text: ``gpt-4`` is not named by "gpt-4o", nor
``text-embedding-3-small`` by "text-embedding-3-small-v2". A token is a run of
``[A-Za-z0-9._-@:/]``; punctuation at its end (``.``, ``:``, ``-`` ...: a
sentence or a list ending) is not part of it, punctuation at its start is
(``-gpt-4`` is another token than ``gpt-4``).

Aliases (display names such as "Titan Text Embeddings V2") are matched as
whole words, case-insensitive. An alias that names a family or group ("first-
generation text embedding models") marks the match ``needs_review``: the
notice may or may not cover this exact model.

Only entries that speak of retirement count at all (``is_retirement_notice``,
on the one phrase list in ``feeds.phrases``). Each match carries the model's
role in the notice (``feeds.roles``): only a ``retiring`` model is the
notice's subject; a ``replacement`` is where users should go. Pure functions,
no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from driftwatch.feeds.phrases import speaks_of_retirement
from driftwatch.feeds.roles import Role, RoleMap, assign_roles, token_spans

# Removed from the front of ids, repeatedly (``bedrock/us.amazon.titan`` -> ``amazon.titan``).
PROVIDER_PREFIXES = (
    "publishers/google/models/",
    "models/",
    "azure/",
    "azure_ai/",
    "bedrock/",
    "openai/",
    "vertex_ai/",
    "vertexai/",
    "google/",
    "cohere/",
    "mistral/",
)
REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")

_ID_CHARS = "a-z0-9._\\-@:/"
_TOKEN = re.compile(rf"[{_ID_CHARS}]+")
_TRAILING = "._-:/@"
_VERTEX_PATH = re.compile(r"^projects/[^/]+/locations/[^/]+/")
# Any chain of known prefixes at the start, as long as something is left after it.
_PREFIXES = re.compile(
    "^(?:" + "|".join(map(re.escape, PROVIDER_PREFIXES + REGION_PREFIXES)) + ")+(?=.)"
)

# Words that make an alias a family or group rather than one model's name.
_GROUP_WORDS = re.compile(
    r"\b(?:models|family|families|generation|series|versions|all|select|older)\b", re.I
)


@dataclass(frozen=True)
class ModelInUse:
    """A model this deployment depends on, and the names a notice may use for it."""

    id: str
    provider: str = "unknown"
    aliases: tuple[str, ...] = ()
    source: str = "config"  # config | embedder:<name> | version_mix:<collection>


@dataclass(frozen=True)
class ModelMatch:
    """A model in use named by a notice, and the part it plays there."""

    model: ModelInUse
    matched_as: str  # the id or alias text that matched
    needs_review: bool
    line: str  # the line of the text naming the model (a table row carries its own dates)
    role: Role = "retiring"
    replacement: tuple[str, ...] = ()  # where the notice sends users of a retiring model


@lru_cache(maxsize=65536)
def normalise_id(model_id: str) -> str:
    """Canonical form for comparing ids: lower case, no provider/region prefix."""
    text = model_id.strip().strip("`'\"").lower()
    text = _VERTEX_PATH.sub("", text)
    return _PREFIXES.sub("", text)


def id_tokens(text: str) -> list[str]:
    """Every id-shaped token of ``text``, lower-cased, trailing punctuation off."""
    return [match.group(0).rstrip(_TRAILING) for match in _TOKEN.finditer(text.lower())]


def mentions_alias(text: str, alias: str) -> bool:
    """True when ``alias`` appears in ``text`` as whole words (case and spacing ignored)."""
    pattern = _alias_pattern(alias)
    return pattern is not None and pattern.search(text) is not None


@lru_cache(maxsize=4096)
def _alias_pattern(alias: str) -> re.Pattern[str] | None:
    words = alias.split()
    if not words:
        return None
    body = r"\s+".join(map(re.escape, words))
    return re.compile(r"(?<![\w.@:/-])" + body + r"(?![\w@/]|[-.:]\w)", re.I)


def is_group_alias(alias: str) -> bool:
    """An alias naming a family or group of models rather than one model."""
    return _GROUP_WORDS.search(alias) is not None


def is_retirement_notice(text: str) -> bool:
    """True when the text speaks of deprecation, retirement or shutdown."""
    return speaks_of_retirement(text)


_ROLE_RANK: dict[Role, int] = {"retiring": 0, "replacement": 1, "mentioned": 2}


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    matched_as: str
    needs_review: bool


def match_models(text: str, models: Iterable[ModelInUse]) -> list[ModelMatch]:
    """The models in use that a retirement notice names, with their roles; [] otherwise."""
    if not is_retirement_notice(text):
        return []
    tokens = [(s, e, normalise_id(tok)) for s, e, tok in token_spans(text)]
    folded = " ".join(text.lower().split())
    found = {}
    for model in models:
        spans = _find(model, text, folded, tokens)
        if spans:
            found[model] = spans
    if not found:
        return []
    roles = assign_roles(text, [(f.start, f.end) for spans in found.values() for f in spans])
    return [_match(model, spans, text, roles) for model, spans in found.items()]


def _match(model: ModelInUse, spans: list[_Found], text: str, roles: RoleMap) -> ModelMatch:
    """The model's strongest role over all its mentions (retiring before replacement)."""
    ranked = []
    for found in spans:
        mention = roles.at(found.start, found.end)
        role: Role = mention.role if mention else "mentioned"
        ranked.append((_ROLE_RANK[role], found.needs_review, found, mention))
    _, needs_review, best, mention = min(ranked, key=lambda r: (r[0], r[1], r[2].start))
    role = mention.role if mention else "mentioned"
    own = normalise_id(model.id)
    replacement = mention.row_replacements if mention and mention.row_replacements else ()
    if not replacement and role == "retiring":
        replacement = tuple(r for r in roles.replacements if normalise_id(r) != own)
    line_start = text.rfind("\n", 0, best.start) + 1
    line_end = text.find("\n", best.end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return ModelMatch(model, best.matched_as, needs_review, line, role, replacement)


def _find(
    model: ModelInUse, text: str, folded: str, tokens: list[tuple[int, int, str]]
) -> list[_Found]:
    """Every place the model is named: by id first; else by aliases (families need review).

    ``folded`` is the whole text lower-cased with single spaces (a cheap first test).
    """
    wanted = normalise_id(model.id)
    by_id = [_Found(s, e, model.id, False) for s, e, tok in tokens if wanted and tok == wanted]
    if by_id:
        return by_id
    exact: list[_Found] = []
    review: list[_Found] = []
    for alias in model.aliases:
        single = " " not in alias.strip()
        if not single and " ".join(alias.lower().split()) not in folded:
            continue
        if single:
            key = normalise_id(alias)
            spans = [(s, e) for s, e, tok in tokens if key and tok == key]
        else:
            pattern = _alias_pattern(alias)
            spans = [m.span() for m in pattern.finditer(text)] if pattern else []
        group = is_group_alias(alias)
        (review if group else exact).extend(_Found(s, e, alias, group) for s, e in spans)
    return exact or review

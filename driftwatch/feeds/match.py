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

Only entries that speak of retirement count at all (``is_retirement_notice``).
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

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

RETIREMENT = re.compile(
    r"\bdeprecat\w*|\bretir\w*|\bshut(?:s|ting)?[ -]?down\b|\bsunset\w*|\bdiscontinu\w*"
    r"|\bend[ -]of[ -](?:life|support)\b|\beol\b|\bno longer (?:be )?(?:available|supported)"
    r"|\b(?:will|to) be removed\b|\blegacy\b|\bstart(?:s)? returning errors\b"
    r"|\bdecommission\w*",
    re.I,
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
    """A model in use named by a notice."""

    model: ModelInUse
    matched_as: str  # the id or alias text that matched
    needs_review: bool
    line: str  # the line of the text naming the model (a table row carries its own dates)


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
    return RETIREMENT.search(text) is not None


def match_models(text: str, models: Iterable[ModelInUse]) -> list[ModelMatch]:
    """The models in use that a retirement notice names; [] for any other text."""
    if not is_retirement_notice(text):
        return []
    lines = text.splitlines() or [text]
    tokens_by_line = [{normalise_id(tok) for tok in id_tokens(line)} for line in lines]
    folded = " ".join(text.lower().split())
    matches = []
    for model in models:
        found = _find(model, folded, lines, tokens_by_line)
        if found is not None:
            matches.append(found)
    return matches


def _find(
    model: ModelInUse, folded: str, lines: list[str], tokens_by_line: list[set[str]]
) -> ModelMatch | None:
    """``folded`` is the whole text lower-cased with single spaces (a cheap first test)."""
    wanted = normalise_id(model.id)
    for line, tokens in zip(lines, tokens_by_line, strict=True):
        if wanted and wanted in tokens:
            return ModelMatch(model, model.id, needs_review=False, line=line)
    review: ModelMatch | None = None
    for alias in model.aliases:
        single = " " not in alias.strip()
        if not single and " ".join(alias.lower().split()) not in folded:
            continue
        key = normalise_id(alias)
        for line, tokens in zip(lines, tokens_by_line, strict=True):
            if not (key in tokens if single else mentions_alias(line, alias)):
                continue
            if not is_group_alias(alias):
                return ModelMatch(model, alias, needs_review=False, line=line)
            review = review or ModelMatch(model, alias, needs_review=True, line=line)
            break
    return review

"""Which part each model plays in a notice: retiring, replacement, or merely mentioned.

A notice that retires X usually names its successor Y too ("migrate to Y").
Flagging Y with X's shutdown date pages exactly the teams that already moved,
so every model a notice names gets a role:

- ``retiring``     the notice retires it (deprecated, legacy, end of life,
  shut down, discontinued, no longer available, ...: ``feeds.phrases``);
- ``replacement``  the notice sends users to it: "migrate to", "switch to",
  "upgrade to", "replaced by", "superseded by", "in favor of", "recommended
  replacement", "successor", "use ... instead", "Y replaces X", "the
  replacement for X is Y", or a table's replacement column;
- ``mentioned``    named in a sentence that speaks of no retirement ("Y
  launched last year").

Prose is read sentence by sentence (a sentence ends at ``. ! ?`` before a
space, a line break or ``;``). Within a sentence, cue phrases switch a small
state machine: a forward cue ("migrate to") makes the models after it
replacements, a passive one ("X is replaced by Y") makes the ones before it
retiring and the ones after it replacements, a backward one ("Y replaces X")
the other way round, and an object cue ("instead of X", "the successor to X
is Y", "migrate from X to Y") retires what follows until "is" / "to" switches
to the replacement. A part of the sentence (between commas, "and", "or",
"before", "as", "which", ...) that itself speaks of retirement ends a
replacement list: "migrate to Y, as X will be retired". A model left undecided
is retiring when its sentence speaks of retirement, else mentioned; if nothing
in the whole notice came out retiring, the mentioned ones are taken as
retiring (a notice about retirement must retire something), but a model
identified as a replacement never is.

Table rows (lines of ``|`` cells, the first row of a block being the header)
are read by column: a model in a column headed "Replacement", "Successor",
"Recommended ..." or "Migrate to" is a replacement, one in any other column is
retiring, and the row's replacement cell is that model's own replacement.

Candidate mentions are id-shaped tokens (a letter, a digit and an id
separator: ``text-embedding-3-small``, ``embed-english-v2.0``,
``amazon.titan-embed-text-v2:0``) plus any spans the caller adds (aliases of
models in use). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from driftwatch.feeds.phrases import speaks_of_retirement

Role = Literal["retiring", "replacement", "mentioned"]

_TOKEN = re.compile(r"[A-Za-z0-9._\-@:/]+")
_TRAILING = "._-:/@"
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[\n;]")
_PART_BOUNDARY = re.compile(
    r",|\s(?:and|or|but|while|as|since|because|before|after|until|when|which|so)\s", re.I
)
# Part boundaries after which a replacement list cannot go on.
_STOP_WORD = re.compile(r"\s(?:but|while|since|because|before|after|until|when|which|so)\s", re.I)
_VERBS = r"(?:migrat\w*|switch\w*|upgrad\w*|transition\w*|mov(?:e|es|ing))"
_SKIP_WORDS = r"(?:(?!(?:from|to)\b)\w+\s+){0,4}?"

CueKind = Literal["forward", "passive", "backward", "object"]
_CUES: tuple[tuple[CueKind, re.Pattern[str]], ...] = (
    (
        "backward",
        re.compile(
            r"\b(?:(?:is|are)\s+the\s+(?:recommended\s+|new\s+|designated\s+)?"
            r"(?:replacement|successor)s?\s+(?:for|to|of)"
            r"|replaces|replacing|will\s+replace|supersedes|will\s+supersede"
            r"|succeeds|will\s+succeed)\b",
            re.I,
        ),
    ),
    (
        "passive",
        re.compile(
            r"\b(?:replaced|superseded|succeeded)\s+(?:by|with)\b|\bin\s+favou?r\s+of\b", re.I
        ),
    ),
    (
        "object",
        re.compile(
            r"\b(?:replacement|successor|alternative)s?\s+(?:for|to|of)\b|\binstead\s+of\b"
            r"|\bin\s+place\s+of\b|\b" + _VERBS + r"\s+" + _SKIP_WORDS + r"from\b",
            re.I,
        ),
    ),
    (
        "forward",
        re.compile(
            r"\b" + _VERBS + r"\s+" + _SKIP_WORDS + r"to\b"
            r"|\brecommended\s+(?:replacement|successor|alternative|model)s?"
            r"(?:\s+(?:is|are|will\s+be))?"
            r"|\b(?:replacement|successor)(?:\s+models?)?\s*(?:is|are|will\s+be|:)"
            r"|\b(?:we\s+)?recommend(?:s|ed)?(?:\s+(?:using|switching\s+to|migrating\s+to"
            r"|that\s+you\s+use|customers\s+use))?\b"
            r"|\b(?:instead|alternatively),?\s+use\b"
            r"|\buse\b(?=(?:[^.;\n]|\.(?=\S))*\binstead\b)",
            re.I,
        ),
    ),
)
# After an object cue ("the successor to X"), these turn to the replacement ("is Y").
_SWITCH = re.compile(r"\b(?:is|are|will\s+be|to)\b|:", re.I)
_REPLACEMENT_HEADER = re.compile(
    r"replac|successor|recommend|migrat\w*\s+to|alternative|upgrade\s+to|new\s+model", re.I
)
# A forward cue followed at once by retirement wording is no cue: "moved to legacy".
_CUE_LOOKAHEAD_WORDS = 2


@dataclass(frozen=True)
class Mention:
    """One model name in the text and the part it plays."""

    start: int
    end: int
    name: str  # as written
    role: Role
    row_replacements: tuple[str, ...] = ()  # a table row's replacement cell


@dataclass(frozen=True)
class RoleMap:
    """Every candidate mention of a notice with its role."""

    mentions: tuple[Mention, ...]
    replacements: tuple[str, ...] = field(default=())  # names, in order, once each

    def at(self, start: int, end: int) -> Mention | None:
        """The mention covering ``[start, end)``, if any (mentions never overlap)."""
        index = bisect_right(self.mentions, start, key=lambda m: m.start) - 1
        if index >= 0 and end <= self.mentions[index].end:
            return self.mentions[index]
        return None


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, token)`` of every id-shaped run, trailing punctuation off."""
    spans = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).rstrip(_TRAILING)
        if token:
            spans.append((match.start(), match.start() + len(token), token))
    return spans


def looks_like_model_id(token: str) -> bool:
    """A letter, a digit and an id separator; no URL, no date."""
    return (
        len(token) >= 4
        and any(c.isalpha() for c in token)
        and any(c.isdigit() for c in token)
        and any(c in "-._@:" for c in token)
        and "://" not in token
        and not token.lower().startswith(("http", "www."))
    )


def assign_roles(text: str, extra: Iterable[tuple[int, int]] = ()) -> RoleMap:
    """Give each candidate mention in ``text`` (plus the ``extra`` spans) its role."""
    spans = _candidates(text, extra)
    starts = [s for s, _ in spans]
    roles: list[Role | None] = [None] * len(spans)
    row_repl: list[tuple[str, ...]] = [()] * len(spans)
    in_table = _read_tables(text, spans, starts, roles, row_repl)
    sentence_of: dict[int, tuple[int, int]] = {}
    for start, end in _sentences(text):
        first, last = bisect_left(starts, start), bisect_left(starts, end)
        members = [i for i in range(first, last) if spans[i][1] <= end and i not in in_table]
        for i in range(first, last):
            sentence_of[i] = (start, end)
        if members:
            events = _events(text, start, end) + [(spans[i][0], 3, f"m{i}") for i in members]
            _run(sorted(events), roles)
    for i, role in enumerate(roles):
        if role is None:
            start, end = sentence_of.get(i, (0, len(text)))
            roles[i] = "retiring" if speaks_of_retirement(text[start:end]) else "mentioned"
    if "retiring" not in roles and speaks_of_retirement(text):
        roles = ["retiring" if r == "mentioned" else r for r in roles]
    mentions = tuple(
        Mention(s, e, text[s:e], roles[i] or "mentioned", row_repl[i])
        for i, (s, e) in enumerate(spans)
    )
    retiring = {m.name.lower() for m in mentions if m.role == "retiring"}
    replacements: dict[str, str] = {}
    for m in mentions:
        if m.role == "replacement" and m.name.lower() not in retiring:
            replacements.setdefault(m.name.lower(), m.name)
    return RoleMap(mentions, tuple(replacements.values()))


def _candidates(text: str, extra: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    found = [(s, e) for s, e, tok in token_spans(text) if looks_like_model_id(tok)]
    found += [(s, e) for s, e in extra if 0 <= s < e <= len(text)]
    found.sort(key=lambda span: (span[0], -span[1]))
    kept: list[tuple[int, int]] = []
    for span in found:
        if kept and span[0] < kept[-1][1]:
            continue  # overlaps a longer or earlier candidate
        kept.append(span)
    return kept


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return [(s, e) for s, e in bounds if e > s]


def _events(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """``(position, order, kind)`` of every cue, switch, stop and reset in a sentence."""
    events: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for cue, pattern in _CUES:
        for match in pattern.finditer(text, start, end):
            s, e = match.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            after = " ".join(text[e : min(end, e + 80)].split()[:_CUE_LOOKAHEAD_WORDS])
            if cue == "forward" and speaks_of_retirement(after):
                continue
            taken.append((s, e))
            events.append((s, 1, cue))
    for match in _SWITCH.finditer(text, start, end):
        if not any(match.start() < te and ts < match.end() for ts, te in taken):
            events.append((match.start(), 2, "switch"))
    events += [(m.start(), 0, "stop") for m in _STOP_WORD.finditer(text, start, end)]
    part_start = start
    for boundary in [*(m.span() for m in _PART_BOUNDARY.finditer(text, start, end)), (end, end)]:
        if speaks_of_retirement(text[part_start : boundary[0]]):
            events.append((part_start, 0, "reset"))
        part_start = boundary[1]
    return events


def _run(events: list[tuple[int, int, str]], roles: list[Role | None]) -> None:
    """The cue state machine over one sentence's sorted events; mentions are ``m<i>``."""
    mode = "neutral"  # neutral | replacement | retiring | retiring_then_replacement
    seen: list[int] = []
    for _, _, kind in events:
        if kind in ("stop", "reset"):
            mode = "neutral"
        elif kind == "forward":
            mode = "replacement"
        elif kind == "passive":
            _settle(seen, roles, "retiring")
            mode = "replacement"
        elif kind == "backward":
            _settle(seen, roles, "replacement")
            mode = "retiring"
        elif kind == "object":
            mode = "retiring_then_replacement"
        elif kind == "switch":
            if mode == "retiring_then_replacement":
                mode = "replacement"
        else:
            i = int(kind[1:])
            seen.append(i)
            if mode == "replacement":
                roles[i] = "replacement"
            elif mode in ("retiring", "retiring_then_replacement"):
                roles[i] = "retiring"


def _settle(indices: list[int], roles: list[Role | None], role: Role) -> None:
    for i in indices:
        if roles[i] is None:
            roles[i] = role


def _read_tables(
    text: str,
    spans: list[tuple[int, int]],
    starts: list[int],
    roles: list[Role | None],
    row_repl: list[tuple[str, ...]],
) -> set[int]:
    """Assign roles to mentions in table rows by column; returns their indices."""
    done: set[int] = set()
    header: list[str] | None = None
    offset = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        cells = _cells(line, line_start)
        if cells is None:
            header = None
            continue
        if all(set(t.strip()) <= set("-: ") for _, _, t in cells):
            continue  # a Markdown separator row
        if header is None:
            header = [t for _, _, t in cells]
            continue
        replacement_cols = {
            k for k, h in enumerate(header) if _REPLACEMENT_HEADER.search(h) is not None
        }
        line_end = line_start + len(line)
        first, last = bisect_left(starts, line_start), bisect_left(starts, line_end)
        row = [i for i in range(first, last) if spans[i][1] <= line_end]
        names_in = {
            k: tuple(text[spans[i][0] : spans[i][1]] for i in row if cs <= spans[i][0] < ce)
            for k, (cs, ce, _) in enumerate(cells)
        }
        repl = tuple(n for k in sorted(replacement_cols) for n in names_in.get(k, ()))
        for i in row:
            column = next(
                (k for k, (cs, ce, _) in enumerate(cells) if cs <= spans[i][0] < ce), None
            )
            if column is None:
                continue
            done.add(i)
            if column in replacement_cols:
                roles[i] = "replacement"
            else:
                roles[i] = "retiring"
                row_repl[i] = repl
    return done


def _cells(line: str, line_start: int) -> list[tuple[int, int, str]] | None:
    """``(start, end, text)`` of each ``|`` cell, or None for a line that is no table row."""
    if line.count("|") < 2:
        return None
    cells = []
    position = 0
    for part in line.split("|"):
        cells.append((line_start + position, line_start + position + len(part), part.strip()))
        position += len(part) + 1
    if line.strip().startswith("|"):
        cells = cells[1:]
    if line.strip().endswith("|"):
        cells = cells[:-1]
    return cells or None

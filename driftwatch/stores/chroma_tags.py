"""Records per (model, version) tag on a Chroma server, counted by ``where`` filters.

A server has no GROUP BY, and an offset scan walks to each page's offset, so
the server is asked to count instead: one ids-only ``get`` per (model, version)
pair. The pairs are found first (``_discover``), and the records lacking a tag
(the residue, which no pair's filter matches) are read and counted from their
metadata. Values naming the same tag ("1", 1, 1.0) add up, as in a scan.

The daemon counts every cycle and tags rarely change, so each count returns a
``CountedTags`` from which the next starts:

- the pairs it found, so the next count need not probe for them;
- the ids of the residue, so the next count can prove by arithmetic that
  nothing new appeared (``_residue_unchanged``) instead of asking the server
  for every record outside the known pairs, a ``$nin`` filter that costs
  the server a pass over every record's tag (0.1 s a filter at 100k records,
  as much as counting a pair).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftwatch.checks.base import metadata_tag
from driftwatch.stores.base import TagCounts

# A metadata value Chroma's where filters compare (a tag value), and with its
# kind ("str", "int", "float", "bool"), so that True and 1 stay apart as keys.
_Scalar = str | int | float | bool
_Value = tuple[str, _Scalar]
Pairs = dict[_Value, dict[_Value, None]]  # model -> its versions
_Record = tuple[str, Mapping[str, Any] | None]  # (id, metadata)
# Records per request while looking for a key's values: a few ms per request,
# and few records read past each value's first.
_PROBE_PAGE = 100
# Residue ids kept between counts, at most (~70 bytes each, so 3.5 MB): 5% of
# a 1M collection untagged still fits. A larger residue is looked for by the
# filters every count.
RESIDUE_KEPT = 50_000

# get(action, **chroma get kwargs) -> Chroma's GetResult
Get = Callable[..., Mapping[str, Any]]


class Uncountable(Exception):
    """A tag value Chroma's where filters cannot count (a list, another type)."""


@dataclass(frozen=True)
class CountedTags:
    """What one count of a collection found, the start of the next."""

    pairs: Pairs
    residue: tuple[str, ...] | None  # None: more than RESIDUE_KEPT


@dataclass(frozen=True)
class TagFilters:
    """Counts one server collection's tags through ``get`` and ``count``."""

    get: Get
    count: Callable[[], int]
    model_key: str
    version_key: str
    page_size: int  # records per full metadata page

    def counted(self, last: CountedTags | None) -> tuple[TagCounts, CountedTags]:
        """The records per tag, and what to start the next count from.

        Raises ``Uncountable`` for a tag value the filters cannot match.
        """
        per_pair: dict[tuple[_Value, _Value], int] = {}
        if last is not None:
            per_pair = self._count_pairs(last.pairs)
            residue = self._residue_unchanged(last, sum(per_pair.values()))
            if residue is not None:
                return self._result(per_pair, residue)
        pairs: Pairs = {m: dict(versions) for m, versions in (last.pairs if last else {}).items()}
        residue = self._find_pairs(pairs, probing=last is None)
        new = {m: {v: None for v in vs if (m, v) not in per_pair} for m, vs in pairs.items()}
        return self._result(per_pair | self._count_pairs(new), residue)

    def _count_pairs(self, pairs: Pairs) -> dict[tuple[_Value, _Value], int]:
        """One ids-only ``get`` per pair: the server filters, only ids come back."""
        counts: dict[tuple[_Value, _Value], int] = {}
        for model, versions in pairs.items():
            for version in versions:
                page = self.get(
                    "counting the records of a tag",
                    where={"$and": [{self.model_key: model[1]}, {self.version_key: version[1]}]},
                    include=[],
                )
                counts[(model, version)] = len(page["ids"])
        return counts

    def _residue_unchanged(self, last: CountedTags, paired: int) -> list[_Record] | None:
        """The residue, if it is still the last count's: the records ``paired``
        (counted by the known pairs) leaves out number as many as the ids kept,
        and each of those is still outside every known pair. As many records,
        all of them outside: they are the residue, and no record holds a value
        the pairs do not know. None otherwise (the values are looked for anew).

        A write between the requests can make one count miss a record, which
        the next count sees, as in a scan.
        """
        if last.residue is None or self.count() - paired != len(last.residue):
            return None
        records: list[_Record] = []
        for start in range(0, len(last.residue), self.page_size):
            page = self.get(
                "reading the records without a tag",
                ids=list(last.residue[start : start + self.page_size]),
                include=["metadatas"],
            )
            metadatas = page["metadatas"] or [None] * len(page["ids"])
            records += zip(page["ids"], metadatas, strict=True)
        known = last.pairs
        for _, metadata in records:
            model, version = self._values(metadata)
            if model is not None and version is not None and version in known.get(model, {}):
                return None  # re-tagged into a known pair: counted twice otherwise
        return records if len(records) == len(last.residue) else None

    def _find_pairs(self, pairs: Pairs, *, probing: bool) -> list[_Record]:
        """Add the models, then each model's versions, that ``pairs`` lacks;
        return the residue (records lacking either tag).

        Two stages, because one filter of the records no pair found covers
        ($or of a model $nin and, per model, a version $nin) measured slower
        than the two simpler filters together.
        """

        def note(metadata: Mapping[str, Any] | None) -> tuple[_Value | None, _Value | None]:
            model, version = self._values(metadata)
            if model is not None:
                versions = pairs.setdefault(model, {})
                if version is not None:
                    versions[version] = None
            return model, version

        residue = self._discover(
            "finding the models",
            lambda: _excluding(None, self.model_key, list(pairs)) if pairs else None,
            lambda metadata: note(metadata)[0] is not None,
            probing=probing,
        )
        if pairs:  # a model's versions seen above spare this stage a probe per model
            residue += self._discover(
                "finding the versions",
                lambda: _versions_not_found(self.model_key, self.version_key, pairs),
                lambda metadata: note(metadata)[1] is not None,
                probing=probing,
            )
        return residue

    def _discover(
        self,
        action: str,
        where: Callable[[], dict[str, Any] | None],
        learn: Callable[[Mapping[str, Any] | None], bool],
        *,
        probing: bool,
    ) -> list[_Record]:
        """Page through the records matching ``where()`` until only residue is
        left, and return the residue.

        ``learn`` notes a record's values and returns True when ``where()`` now
        excludes the record, so each page's new values drop out of the next
        request: of each value only the records in the page that found it are
        read. False: the record has no value for the key and stays matched
        (Chroma's $nin and $ne also match records lacking the key, which have
        no value to exclude): it is residue, kept in storage order, and the next
        page starts after it (offset = residue read), so each is read once.
        Pages are small (``_PROBE_PAGE``) while they bring new values, since
        every record read past a value's first is waste, and full once they
        bring only residue; ``probing`` False (the values are likely known
        already) starts with a full page.
        """
        residue: list[_Record] = []
        probe = min(_PROBE_PAGE, self.page_size)
        size = probe if probing else self.page_size
        while True:
            page = self.get(
                action, where=where(), include=["metadatas"], limit=size, offset=len(residue)
            )
            found = False
            metadatas = page["metadatas"] or [None] * len(page["ids"])
            for rid, metadata in zip(page["ids"], metadatas, strict=True):
                if learn(metadata):
                    found = True
                else:
                    residue.append((rid, metadata))
            if len(page["ids"]) < size:
                return residue
            size = probe if found else self.page_size

    def _result(
        self, per_pair: Mapping[tuple[_Value, _Value], int], residue: Sequence[_Record]
    ) -> tuple[TagCounts, CountedTags]:
        counts = Counter(
            (metadata_tag(m, self.model_key), metadata_tag(m, self.version_key)) for _, m in residue
        )
        found: Pairs = {}
        for (model, version), n in per_pair.items():
            if n:  # a pair that has gone is forgotten
                counts[(_tag(model[1]), _tag(version[1]))] += n
                found.setdefault(model, {})[version] = None
        kept = tuple(rid for rid, _ in residue) if len(residue) <= RESIDUE_KEPT else None
        return {tag: n for tag, n in counts.items() if n}, CountedTags(found, kept)

    def _values(self, metadata: Mapping[str, Any] | None) -> tuple[_Value | None, _Value | None]:
        return _filter_value(metadata, self.model_key), _filter_value(metadata, self.version_key)


def _filter_value(metadata: Mapping[str, Any] | None, key: str) -> _Value | None:
    """``key``'s value as Chroma's filters compare it, None if the record has none
    (missing, or "", which ``metadata_tag`` counts as untagged).

    Numbers compare by value (1 matches 1.0, so an integral float is the int),
    booleans apart from numbers (True does not match 1), strings apart from both.
    """
    value = (metadata or {}).get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, float) and value.is_integer():
        return "int", int(value)
    if isinstance(value, int | float | str):
        return type(value).__name__, value
    raise Uncountable


def _versions_not_found(
    model_key: str, version_key: str, pairs: Mapping[_Value, Mapping[_Value, None]]
) -> dict[str, Any]:
    """The filter of the records of a model found with a version not found yet."""
    per_model = [
        _excluding({model_key: model}, version_key, list(versions))
        for (_, model), versions in pairs.items()
    ]
    return per_model[0] if len(per_model) == 1 else {"$or": per_model}


def _excluding(within: dict[str, Any] | None, key: str, known: list[_Value]) -> dict[str, Any]:
    """``within`` and ``key`` $nin the known values (one $nin per kind: Chroma
    requires the values of a list to share a type); ``within`` or ``known`` not empty."""
    conditions = [within] if within else []
    for kind in ("str", "int", "float", "bool"):
        values = [value for k, value in known if k == kind]
        if values:
            conditions.append({key: {"$nin": values}})
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _tag(value: _Scalar) -> str | None:
    return metadata_tag({"value": value}, "value")

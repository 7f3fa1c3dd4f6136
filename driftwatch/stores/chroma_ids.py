"""Uniform samples of a Chroma server's collection that cost what the sample costs.

Chroma's API reaches a record at random only by its position (``get(limit,
offset)``), and listing ids costs the server about 10 µs an id (1M ids: 8-12 s).
So the store keeps the ids it has listed, in the server's order (``IdSnapshot``,
an id's length plus 16 bytes; on disk too, for the next process:
``chroma_id_cache``), and every sample after the first:

1. asks ``count()``;
2. lists the tail: from ``_ANCHOR`` known ids before where the known ids end, to
   the end. Chroma lists a collection's records in the order they were added
   (an update keeps a record's place, a delete removes it), so every record
   added since the last listing is in the tail; the ids not known yet are
   appended (an id deleted and added again is known already);
3. draws positions uniformly among the known ids and fetches those records by
   id. A deleted record's id comes back empty and the next drawn one takes its
   place, so the sample is uniform over the records there now (rejection
   sampling over a superset).

Checked, not assumed: the tail must start at a known id (otherwise more than
``_ANCHOR`` deletions may have moved new records before the window), and no
more records may exist than ids are known. The snapshot is listed anew when
either check fails and when a quarter of its ids are gone.

What an unexpected order could hide is bounded by a sweep instead of a periodic
full listing (1M ids: 11 s, once an hour): every sample also lists one page of
ids before the tail, from where the last sample's page ended (less ``_ANCHOR``
for deletions in between), and appends the ones not known. The sweep starts
over when it reaches the tail, so every id is seen again at least once every
``count / (_LIST_PAGE - _ANCHOR)`` samples (53 at 1M), and a sample costs about
the same at any age of the snapshot.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from driftwatch.stores.base import StoredRecord

# Known ids listed again before the tail: up to this many deletions since the last
# sample keep the tail's first id a known one.
_ANCHOR = 1_000
# Ids per listing request (ids are small: ~0.4 MB a page), and per sweep page.
_LIST_PAGE = 20_000
# Deleted ids tolerated in the snapshot before it is listed anew (each costs a
# rejected draw, and memory).
_DEAD_SHARE = 0.25

# list_ids(offset, limit) -> ids at those positions, in the server's order
ListIds = Callable[[int, int], list[str]]
# fetch(ids) -> the records among them that exist, in any order
Fetch = Callable[[list[str]], list[StoredRecord]]


@dataclass(frozen=True)
class IdSnapshot:
    """A collection's ids in the server's order, compact: UTF-8 bytes end to
    end plus where each ends, and a sorted array of their hashes (membership).
    Immutable: a refresh makes a new one, so concurrent samples never see half of one."""

    blob: bytes
    ends: np.ndarray  # int64: ids[i] = blob[ends[i-1]:ends[i]]
    hashes: np.ndarray  # int64, sorted: hash() of every id (this process only)
    swept_to: int = 0  # the server position the next sweep page starts from
    # Which full listing the snapshot grew from: new with every listing anew,
    # kept by what extends one (so a cache can tell growth from a new listing).
    origin: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(cls, ids: Sequence[str]) -> IdSnapshot:
        encoded = [i.encode() for i in ids]
        return cls(
            blob=b"".join(encoded),
            ends=np.cumsum([len(e) for e in encoded], dtype=np.int64),
            hashes=np.sort(_hashes(ids)),
        )

    @classmethod
    def restored(cls, blob: bytes, ends: np.ndarray, swept_to: int, origin: str) -> IdSnapshot:
        """A snapshot from the parts another process kept (``blob``, ``ends``), its
        hashes made again: ``hash()`` differs between processes."""
        bounds = np.concatenate([np.zeros(1, np.int64), ends])
        if int(bounds[-1]) != len(blob) or bool(np.any(np.diff(bounds) < 0)):
            raise ValueError("the ends do not divide the blob into ids")
        spans = zip(bounds[:-1].tolist(), ends.tolist(), strict=True)
        hashes = np.fromiter((hash(blob[a:b].decode()) for a, b in spans), np.int64, len(ends))
        return cls(blob, ends, np.sort(hashes), swept_to, origin)

    def __len__(self) -> int:
        return len(self.ends)

    def id_at(self, position: int) -> str:
        start = int(self.ends[position - 1]) if position else 0
        return self.blob[start : int(self.ends[position])].decode()

    def unknown(self, ids: Sequence[str]) -> list[str]:
        """The ids (each once, in order) that are not in the snapshot."""
        fresh = list(dict.fromkeys(ids))
        if not fresh or not len(self):
            return fresh
        hashed = _hashes(fresh)
        at = np.minimum(np.searchsorted(self.hashes, hashed), len(self.hashes) - 1)
        return [i for i, known in zip(fresh, self.hashes[at] == hashed, strict=True) if not known]

    def extended(self, ids: Sequence[str]) -> IdSnapshot:
        """The snapshot with these (unknown) ids appended."""
        if not ids:
            return self
        added = IdSnapshot.of(ids)
        offset = int(self.ends[-1]) if len(self) else 0
        return IdSnapshot(
            blob=self.blob + added.blob,
            ends=np.concatenate([self.ends, added.ends + offset]),
            # Merged into place (O(n)), not sorted again: 3 ms instead of 90 at 1M ids.
            hashes=np.insert(self.hashes, np.searchsorted(self.hashes, added.hashes), added.hashes),
            swept_to=self.swept_to,
            origin=self.origin,
        )


@dataclass(frozen=True)
class SnapshotSampler:
    """Samples one server collection through ``count``, ``list_ids`` and ``fetch``."""

    count: Callable[[], int]
    list_ids: ListIds
    fetch: Fetch

    def sample(
        self, snapshot: IdSnapshot | None, n: int, rng: np.random.Generator
    ) -> tuple[list[StoredRecord], IdSnapshot]:
        """A uniform random sample of up to n records, and the snapshot to keep."""
        total = self.count()
        snapshot = self._current(snapshot, total)
        return self._draw(snapshot, total, n, rng), snapshot

    def _current(self, snapshot: IdSnapshot | None, total: int) -> IdSnapshot:
        """The snapshot brought up to date with the tail, or listed anew."""
        if snapshot is None:
            return self._listed()
        start = max(0, min(len(snapshot), total) - _ANCHOR)
        if start == 0:  # the window reaches the start: that is a full listing
            return self._listed()
        tail = self._list_from(start)
        if not tail or snapshot.unknown(tail[:1]):
            return self._listed()
        current = self._swept(snapshot.extended(snapshot.unknown(tail)), start)
        dead = len(current) - total
        if dead < 0:
            dead = len(current) - self.count()  # records deleted after the first count?
        if dead < 0 or dead > _DEAD_SHARE * len(current):
            return self._listed()
        return current

    def _listed(self) -> IdSnapshot:
        """Every id listed anew (an id listed twice, by a write between pages, once)."""
        return IdSnapshot.of(list(dict.fromkeys(self._list_from(0))))

    def _swept(self, snapshot: IdSnapshot, tail_start: int) -> IdSnapshot:
        """The snapshot with the sweep's next page of ids (before the tail) known."""
        start = max(0, snapshot.swept_to - _ANCHOR)
        if start >= tail_start:  # the sweep reached the tail, just listed: start over
            return replace(snapshot, swept_to=0)
        size = min(_LIST_PAGE, tail_start - start)
        page = self.list_ids(start, size)
        swept = snapshot.extended(snapshot.unknown(page))
        reached_tail = len(page) < size or start + size >= tail_start
        return replace(swept, swept_to=0 if reached_tail else start + size)

    def _list_from(self, start: int) -> list[str]:
        """Every id from position ``start`` to the end, in pages."""
        ids: list[str] = []
        while True:
            page = self.list_ids(start + len(ids), _LIST_PAGE)
            ids += page
            if len(page) < _LIST_PAGE:
                return ids

    def _draw(
        self, snapshot: IdSnapshot, total: int, n: int, rng: np.random.Generator
    ) -> list[StoredRecord]:
        """Records at uniformly drawn positions, in the order drawn, skipping the
        ids that are gone. With ids known to be gone, enough are drawn at once
        for their share, with room for chance; more are drawn only if that fell short."""
        size = len(snapshot)
        if size == 0 or n <= 0:
            return []
        gone = size - total
        first = min(size, n if gone <= 0 else math.ceil(n * size / max(total, 1) * 1.25) + 16)
        drawn = rng.choice(size, size=first, replace=False)
        records = self._fetch_in_order(snapshot, drawn)
        if len(records) < n and first < size:
            # More ids were gone than expected: the remaining positions, shuffled,
            # continue the same random order.
            rest = rng.permutation(np.setdiff1d(np.arange(size), drawn))
            for start in range(0, len(rest), first):
                records += self._fetch_in_order(snapshot, rest[start : start + first])
                if len(records) >= n:
                    break
        return records[:n]

    def _fetch_in_order(self, snapshot: IdSnapshot, positions: np.ndarray) -> list[StoredRecord]:
        ids = [snapshot.id_at(int(p)) for p in positions]
        found = {record.id: record for record in self.fetch(ids)}
        return [found[i] for i in ids if i in found]


def _hashes(ids: Sequence[str]) -> np.ndarray:
    return np.fromiter((hash(i) for i in ids), dtype=np.int64, count=len(ids))

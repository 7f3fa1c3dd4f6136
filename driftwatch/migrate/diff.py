"""Blue against green, by text hash: what is done, missing, stale or orphaned.

Only green's ``id -> hash`` map is held in memory; blue is streamed page by
page (``iter_text_hashes``), so a diff of N records costs one scan of each
collection and memory in proportion to green alone.

- done: in both, same text hash;
- missing: in blue with text, not in green;
- stale: in both, green's text differs from blue's current text (blue changed);
- orphaned: in green, no longer in blue (deleted in blue since it was copied);
- without text: in blue without stored text; these cannot be re-embedded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftwatch.stores.base import CollectionHandle

SHOWN_IDS = 5  # how many ids of records without text a report shows


@dataclass
class Diff:
    blue_records: int = 0
    done: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    without_text: int = 0
    without_text_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Records that can be migrated: blue's records with text."""
        return self.blue_records - self.without_text

    @property
    def todo(self) -> list[str]:
        return self.missing + self.stale

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale and not self.orphaned


def diff_collections(blue: CollectionHandle, green: CollectionHandle | None) -> Diff:
    """Compare blue with green (None: green does not exist yet)."""
    green_hashes: dict[str, str | None] = {}
    if green is not None:
        for page in green.iter_text_hashes():
            green_hashes.update(page)
    result = Diff()
    for page in blue.iter_text_hashes():
        for rid, digest in page:
            result.blue_records += 1
            copied = green_hashes.pop(rid, _ABSENT)
            if digest is None:
                result.without_text += 1
                if len(result.without_text_ids) < SHOWN_IDS:
                    result.without_text_ids.append(rid)
            elif copied is _ABSENT:
                result.missing.append(rid)
            elif copied == digest:
                result.done += 1
            else:
                result.stale.append(rid)
    result.orphaned = list(green_hashes)
    return result


_ABSENT = "\x00absent"

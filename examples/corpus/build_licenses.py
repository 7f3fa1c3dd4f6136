"""Rebuild examples/corpus/licenses.jsonl: a second corpus from another domain, offline.

The paragraphs of the free-software licence texts Debian ships in
``/usr/share/common-licenses`` (legal English, unlike the Python
documentation of ``python-docs.jsonl``). Each licence permits verbatim copies
of its text. The population check's tests and ``benchmarks/peers.py`` use it
as "another domain's documents" for content drift.

    python examples/corpus/build_licenses.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SOURCE = Path("/usr/share/common-licenses")
# Fixed list (not a directory listing) so the corpus is the same on every machine.
LICENSES = [
    "Apache-2.0",
    "Artistic",
    "GFDL-1.3",
    "GPL-2",
    "GPL-3",
    "LGPL-2.1",
    "LGPL-3",
    "MPL-1.1",
    "MPL-2.0",
    "CC0-1.0",
]
OUT = Path(__file__).resolve().parent / "licenses.jsonl"
MIN_WORDS, MAX_WORDS = 8, 120


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, whitespace joined, long ones cut at sentences."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        para = " ".join(block.split())
        words = para.split()
        if len(words) < MIN_WORDS:
            continue
        if len(words) <= MAX_WORDS:
            out.append(para)
            continue
        chunk: list[str] = []
        for sentence in re.split(r"(?<=[.;])\s+", para):
            if chunk and len(" ".join([*chunk, sentence]).split()) > MAX_WORDS:
                out.append(" ".join(chunk))
                chunk = []
            chunk.append(sentence)
        if chunk and len(" ".join(chunk).split()) >= MIN_WORDS:
            out.append(" ".join(chunk))
    return out


def main() -> None:
    seen: set[str] = set()
    rows = []
    for name in LICENSES:
        text = (SOURCE / name).read_text(encoding="utf-8", errors="replace")
        for i, para in enumerate(paragraphs(text)):
            if para in seen:
                continue
            seen.add(para)
            rows.append({"id": f"license-{name}-{i}", "source": f"license:{name}", "text": para})
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} paragraphs -> {OUT}")


if __name__ == "__main__":
    main()

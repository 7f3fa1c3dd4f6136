"""The second corpus (another domain: licence texts) and its real ONNX vectors, cached.

``examples/corpus/licenses.jsonl`` is legal English from Debian's
common-licenses, unlike the Python documentation of the main corpus; the
population check's tests and the peers benchmark use it as "another domain's
documents". Vectors are cached in ``benchmarks/.work`` like the main corpus's.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from tests.support.corpus_vectors import vectors_on_disk

LICENSES = Path(__file__).resolve().parents[2] / "examples" / "corpus" / "licenses.jsonl"


@cache
def licenses() -> list[dict[str, str]]:
    with LICENSES.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@cache
def license_vectors(model: str) -> np.ndarray:
    """(len(licenses()), dim) float32 vectors of the licence paragraphs, in file order."""
    return vectors_on_disk("licenses", LICENSES, [row["text"] for row in licenses()], model)

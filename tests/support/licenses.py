"""The second corpus (another domain: licence texts) and its real ONNX vectors, cached.

``examples/corpus/licenses.jsonl`` is legal English from Debian's
common-licenses, unlike the Python documentation of the main corpus; the
population check's tests and the peers benchmark use it as "another domain's
documents". Vectors are cached in ``benchmarks/.work`` like the main corpus's.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np

from tests.support.models import embedder
from tests.support.variants import WORK_DIR

LICENSES = Path(__file__).resolve().parents[2] / "examples" / "corpus" / "licenses.jsonl"


@cache
def licenses() -> list[dict[str, str]]:
    with LICENSES.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@cache
def license_vectors(model: str) -> np.ndarray:
    """(len(licenses()), dim) float32 vectors of the licence paragraphs, in file order."""
    real = embedder(model)
    digest = hashlib.sha256(LICENSES.read_bytes())
    digest.update(real.model.encode())
    digest.update(str(real.model_path.stat().st_size).encode())
    path = WORK_DIR / f"licenses-{real.model}-{digest.hexdigest()[:12]}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        if cached.shape[0] == len(licenses()):
            return cached
    vectors = real.embed([row["text"] for row in licenses()])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)
    return vectors

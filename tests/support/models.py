"""The real ONNX models the tests use (installed from PyPI, nothing downloaded)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from driftwatch.config import OnnxEmbedderConfig
from driftwatch.embedders.onnx import OnnxEmbedder

MINILM = "all-MiniLM-L6-v2"  # int8 export
PARAPHRASE = "paraphrase-MiniLM-L3-v2"  # fp32 export; same 384 dims, different space
CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus" / "python-docs.jsonl"


def onnx_config(model: str, path: str | None = None, **kwargs: object) -> OnnxEmbedderConfig:
    return OnnxEmbedderConfig.model_validate(
        {"kind": "onnx", "model": model, "path": path, **kwargs}
    )


@cache
def embedder(model: str) -> OnnxEmbedder:
    """Shared per test session: loading a model takes ~0.5 s."""
    return OnnxEmbedder(onnx_config(model))


@cache
def corpus() -> list[dict[str, str]]:
    """Real English paragraphs from CPython's documentation (see examples/corpus)."""
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


# Questions a user of the Python documentation might ask; none is copied from the corpus.
CANARY_QUERIES = [
    "how do I open a file for reading",
    "what does the with statement do",
    "how to define a class with inheritance",
    "how are exceptions raised and caught",
    "what is a generator function",
    "how does import find modules",
    "what is the difference between a list and a tuple",
    "how do decorators work",
    "how to format strings with f-strings",
    "what does the global statement do",
    "how do I iterate over a dictionary",
    "what is a lambda expression",
    "how are default argument values evaluated",
    "what does yield from do",
    "how to compare objects for equality",
    "what is the assert statement for",
    "how do async and await work",
    "how to delete an item from a list",
    "what are slices and how do they work",
    "how does the for loop work with iterators",
]

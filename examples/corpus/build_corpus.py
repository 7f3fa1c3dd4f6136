"""Rebuild examples/corpus/python-docs.jsonl: real English paragraphs, offline.

Sources (both ship with CPython, PSF License): the reference-manual topics in
``pydoc_data.topics`` and the docstrings of a fixed list of standard-library
modules. The output is committed so the demo, tests and benchmarks use the
same texts on every Python version.

    python examples/corpus/build_corpus.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

MODULES = [
    "argparse",
    "asyncio",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email.message",
    "enum",
    "fractions",
    "functools",
    "gzip",
    "hashlib",
    "heapq",
    "http.client",
    "http.server",
    "inspect",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "mailbox",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "sched",
    "secrets",
    "shutil",
    "smtplib",
    "socket",
    "sqlite3",
    "ssl",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "typing",
    "unittest",
    "urllib.parse",
    "uuid",
    "warnings",
    "weakref",
    "xml.dom.minidom",
    "zipfile",
    "zoneinfo",
]
OUT = Path(__file__).with_name("python-docs.jsonl")


def _paragraphs(text: str) -> list[str]:
    found = []
    for block in re.split(r"\n\s*\n", text):
        para = " ".join(block.split())
        letters = sum(c.isalpha() or c == " " for c in para)
        if 60 <= len(para) <= 1000 and para[0].isalpha() and letters / len(para) > 0.8:
            found.append(para)
    return found


def build() -> list[dict[str, str]]:
    from pydoc_data.topics import topics

    records: dict[str, dict[str, str]] = {}
    for topic, text in sorted(topics.items()):
        for i, para in enumerate(_paragraphs(text)):
            records.setdefault(para, {"id": f"topic-{topic}-{i}", "source": f"topic:{topic}"})
    for name in MODULES:
        module = importlib.import_module(name)
        members = sorted(
            (f"{name}.{attr}", obj)
            for attr, obj in vars(module).items()
            if not attr.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", "") == name
        )
        for qualname, obj in [(name, module), *members]:
            for i, para in enumerate(_paragraphs(inspect.getdoc(obj) or "")):
                records.setdefault(para, {"id": f"doc-{qualname}-{i}", "source": qualname})
    return [
        {"id": meta["id"], "source": meta["source"], "text": text} for text, meta in records.items()
    ]


if __name__ == "__main__":
    rows = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} paragraphs to {OUT}")

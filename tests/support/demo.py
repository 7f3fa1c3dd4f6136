"""A small real deployment for CLI and daemon tests: embedded Chroma seeded with
real corpus text by a real ONNX model, a SQLite state DB, all under tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from driftwatch import demo
from driftwatch.config import load_config

SEED_RECORDS = 150
CANARIES = [
    {"query": "how do I leave a loop early", "expect": ["topic-break-0"]},
    {"query": "anonymous functions written inline", "expect": ["topic-lambda-0"]},
    {"query": "insert debugging checks into a program", "expect": ["topic-assert-0"]},
    {"query": "how are modules loaded and found"},
]


def demo_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "state_url": f"sqlite:///{tmp_path}/state.db",
        "listen": "127.0.0.1:9464",
        "embedders": {"live": {"kind": "onnx", "model": "all-MiniLM-L6-v2", "threads": 2}},
        "stores": {"demo": {"kind": "chroma", "path": str(tmp_path / "chroma")}},
        "collections": [
            {
                "store": "demo",
                "name": "python-docs",
                "embedder": "live",
                "expected_model": "all-MiniLM-L6-v2",
                "sample_size": 60,
                "canaries": CANARIES,
                "schedule": {"probe": "2s", "version_mix": "2s", "jitter": "0.2s"},
            }
        ],
    }
    config.update(overrides)
    return config


def write_config(tmp_path: Path, config: dict[str, Any], name: str = "driftwatch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def seeded(tmp_path: Path, **overrides: Any) -> Path:
    """Write the config and seed its store with SEED_RECORDS real paragraphs."""
    path = write_config(tmp_path, demo_config(tmp_path, **overrides))
    demo.seed(load_config(path), Console(quiet=True), limit=SEED_RECORDS)
    return path

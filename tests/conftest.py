"""Suite-wide fixtures: the real state databases (SQLite and PostgreSQL), and one
embedded Chroma store seeded with real corpus text, shared read-only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from driftwatch import demo
from driftwatch.config import load_config
from tests.support.chroma_server import chroma_server  # noqa: F401 (the `chroma run` fixture)
from tests.support.demo import SEED_RECORDS, demo_config, write_config

pytest_plugins = ["tests.support.state"]


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Rewritten ONNX models (embedders/onnx_weights.py) are cached under
    $XDG_CACHE_HOME: one directory for the session, not the user's home. Set in the
    environment so the daemon and CLI processes tests start inherit it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chroma directory with SEED_RECORDS paragraphs embedded by all-MiniLM-L6-v2.

    Tests only read it (each with its own state DB): seeding once saves a model
    run per test.
    """
    root = tmp_path_factory.mktemp("seeded")
    path = write_config(root, demo_config(root))
    demo.seed(load_config(path), Console(quiet=True), limit=SEED_RECORDS)
    return root / "chroma"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the root logger for the stream it was given (a captured
    stderr in tests); put it back so later tests' threads do not log to a closed one."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # The CLI also quietens these (driftwatch.logs); tests of their log lines need them back.
    noisy = ("httpx", "httpcore", "apscheduler", "chromadb", "urllib3", "alembic")
    quiet = [logging.getLogger(name) for name in noisy]
    levels = [logger.level for logger in quiet]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, old in zip(quiet, levels, strict=True):
        logger.setLevel(old)

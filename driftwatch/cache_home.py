"""Where driftwatch keeps what it can make again but would rather not:
``$XDG_CACHE_HOME/driftwatch`` (default ``~/.cache/driftwatch``), one directory
per kind of entry. Losing it costs time, never results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The cache directory for one kind of entry (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "driftwatch" / kind

"""Give memory freed by a finished job back to the operating system.

glibc keeps freed heap pages (per-thread arenas) for reuse, so after one
consistency sample re-embedded 300 texts a sidecar would sit at its peak for
the rest of its life. ``malloc_trim(0)`` after each job returns those pages:
measured on the demo config, 260 MB -> 193 MB after every probe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl/macOS)


def release_free_memory() -> bool:
    """True if the C library was asked to return free heap memory."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True

"""Who this process is to the state database, and whether another holder is still alive.

An owner id, ``host:pid:nonce``, names a holder of something in the state DB:
job leases (one id per daemon) and claimed outbox messages (one per notifier).
The nonce tells apart two holders in one process (replicas in a test) and two
processes that reuse the same pid (a container restarted with pid 1).

A holder on this host whose pid no longer exists is dead: its leases and claims
can be taken over at once instead of waiting for them to expire (after a
restart that wait was up to one job interval, ~54 min for the hourly version
mix). A holder on another host, or with a pid this process may not signal,
is trusted until its lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid


def new_owner() -> str:
    """A fresh owner id for one holder; keep it for the holder's lifetime."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_alive(host: str, pid: int) -> bool:
    """False only when ``pid`` is certainly gone: on this host and no such process."""
    if host != socket.gethostname() or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def owner_dead(owner: str) -> bool:
    """True when ``owner`` (an id from new_owner) is a process on this host that is gone."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False  # not ours to judge: trust it until it expires
    host, pid, _ = parts
    return not process_alive(host, int(pid))

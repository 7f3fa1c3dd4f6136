"""Is an embedded Chroma directory in use by another process? (read from /proc)

Opening a chromadb ``PersistentClient`` is not a read: on open Chroma applies
its write-ahead log to the HNSW segment and persists it, so a monitor opening
the directory of a running application writes into the application's store
(a concurrent writer grew ``link_lists.bin`` to 59 GB and left an index a fresh
reader segfaulted on). Embedded mode is single-process; ``refuse_if_in_use``
refuses while another process has a file of the directory open (an fd) or
mapped (``/proc/PID/maps``). The adapter asks before each open; the daemon asks
too before it starts a store worker, so a refused directory costs no worker.

Limits: /proc shows only processes of the same PID namespace that this user
may inspect, so an application in another container (a Kubernetes sidecar
without ``shareProcessNamespace: true``) is invisible; for a live application
the rule stays "watch it through the Chroma server (``url:``)".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from driftwatch.errors import StoreUnavailable

_PROC = Path("/proc")


@dataclass(frozen=True)
class DirectoryUser:
    """A process holding a file under the directory: its pid, name and one such file."""

    pid: int
    name: str
    path: str


# A store worker whose daemon or CLI was killed exits within a poll of its parent
# (stores/isolated.py, 0.5 s) plus its exit: a command started right after a kill
# waits this long for such workers before it refuses the directory.
WORKER_EXIT_GRACE_S = 3.0
# What identifies a store worker in /proc/PID/cmdline (isolated._Worker starts it).
_WORKER_MARK = b"from driftwatch.stores.isolated import serve"


def refuse_if_in_use(store: str, directory: Path, owner_pid: int | None = None) -> None:
    """Raise ``StoreUnavailable`` while another process uses ``directory`` (see
    ``other_users`` for ``owner_pid``); the message names one such process.
    While only driftwatch store workers use it, wait up to ``WORKER_EXIT_GRACE_S``
    for them to exit first (those of a killed process are on their way out)."""
    users = other_users(directory, owner_pid)
    deadline = time.monotonic() + WORKER_EXIT_GRACE_S
    while users and all(_is_store_worker(u.pid) for u in users) and time.monotonic() < deadline:
        time.sleep(0.1)
        users = other_users(directory, owner_pid)
    if users:
        first = users[0]
        more = f" and {len(users) - 1} more" if len(users) > 1 else ""
        # Whose it is tells on-call whether to wait (a worker on its way out) or look.
        what = (
            f"a driftwatch store worker still there after {WORKER_EXIT_GRACE_S:.0f} s"
            if _is_store_worker(first.pid)
            else first.name
        )
        raise StoreUnavailable(
            f"store {store!r}: chroma directory {directory} is open in another process "
            f"(pid {first.pid}, {what}{more}); embedded mode is single-process and "
            "reading it would write to it: watch a live application through the Chroma "
            "server (url:)"
        )


def other_users(directory: Path, owner_pid: int | None = None) -> list[DirectoryUser]:
    """Processes other than ours with a file under ``directory`` open or mapped.

    "Ours" is this process plus ``owner_pid`` and all its descendants: the daemon
    that owns the store worker this may run in, and its other workers.
    """
    root = os.path.realpath(directory)
    prefix = root.rstrip("/") + "/"
    ours = _process_tree(owner_pid) if owner_pid is not None else set()
    ours.add(os.getpid())
    users = []
    for pid in _pids():
        if pid in ours:
            continue
        hit = next((p for p in _open_paths(pid) if p == root or p.startswith(prefix)), None)
        if hit is not None:
            users.append(DirectoryUser(pid, _name(pid), hit))
    return users


def _pids() -> Iterator[int]:
    try:
        names = [entry.name for entry in _PROC.iterdir()]
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)


def _open_paths(pid: int) -> Iterator[str]:
    """Targets of the process's fds, then its mapped files (unreadable ones: none)."""
    fd_dir = _PROC / str(pid) / "fd"
    try:
        fds = list(fd_dir.iterdir())
    except OSError:  # gone, or another user's process
        fds = []
    for fd in fds:
        try:
            yield str(fd.readlink())
        except OSError:
            continue
    try:
        maps = (_PROC / str(pid) / "maps").read_text(errors="replace")
    except OSError:
        return
    for line in maps.splitlines():
        # address perms offset dev inode pathname (the path may contain spaces)
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            yield fields[5].removesuffix(" (deleted)")


def _is_store_worker(pid: int) -> bool:
    try:
        return _WORKER_MARK in (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # gone already
        return True


def _name(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def _process_tree(root: int) -> set[int]:
    """``root`` and every process descending from it."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents(_pids()):
        children.setdefault(ppid, []).append(pid)
    tree, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def _parents(pids: Iterable[int]) -> Iterator[tuple[int, int]]:
    for pid in pids:
        try:
            stat = (_PROC / str(pid) / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1].isdigit():
            yield pid, int(fields[1])

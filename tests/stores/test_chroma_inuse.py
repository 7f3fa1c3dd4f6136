"""The embedded Chroma adapter refuses a directory another process uses (chroma_inuse.py):
opening a PersistentClient would write to it; the daemon refuses it before starting a
store worker for it. Real second processes hold its files."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig
from driftwatch.errors import StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.chroma import ChromaStore
from driftwatch.stores.chroma_inuse import other_users
from driftwatch.stores.isolated import IsolatedStore

COLL = "docs"

# Holds DIR/chroma.sqlite3 open (as an fd, or only as a mapping), says so, and waits.
HOLDER = textwrap.dedent(
    """
    import mmap, sys
    f = open(sys.argv[1] + "/chroma.sqlite3", "rb")
    if sys.argv[2] == "map":
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        f.close()
    print("ready", flush=True)
    sys.stdin.read()
    """
)
# Starts HOLDER outside this process tree (as an unrelated application is), says its
# pid and exits; the holder keeps this launcher's stdin and stdout.
LAUNCH = textwrap.dedent(
    """
    import subprocess, sys
    proc = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]], start_new_session=True)
    print(proc.pid, flush=True)
    """
)


@pytest.fixture(scope="module")
def chroma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seeded(tmp_path_factory.mktemp("chroma"))


def _seeded(path: Path) -> Path:
    """A small real Chroma directory, written by another process that then exits."""
    seed = textwrap.dedent(
        """
        import sys, numpy as np, chromadb
        from chromadb.config import Settings
        c = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
        coll = c.get_or_create_collection(sys.argv[2])
        rng = np.random.default_rng(0)
        coll.add(ids=[str(i) for i in range(50)], embeddings=rng.normal(size=(50, 8)))
        """
    )
    subprocess.run([sys.executable, "-c", seed, str(path), COLL], check=True)
    return path


def _hold(directory: Path, how: str) -> Iterator[int]:
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, HOLDER, str(directory), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdout is not None
    pid = int(launcher.stdout.readline())
    launcher.wait()
    try:
        assert launcher.stdout.readline().strip() == "ready"
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)
        launcher.stdout.close()
        if launcher.stdin is not None:
            launcher.stdin.close()


@pytest.fixture(params=["fd", "map"])
def holder(request: pytest.FixtureRequest, chroma_dir: Path) -> Iterator[int]:
    yield from _hold(chroma_dir, request.param)


def test_a_directory_open_in_another_process_is_refused_naming_it(
    chroma_dir: Path, holder: int
) -> None:
    # Reached through a symlink: the check compares real paths.
    link = chroma_dir.parent / f"{chroma_dir.name}-link"
    link.unlink(missing_ok=True)
    link.symlink_to(chroma_dir)
    store = ChromaStore("app", ChromaStoreConfig(path=str(link)))
    with pytest.raises(StoreUnavailable) as err:
        store.open_collection(COLL)
    message = str(err.value)
    assert f"is open in another process (pid {holder}, python" in message
    assert "store 'app'" in message and "url:" in message
    assert [u.pid for u in other_users(chroma_dir)] == [holder]


def test_the_daemon_refuses_a_directory_in_use_without_starting_a_worker(
    chroma_dir: Path, holder: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store("app", ChromaStoreConfig(path=str(chroma_dir)))
    assert isinstance(store, IsolatedStore)
    refusal = re.escape(f"is open in another process (pid {holder}, python")
    try:
        with caplog.at_level(logging.INFO, "driftwatch.stores.isolated"):
            for _ in range(3):  # one per check cycle
                with pytest.raises(StoreUnavailable, match=refusal):
                    store.open_collection(COLL)
                assert store.worker_pid is None
        started = [r for r in caplog.records if getattr(r, "event", "") == "store_worker_started"]
        assert started == []
    finally:
        store.close()


def test_a_directory_nobody_else_uses_opens(chroma_dir: Path) -> None:
    assert other_users(chroma_dir) == []
    store = ChromaStore("app", ChromaStoreConfig(path=str(chroma_dir)))
    try:
        handle = store.open_collection(COLL)
        assert handle.count() == 50
        hits = handle.query(np.ones((1, 8), dtype=np.float32), 3)
        assert len(hits) == 1 and len(hits[0].ids) == 3
    finally:
        store.close()


def test_the_owner_process_tree_does_not_count(chroma_dir: Path) -> None:
    """A process descending from the owner (the daemon's store workers) is ours."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(chroma_dir), "fd"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert [u.pid for u in other_users(chroma_dir)] == [child.pid]
        assert other_users(chroma_dir, owner_pid=os.getpid()) == []
        store = ChromaStore("app", ChromaStoreConfig(path=str(chroma_dir)))
        try:
            assert store.open_collection(COLL).count() == 50
        finally:
            store.close()
    finally:
        child.kill()
        child.wait()


# A process with an embedded store open through its worker, as `migrate run` has.
WORKER_OWNER = textwrap.dedent(
    """
    import sys
    from driftwatch.config import ChromaStoreConfig
    from driftwatch.stores import open_store
    store = open_store("app", ChromaStoreConfig(path=sys.argv[1]))
    print(store.open_collection(sys.argv[2]).count(), flush=True)
    sys.stdin.read()
    """
)


def test_the_worker_of_a_killed_process_is_waited_for_not_refused(tmp_path: Path) -> None:
    """SIGKILL leaves the store worker to notice its parent is gone: a command
    started right away waits for it to exit instead of refusing the directory.
    The worker is held stopped for 1 s after the kill (a loaded machine), so it
    still has the directory open when the next open looks. A directory of its own:
    this test process must not hold it (chromadb keeps files open after close)."""
    chroma_dir = _seeded(tmp_path)
    owner = subprocess.Popen(
        [sys.executable, "-c", WORKER_OWNER, str(chroma_dir), COLL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stderr is not None
        counted = owner.stdout.readline().strip()
        assert counted == "50", owner.stderr.read()[-2000:]  # it exited: say why
        (worker,) = other_users(chroma_dir)  # the owner itself opens nothing there
        os.kill(worker.pid, signal.SIGSTOP)
    finally:
        owner.kill()
        owner.wait()
    resume = threading.Timer(1.0, os.kill, (worker.pid, signal.SIGCONT))
    resume.start()
    store = ChromaStore("app", ChromaStoreConfig(path=str(chroma_dir)))
    try:
        t0 = time.monotonic()
        assert store.open_collection(COLL).count() == 50  # waited, not refused
        assert time.monotonic() - t0 >= 0.9
    finally:
        store.close()
        resume.join()
    assert other_users(chroma_dir) == []

"""A store in a supervised worker process: the contract is forwarded, a crash or a
hang of the worker becomes an error naming the store, the next call recovers,
and no worker outlives the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig
from driftwatch.errors import CollectionNotFound, StoreError, StoreUnavailable
from driftwatch.stores import open_store
from driftwatch.stores.base import CollectionHandle, WriteLog
from driftwatch.stores.isolated import (
    BACKOFF_BASE_S,
    IsolatedStore,
    StoreFactory,
    WorkerFailed,
)

COLL = "docs"
N = 1200
DIM = 16


class PlainError(Exception):
    """An exception type the daemon side knows nothing special about."""


class SlowCollection:
    """A trivial real collection whose calls take as long as asked (to be killed mid-call)."""

    name = COLL

    def count(self) -> int:
        return 7

    def wait(self, seconds: float) -> int:
        time.sleep(seconds)
        return 7

    def fail(self) -> None:
        raise PlainError("the library broke")

    def pid(self) -> int:
        return os.getpid()


class SlowStore:
    """A trivial real store for the worker: one SlowCollection."""

    def open_collection(self, name: str, options: Any = None) -> SlowCollection:
        if name != COLL:
            raise CollectionNotFound(f"collection {name!r} does not exist in store 'slow'")
        return SlowCollection()

    def close(self) -> None:
        pass


def slow_store(call_timeout: float = 30.0) -> IsolatedStore:
    return IsolatedStore(
        "slow",
        StoreFactory("tests.stores.test_isolated:SlowStore"),
        location="a test store",
        call_timeout=call_timeout,
    )


@pytest.fixture(scope="module")
def chroma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded Chroma directory written once, then only read."""
    import chromadb

    from driftwatch.stores.chroma import chroma_settings

    path = tmp_path_factory.mktemp("chroma")
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    coll = client.create_collection(COLL, configuration={"hnsw": {"space": "cosine"}})
    vectors = np.random.default_rng(3).normal(size=(N, DIM)).astype(np.float32)
    coll.add(
        ids=[f"id-{i}" for i in range(N)],
        embeddings=vectors,
        documents=[f"text {i}" for i in range(N)],
        metadatas=[{"embedding_model": "m", "n": i} for i in range(N)],
    )
    np.save(path / "vectors.npy", vectors)
    return path


@pytest.fixture(scope="module")
def isolated_chroma(chroma_dir: Path) -> Iterator[IsolatedStore]:
    store = open_store("embedded", ChromaStoreConfig(path=str(chroma_dir)))
    assert isinstance(store, IsolatedStore)
    yield store
    store.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running after {timeout}s"
        time.sleep(0.05)


# --- the contract is forwarded -------------------------------------------------


def test_embedded_chroma_is_isolated_and_a_server_is_not() -> None:
    from driftwatch.stores.chroma import ChromaStore

    embedded = open_store("a", ChromaStoreConfig(path="/nonexistent"))
    server = open_store("b", ChromaStoreConfig(url="http://127.0.0.1:1"))
    assert isinstance(embedded, IsolatedStore)
    assert isinstance(server, ChromaStore)


def test_reads_match_the_store_in_process(isolated_chroma: IsolatedStore, chroma_dir: Path) -> None:
    from driftwatch.stores.chroma import ChromaStore

    direct = ChromaStore("direct", ChromaStoreConfig(path=str(chroma_dir)))
    try:
        mine, theirs = isolated_chroma.open_collection(COLL), direct.open_collection(COLL)
        assert isinstance(mine, CollectionHandle)
        assert isolated_chroma.worker_pid not in (None, os.getpid())
        assert mine.name == COLL
        assert (mine.count(), mine.dimension()) == (N, DIM) == (theirs.count(), theirs.dimension())

        # The caller's generator advances exactly as it would in-process.
        rng_a, rng_b = np.random.default_rng(11), np.random.default_rng(11)
        sample_a, sample_b = mine.sample(25, rng_a), theirs.sample(25, rng_b)
        assert [r.id for r in sample_a] == [r.id for r in sample_b]
        assert rng_a.integers(1 << 30) == rng_b.integers(1 << 30)
        assert all(r.embedding is not None and r.embedding.shape == (DIM,) for r in sample_a)
        assert [r.document for r in sample_a] == [r.document for r in sample_b]

        # The write log (population check) answers the same through the worker.
        assert isinstance(mine, WriteLog)
        position = mine.latest_write()
        assert position is not None and position == theirs.latest_write()  # type: ignore[attr-defined]
        written_a = mine.sample_written_since(position - 10, 5, rng_a)
        written_b = theirs.sample_written_since(position - 10, 5, rng_b)  # type: ignore[attr-defined]
        assert [r.id for r in written_a[0]] == [r.id for r in written_b[0]]
        assert written_a[1] == written_b[1] == 10
        assert rng_a.integers(1 << 30) == rng_b.integers(1 << 30)

        vectors = np.load(chroma_dir / "vectors.npy")
        hits = mine.query(vectors[:3], 5)
        assert [h.ids[0] for h in hits] == ["id-0", "id-1", "id-2"]
        assert hits == theirs.query(vectors[:3], 5)
    finally:
        direct.close()


def test_metadata_comes_page_by_page_with_progress(isolated_chroma: IsolatedStore) -> None:
    handle = isolated_chroma.open_collection(COLL)
    progress: list[tuple[int, int]] = []
    pages = list(
        handle.iter_metadata(500, progress=lambda done, total: progress.append((done, total)))
    )
    assert [len(p) for p in pages] == [500, 500, 200]
    assert sorted(m["n"] for p in pages for m in p if m) == list(range(N))
    assert progress[-1] == (N, N)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_an_abandoned_scan_leaves_the_worker_usable(isolated_chroma: IsolatedStore) -> None:
    handle = isolated_chroma.open_collection(COLL)
    scan = handle.iter_metadata(100)
    assert len(next(scan)) == 100
    scan.close()
    del scan
    assert handle.count() == N
    assert sum(len(p) for p in handle.iter_metadata(700)) == N


def test_adapter_specific_attributes_are_forwarded(isolated_chroma: IsolatedStore) -> None:
    handle = isolated_chroma.open_collection(COLL)
    assert handle.space == "cosine"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        handle.upsert  # type: ignore[attr-defined]  # noqa: B018 - a read handle stays read-only


def test_store_errors_keep_their_type_and_the_worker_survives(
    isolated_chroma: IsolatedStore,
) -> None:
    isolated_chroma.open_collection(COLL)
    pid = isolated_chroma.worker_pid
    with pytest.raises(CollectionNotFound, match="missing"):
        isolated_chroma.open_collection("missing")
    assert isolated_chroma.worker_pid == pid


def test_a_foreign_exception_becomes_a_store_error_naming_its_type() -> None:
    store = slow_store()
    try:
        handle = store.open_collection(COLL)
        with pytest.raises(StoreError, match="PlainError: the library broke"):
            handle.fail()  # type: ignore[attr-defined]
        assert handle.count() == 7
    finally:
        store.close()


def test_a_missing_directory_is_reported_by_the_worker() -> None:
    store = open_store("gone", ChromaStoreConfig(path="/nonexistent/chroma"))
    try:
        with pytest.raises(StoreUnavailable, match="/nonexistent/chroma does not exist"):
            store.open_collection(COLL)
    finally:
        store.close()


# --- crashes, hangs and recovery -----------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_worker_killed_mid_call_is_an_error_then_a_new_worker_answers(sig: int) -> None:
    store = slow_store()
    try:
        handle = store.open_collection(COLL)
        first = store.worker_pid
        assert first is not None
        threading.Timer(0.5, os.kill, (first, sig)).start()
        with pytest.raises(WorkerFailed) as failed:
            handle.wait(5.0)  # type: ignore[attr-defined]
        message = str(failed.value)
        assert "store 'slow'" in message and signal.Signals(sig).name in message
        assert "wait() on collection 'docs'" in message
        wait_gone(first)

        # Within the backoff the store says so, quickly, without a new worker.
        with pytest.raises(WorkerFailed, match="a new one starts in"):
            handle.count()
        assert store.worker_pid is None

        time.sleep(BACKOFF_BASE_S + 0.1)
        assert handle.count() == 7  # the handle reopened its collection in the new worker
        assert store.worker_pid not in (None, first)
    finally:
        store.close()


@pytest.mark.slow
def test_a_hung_call_is_killed_after_the_timeout() -> None:
    store = slow_store(call_timeout=1.0)
    try:
        handle = store.open_collection(COLL)
        first = store.worker_pid
        assert first is not None
        started = time.monotonic()
        with pytest.raises(WorkerFailed, match=r"did not answer within 1s.*killed"):
            handle.wait(60.0)  # type: ignore[attr-defined]
        assert time.monotonic() - started < 10
        wait_gone(first)
        time.sleep(BACKOFF_BASE_S + 0.1)
        assert handle.count() == 7
    finally:
        store.close()


def test_close_stops_the_worker() -> None:
    store = slow_store()
    store.open_collection(COLL)
    pid = store.worker_pid
    assert pid is not None
    store.close()
    wait_gone(pid)
    assert store.worker_pid is None


@pytest.mark.slow
def test_the_worker_exits_when_its_parent_dies(tmp_path: Path) -> None:
    """A daemon killed with SIGKILL cannot clean up: its worker notices on its own."""
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from tests.stores.test_isolated import slow_store
        store = slow_store()
        store.open_collection("docs")
        Path({str(pid_file)!r}).write_text(str(store.worker_pid))
        time.sleep(600)
        """
    )
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=root)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None, "the parent died before starting its worker"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert alive(worker)
        parent.kill()
        parent.wait()
        wait_gone(worker, timeout=5.0)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()

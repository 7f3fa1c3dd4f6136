"""Real Chroma stores for tests: a ``chroma run`` server on 127.0.0.1, and embedded.

One server per test session, shared by every test that asks for the
``chroma_server`` fixture (tests use a fresh collection name each, via
``unique_name``). ``chroma_store`` is parametrized over both kinds, so a test
using it runs once against an embedded ``PersistentClient`` directory and once
against the server; both kinds offer ``create_collection`` and ``store_config``::

    # conftest.py of the test directory:
    from tests.support.chroma_server import chroma_server, chroma_store  # noqa: F401

    # the test module:
    def test_x(chroma_store: ChromaTestStore) -> None:
        name = unique_name()
        chroma_store.create_collection(name, vectors, metadatas=[...])
        store = open_store("s", chroma_store.store_config())
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import chromadb
import httpx
import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig
from driftwatch.stores.chroma import chroma_settings
from tests.support.loopback import free_port

_STARTUP_TIMEOUT_S = 30.0
_BATCH = 5000  # below Chroma's max batch size (5461 embedded)


def unique_name(prefix: str = "coll") -> str:
    """A collection name no other test uses (the server is shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def fill_collection(
    client: Any,
    name: str,
    embeddings: np.ndarray,
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    documents: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    space: str = "cosine",
    embedding_function: Any = None,
) -> Any:
    """Create collection ``name`` with these records (in batches) and return it."""
    coll = client.create_collection(
        name, embedding_function=embedding_function, configuration={"hnsw": {"space": space}}
    )
    n = len(embeddings)
    ids = list(ids) if ids is not None else [f"doc-{i}" for i in range(n)]
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        batch: dict[str, Any] = {
            "ids": ids[start:stop],
            "embeddings": np.asarray(embeddings[start:stop], dtype=np.float32),
        }
        if metadatas is not None:
            # Chroma stores None as "no metadata"; an empty dict is rejected.
            batch["metadatas"] = [m or None for m in metadatas[start:stop]]
        if documents is not None:
            batch["documents"] = list(documents[start:stop])
        coll.add(**batch)
    return coll


@dataclass
class ChromaServer:
    """A running ``chroma run`` process and how to reach it."""

    path: Path
    port: int
    process: subprocess.Popen[bytes]
    kind = "server"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_config(self, **overrides: Any) -> ChromaStoreConfig:
        return ChromaStoreConfig.model_validate({"kind": "chroma", "url": self.url, **overrides})

    def client(self) -> Any:
        return chromadb.HttpClient(host=self.url, settings=chroma_settings())

    def create_collection(self, name: str, embeddings: np.ndarray, **kwargs: Any) -> None:
        """Create and fill a collection on the server (see ``fill_collection``)."""
        client = self.client()
        try:
            fill_collection(client, name, embeddings, **kwargs)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_chroma_server(path: Path, port: int | None = None) -> ChromaServer:
    """Start ``chroma run`` on ``port`` (default: a free 127.0.0.1 port; a server
    started again at its address takes the port of the one stopped); return once
    heartbeat answers."""
    chroma = Path(sys.executable).with_name("chroma")
    port = port or free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    log = (path.parent / f"chroma-{port}.log").open("wb")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = ChromaServer(path=path, port=port, process=process)
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"chroma run did not answer within {_STARTUP_TIMEOUT_S}s; see {log.name}")


class EmbeddedChroma:
    """An embedded Chroma directory (what ``path:`` in a store config points at)."""

    kind = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.path.mkdir(parents=True, exist_ok=True)

    def store_config(self, **overrides: Any) -> ChromaStoreConfig:
        return ChromaStoreConfig.model_validate(
            {"kind": "chroma", "path": str(self.path), **overrides}
        )

    def client(self) -> Any:
        return chromadb.PersistentClient(str(self.path), settings=chroma_settings())

    def create_collection(self, name: str, embeddings: np.ndarray, **kwargs: Any) -> None:
        """Create and fill a collection in the directory (see ``fill_collection``)."""
        client = self.client()
        try:
            fill_collection(client, name, embeddings, **kwargs)
        finally:
            client.close()


class ChromaTestStore(Protocol):
    """What ``chroma_store`` hands a test, whichever kind it is."""

    kind: str

    def store_config(self, **overrides: Any) -> ChromaStoreConfig: ...

    def client(self) -> Any: ...

    def create_collection(self, name: str, embeddings: np.ndarray, **kwargs: Any) -> None: ...


_shared: ChromaServer | None = None


def _shared_server() -> ChromaServer:
    # Importing the fixture into several test modules makes pytest create one
    # fixture per module; the process-wide instance keeps it one server.
    global _shared  # noqa: PLW0603
    if _shared is None or _shared.process.poll() is not None:
        root = Path(tempfile.mkdtemp(prefix="driftwatch-chroma-"))
        data = root / "data"
        data.mkdir()
        # atexit runs last-registered first: stop the server, then delete its data.
        atexit.register(shutil.rmtree, root, True)
        _shared = start_chroma_server(data)
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[ChromaServer]:
    """The session's shared real Chroma server on 127.0.0.1."""
    yield _shared_server()


STORE_KINDS = ("embedded", "server")


def chroma_test_store(kind: str, tmp_path: Path) -> ChromaTestStore:
    """A fresh embedded directory under ``tmp_path``, or the shared server."""
    if kind == "embedded":
        return EmbeddedChroma(tmp_path / "chroma")
    return _shared_server()


@pytest.fixture(params=STORE_KINDS)
def chroma_store(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaTestStore:
    """Each test twice: against an embedded Chroma directory, then the shared server."""
    return chroma_test_store(request.param, tmp_path)


class CountingGets:
    """A Chroma collection whose ``get`` requests are counted (requests per count)
    and kept (``calls``: each request's arguments)."""

    def __init__(self, coll: Any) -> None:
        self._coll = coll
        self.calls: list[dict[str, Any]] = []

    @property
    def gets(self) -> int:
        return len(self.calls)

    def get(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self._coll.get(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coll, name)

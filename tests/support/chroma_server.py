"""A real Chroma server for tests: ``chroma run`` from the venv, on 127.0.0.1.

One server per test session, shared by every test that asks for the
``chroma_server`` fixture (tests get a fresh collection name each, via
``unique_name``). Use it from a test module with::

    from tests.support.chroma_server import chroma_server  # noqa: F401 (fixture)

    def test_x(chroma_server: ChromaServer) -> None:
        chroma_server.create_collection("docs", embeddings=vectors, metadatas=[...])
        store = open_store("remote", chroma_server.store_config())

``fill_collection`` does the same for an embedded ``PersistentClient`` (or any
Chroma client), so tests can parametrize over both kinds of store.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np
import pytest

from driftwatch.config import ChromaStoreConfig
from driftwatch.stores.chroma import chroma_settings

_STARTUP_TIMEOUT_S = 30.0
_BATCH = 5000  # below Chroma's max batch size (5461 embedded)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def start_chroma_server(path: Path) -> ChromaServer:
    """Start ``chroma run`` on a free 127.0.0.1 port; return once heartbeat answers."""
    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
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

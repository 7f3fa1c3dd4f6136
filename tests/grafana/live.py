"""A real driftwatch daemon (`driftwatch run`) on a small seeded demo store.

The store holds real CPython-docs paragraphs embedded with all-MiniLM-L6-v2, a
few of them without a model tag; the daemon's live query model is
paraphrase-MiniLM-L3-v2 (the accident driftwatch exists for), so consistency
and canaries drift; a migration of it to all-MiniLM-L6-v2 is half done (green
``python-docs-v2``). A second configured collection does not exist, so its
checks fail. Two deprecation feeds and a Slack webhook are real HTTP servers on
127.0.0.1: one feed announces the shutdown of a model in use, the other answers
503, and the webhook accepts one message and then answers 500.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chromadb
import httpx
import yaml
from chromadb.config import Settings

from tests.support.loopback import LoopbackServer, Reply, Request
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder
from tests.support.prometheus import free_port

RECORDS = 60
GREEN = "python-docs-v2"
UNTAGGED = 5
CANARIES = [
    {"query": "how do I leave a loop early", "expect": ["topic-break-0"]},
    {"query": "anonymous functions written inline", "expect": ["topic-lambda-0"]},
    {"query": "insert debugging checks into a program", "expect": ["topic-assert-0"]},
]


def seed(path: Path) -> None:
    wanted = {c["expect"][0] for c in CANARIES}
    topics = [r for r in corpus() if r["id"].startswith("topic-")]
    records = [r for r in topics if r["id"] in wanted]
    records += [r for r in topics if r["id"] not in wanted][: RECORDS - len(records)]
    texts = [r["text"] for r in records]
    client = chromadb.PersistentClient(str(path), settings=Settings(anonymized_telemetry=False))
    collection = client.create_collection(
        "python-docs", metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    collection.add(
        ids=[r["id"] for r in records],
        documents=texts,
        embeddings=embedder(MINILM).embed(texts),
        metadatas=[
            {"embedding_model": MINILM, "embedding_version": "1"} if i >= UNTAGGED else {"src": "x"}
            for i in range(len(records))
        ],
    )
    # A migration half done: green holds the first half, re-embedded by the candidate.
    green = client.create_collection(
        GREEN, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )
    half = len(records) // 2
    green.add(
        ids=[r["id"] for r in records[:half]],
        documents=texts[:half],
        embeddings=embedder(MINILM).embed(texts[:half]),
        metadatas=[{"embedding_model": MINILM, "embedding_version": "2"}] * half,
    )
    # The daemon refuses an embedded directory another process holds open.
    client.close()


def feed(shutdown: datetime) -> bytes:
    notice = (
        "We are retiring text-embedding-3-small. It will be shut down on "
        f"{shutdown:%B %d, %Y}. Migrate to a newer embedding model before then."
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Provider deprecations</title><link>http://127.0.0.1/</link>"
        "<item><guid>retire-3-small</guid><title>Embedding model retirement</title>"
        "<link>http://127.0.0.1/retire-3-small</link>"
        f"<description>{notice}</description>"
        "<pubDate>Mon, 02 Nov 2026 12:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


def config(tmp: Path, port: int, peers: LoopbackServer) -> dict[str, object]:
    fast = {"probe": "2s", "version_mix": "2s", "jitter": "100ms"}
    return {
        "state_url": f"sqlite:///{tmp / 'state.db'}",
        "listen": f"127.0.0.1:{port}",
        "embedders": {
            "live": {"kind": "onnx", "model": PARAPHRASE, "threads": 1},
            "candidate": {"kind": "onnx", "model": MINILM, "threads": 1},
        },
        "stores": {"demo": {"kind": "chroma", "path": str(tmp / "chroma")}},
        "collections": [
            {
                "store": "demo",
                "name": "python-docs",
                "embedder": "live",
                "expected_model": MINILM,
                "canaries": CANARIES,
                "sample_size": 20,
                "score_window": 3,
                "schedule": fast,
                "thresholds": {"score_min_samples": 5},
                "migration": {"to": "candidate", "target": GREEN, "status_every": "5s"},
            },
            {"store": "demo", "name": "retired-index", "embedder": "live", "schedule": fast},
        ],
        "models": [{"id": "text-embedding-3-small", "provider": "openai"}],
        "feeds": [
            {"url": peers.url("/deprecations.xml"), "name": "provider", "interval": "2s"},
            {"url": peers.url("/broken.xml"), "name": "broken", "interval": "2s"},
        ],
        "alerts": {"slack": {"webhook_url": peers.url("/slack"), "max_attempts": 1}},
    }


@contextlib.contextmanager
def running_driftwatch(tmp: Path) -> Iterator[str]:
    """Start the daemon; yields its 127.0.0.1:port once /readyz answers 200."""
    seed(tmp / "chroma")
    slack_calls = itertools.count()
    shutdown = datetime.now(UTC) + timedelta(days=20)

    def slack(_: Request) -> Reply:
        return Reply(200, b"ok") if next(slack_calls) == 0 else Reply(500, b"internal_error")

    with LoopbackServer() as peers:
        peers.route("/deprecations.xml", lambda _: Reply(200, feed(shutdown)))
        peers.route("/broken.xml", lambda _: Reply(503, b"unavailable"))
        peers.route("/slack", slack)
        port = free_port()
        path = tmp / "driftwatch.yaml"
        path.write_text(yaml.safe_dump(config(tmp, port, peers), sort_keys=False))
        log = (tmp / "driftwatch.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(path)],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (tmp / "driftwatch.log").read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "driftwatch not ready after 60 s"
                time.sleep(0.2)
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

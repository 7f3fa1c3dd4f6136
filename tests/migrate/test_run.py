"""migrate run on every writable store: copy with tags, catch-up, dual-write, resume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from driftwatch.migrate.run import run_migration
from driftwatch.migrate.status import migration_status
from driftwatch.stores.base import RecordReader, StoredRecord, text_hash
from tests.migrate.conftest import (
    CANDIDATE,
    STORE_KINDS,
    MigrationEnv,
    app_write,
    expected_hashes,
)
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder

BLUE = list(range(120))
NO_TEXT = (3, 50)
# An application writing while driftwatch reads: the Chroma server and pgvector. Embedded
# Chroma is single-process (DESIGN.md): a live application is watched through the server.
LIVE_STORES = pytest.mark.parametrize("env", ["chroma-server", "pgvector"], indirect=True)


@pytest.mark.parametrize("env", [*STORE_KINDS, "qdrant"], indirect=True)
def test_run_copies_every_record_with_text_tagged_and_never_writes_blue(
    env: MigrationEnv,
) -> None:
    env.fill_blue(BLUE, without_text=NO_TEXT)
    env.write_config()
    blue_before = env.hashes(env.blue)
    with env.endpoints() as endpoints, env.state() as db:
        outcome = run_migration(endpoints, db)
        status = migration_status(endpoints, db)
    with_text = [i for i in BLUE if i not in NO_TEXT]
    assert outcome.complete and outcome.embedded == len(with_text)
    assert env.hashes(env.green) == expected_hashes(with_text)
    assert env.hashes(env.blue) == blue_before  # blue untouched
    assert (status.total, status.done, status.missing, status.stale) == (118, 118, 0, 0)
    assert status.without_text == 2 and status.complete and status.last_run == "complete"
    store, green = env.open(env.green)
    try:
        assert green.distance() == "cosine" and green.dimension() == 384
        records = green.sample(200, np.random.default_rng(0))
    finally:
        store.close()
    assert len(records) == len(with_text)
    docs = {d["id"]: i for i, d in enumerate(corpus())}
    candidate_vectors = corpus_vectors(PARAPHRASE)
    for r in records:
        assert r.metadata["embedding_model"] == CANDIDATE
        assert r.metadata["embedding_version"] == "2"
        assert r.metadata["source"] == "docs" and r.metadata["embedded_at"]
        # The candidate's own vector for this text (not blue's, which is another space).
        assert float(np.dot(r.embedding, candidate_vectors[docs[r.id]])) > 0.9999
        assert float(np.dot(r.embedding, corpus_vectors(MINILM)[docs[r.id]])) < 0.6


class RecordingReader:
    """Blue's reader, counting what the run asks of it."""

    def __init__(self, reader: RecordReader) -> None:
        self._reader = reader
        self.calls: list[bool] = []  # the ``vectors`` flag of every call
        self.vectors_read = 0

    def get_records(self, ids: Sequence[str], *, vectors: bool = True) -> list[StoredRecord]:
        self.calls.append(vectors)
        records = self._reader.get_records(ids, vectors=vectors)
        self.vectors_read += sum(r.embedding is not None for r in records)
        return records


@pytest.mark.parametrize("env", ["chroma-embedded"], indirect=True)
def test_run_reads_blues_text_but_not_its_vectors(env: MigrationEnv) -> None:
    # Blue's vectors are in the old model's space and the run embeds the text anew:
    # reading them would only cost I/O (half the read time on embedded Chroma). That
    # each adapter honours ``vectors=False`` is the store contract's test.
    env.fill_blue(BLUE, without_text=NO_TEXT)
    env.write_config()
    with env.endpoints() as endpoints:
        recording = RecordingReader(endpoints.blue_records())
        endpoints.blue_records = lambda: recording  # type: ignore[method-assign]
        outcome = run_migration(endpoints, None)
    assert outcome.complete and outcome.embedded == len(BLUE) - len(NO_TEXT)
    assert recording.calls and not any(recording.calls)
    assert recording.vectors_read == 0
    assert env.hashes(env.green) == expected_hashes([i for i in BLUE if i not in NO_TEXT])


def tune_blue_index(env: MigrationEnv) -> None:
    """What an application's operator may have done to blue: a tuned index."""
    if env.sut.kind == "pgvector":
        with env.sut.server.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP INDEX IF EXISTS "{env.blue}_embedding_idx"')
            conn.execute(
                f'CREATE INDEX ON "{env.blue}" USING hnsw (embedding vector_cosine_ops) '
                "WITH (m = 8, ef_construction = 40)"
            )
        return
    client = env.sut.chroma.client()  # type: ignore[attr-defined]
    try:
        client.get_collection(env.blue).modify(configuration={"hnsw": {"ef_search": 42}})
    finally:
        client.close()


@pytest.mark.parametrize("env", ["chroma-embedded", "pgvector"], indirect=True)
def test_green_is_indexed_as_blue_is(env: MigrationEnv) -> None:
    """Green searches as blue did after a cutover: its index takes blue's settings."""
    env.fill_blue(BLUE[:30])
    tune_blue_index(env)
    env.write_config()
    with env.endpoints() as endpoints:
        assert run_migration(endpoints, None).complete
    store, blue = env.open(env.blue)
    try:
        wanted = blue.index_settings()
        green = store.open_collection(env.green)
        assert green.index_settings() == wanted
    finally:
        store.close()
    assert wanted is not None
    if env.sut.kind == "pgvector":
        assert wanted["options"] == {"m": "8", "ef_construction": "40"}
    else:
        assert wanted["hnsw"]["ef_search"] == 42


@LIVE_STORES
def test_run_catches_up_with_writes_into_blue_during_the_run(env: MigrationEnv) -> None:
    env.fill_blue(BLUE)
    env.write_config()
    docs, minilm = corpus(), embedder(MINILM)
    added = [docs[i] for i in range(500, 510)]
    changed = [docs[i] for i in range(100, 105)]
    deleted = [docs[i]["id"] for i in range(110, 115)]
    wrote: list[bool] = []

    def app_writes_once(progress: object) -> None:
        if wrote or getattr(progress, "done", 0) == 0:
            return
        wrote.append(True)
        rows = [(d["id"], d["text"], {"embedding_model": MINILM}) for d in added] + [
            (d["id"], d["text"] + " (edited)", {"embedding_model": MINILM}) for d in changed
        ]
        vectors = minilm.embed([text for _, text, _ in rows])
        app_write(
            env,
            env.blue,
            [(rid, text, v, meta) for (rid, text, meta), v in zip(rows, vectors, strict=True)],
            deletes=deleted,
        )

    with env.endpoints() as endpoints, env.state() as db:
        outcome = run_migration(endpoints, db, app_writes_once)
    assert wrote and outcome.complete and outcome.passes >= 2
    assert env.hashes(env.green) == env.hashes(env.blue)
    green = env.hashes(env.green)
    assert all(d["id"] in green for d in added)
    assert all(rid not in green for rid in deleted)
    assert all(green[d["id"]] == text_hash(d["text"] + " (edited)") for d in changed)


@LIVE_STORES
def test_next_run_reconciles_and_dual_written_records_are_not_redone(
    env: MigrationEnv,
) -> None:
    env.fill_blue(BLUE)
    env.write_config()
    with env.endpoints() as endpoints, env.state() as db:
        run_migration(endpoints, db)
    docs = corpus()
    minilm, paraphrase = embedder(MINILM), embedder(PARAPHRASE)
    # The application dual-writes 6 new records into blue (MiniLM) and green (candidate).
    dual = [docs[i] for i in range(600, 606)]
    texts = [d["text"] for d in dual]
    app_write(
        env,
        env.blue,
        [(d["id"], d["text"], v, {"m": 1}) for d, v in zip(dual, minilm.embed(texts), strict=True)],
    )
    app_write(
        env,
        env.green,
        [
            (d["id"], d["text"], v, {"embedding_model": CANDIDATE})
            for d, v in zip(dual, paraphrase.embed(texts), strict=True)
        ],
    )
    # ... and writes 4 others into blue only, and deletes 3 from blue.
    only_blue = [docs[i] for i in range(700, 704)]
    vectors = minilm.embed([d["text"] for d in only_blue])
    app_write(
        env,
        env.blue,
        [(d["id"], d["text"], v, {"m": 1}) for d, v in zip(only_blue, vectors, strict=True)],
        deletes=[docs[i]["id"] for i in (0, 1, 2)],
    )
    env.endpoint.reset()
    with env.endpoints() as endpoints, env.state() as db:
        outcome = run_migration(endpoints, db)
    assert outcome.complete
    assert (outcome.embedded, outcome.deleted) == (4, 3)
    assert sorted(env.embedded_texts()) == sorted(d["text"] for d in only_blue)
    assert env.hashes(env.green) == env.hashes(env.blue)

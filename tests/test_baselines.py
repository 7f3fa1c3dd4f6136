"""The baseline workflow (driftwatch/baselines.py) through the real runner: a real
`chroma run` server, the two real ONNX models, a real SQLite state DB.

- an empty collection gets an incomplete baseline that is completed once records
  arrive, and a model swapped in between is still caught by the canaries;
- where the state DB holds history of a collection but no baseline (or lost its
  history), no baseline is captured silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from driftwatch.baselines import BaselineKeeper
from driftwatch.checks.base import CheckResult
from driftwatch.config import Config
from driftwatch.pools import Pools
from driftwatch.runner import Runner
from driftwatch.sinks import StateSink
from driftwatch.state.baselines import active_baseline
from driftwatch.state.db import StateDB
from tests.support.chroma_server import ChromaServer, unique_name
from tests.support.corpus_vectors import corpus_vectors
from tests.support.models import CANARY_QUERIES, MINILM, PARAPHRASE, corpus


def make_config(tmp_path: Path, url: str, name: str, swapped: bool = False) -> Config:
    """One collection on the server; ``swapped``: same model name, the other model behind it."""
    live: dict[str, Any] = {"kind": "onnx", "model": MINILM, "threads": 2}
    if swapped:
        live["path"] = PARAPHRASE
    return Config.model_validate(
        {
            "state_url": f"sqlite:///{tmp_path}/state.db",
            "embedders": {"live": live},
            "stores": {"s": {"kind": "chroma", "url": url}},
            "collections": [
                {
                    "store": "s",
                    "name": name,
                    "embedder": "live",
                    "expected_model": MINILM,
                    "sample_size": 10,
                    "canaries": [{"query": q} for q in CANARY_QUERIES],
                }
            ],
        }
    )


def watched(tmp_path: Path, server: ChromaServer, label: str, records: int) -> tuple[str, Config]:
    """A new collection of ``records`` corpus records on ``server``: its name, and a
    config watching it."""
    name = unique_name(label)
    add_records(server, name, range(records))
    return name, make_config(tmp_path, server.url, name)


def add_records(server: ChromaServer, name: str, indices: range) -> None:
    """Corpus paragraphs with their real all-MiniLM-L6-v2 vectors, as the application writes."""
    docs, vectors = corpus(), corpus_vectors(MINILM)
    client = server.client()
    try:
        coll = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        if len(indices):
            coll.add(
                ids=[docs[i]["id"] for i in indices],
                documents=[docs[i]["text"] for i in indices],
                embeddings=np.stack([vectors[i] for i in indices]),
                metadatas=[{"embedding_model": MINILM, "embedding_version": "1"} for _ in indices],
            )
    finally:
        client.close()


@contextmanager
def runner(config: Config, db: StateDB, auto_capture: bool = True) -> Iterator[Runner]:
    pools = Pools(config)
    try:
        keeper = BaselineKeeper(pools, db, auto_capture=auto_capture)
        yield Runner(config, pools, state=db, baselines=keeper, sinks=[StateSink(db)])
    finally:
        pools.close()


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


@pytest.mark.slow
def test_empty_collection_baseline_is_completed_and_a_later_swap_is_caught(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name, config = watched(tmp_path, chroma_server, "empty", 0)
    coll = config.collections[0]

    with runner(config, state) as run:
        first = by_check(run.run(coll))
    assert first["canary"].status == "unavailable"
    scores = first["score_distribution"]
    assert scores.status == "unavailable"
    assert "incomplete" in scores.message
    assert "configure more canaries" not in scores.message
    assert "baseline captured" in first["fingerprint"].message

    # The application writes its records; then the query model is swapped.
    add_records(chroma_server, name, range(300))
    swapped = make_config(tmp_path, chroma_server.url, name, swapped=True)
    with runner(swapped, state) as run:
        after = by_check(run.run(swapped.collections[0]))

    assert after["canary"].status == "drift", after["canary"].message
    assert "baseline completed" in after["canary"].message
    assert after["fingerprint"].status == "drift"
    baseline = active_baseline(state, name)
    assert baseline is not None and baseline.model == MINILM
    assert all(len(c.ids) == coll.top_k for c in baseline.canaries)


@pytest.mark.slow
def test_completed_baseline_keeps_an_unchanged_model_ok(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name, config = watched(tmp_path, chroma_server, "grows", 0)
    coll = config.collections[0]
    with runner(config, state) as run:
        run.run(coll, ["canary"])
        add_records(chroma_server, name, range(300))
        after = by_check(run.run(coll, ["canary"]))
        again = by_check(run.run(coll, ["canary"]))
    assert after["canary"].status == "ok", after["canary"].message
    assert "baseline completed" in after["canary"].message
    assert "baseline completed" not in again["canary"].message  # done once
    assert again["canary"].detail["overlap"] == 1.0


@pytest.mark.slow
def test_history_without_a_baseline_refuses_a_silent_capture(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name, config = watched(tmp_path, chroma_server, "history", 200)
    coll = config.collections[0]
    with runner(config, state) as run:
        judged = by_check(run.run(coll, ["fingerprint"]))  # a baseline existed and judged
        with state.engine.begin() as conn:  # ... and is gone (restored from an old backup)
            conn.execute(text("DELETE FROM baselines"))
        results = by_check(run.run(coll))
        assert run.baselines is not None
        explicit = run.baselines.capture(coll)
        forced = run.baselines.capture(coll, force=True)
        after = by_check(run.run(coll, ["fingerprint"]))

    assert judged["fingerprint"].status == "ok"
    for check in ("fingerprint", "canary", "score_distribution"):
        assert results[check].status == "error"
        assert "no baseline captured automatically" in results[check].message
        assert f"driftwatch baseline --collection {name} --force" in results[check].message
    # Checks that need no baseline still judge the collection.
    assert results["consistency"].status == "ok"
    assert results["version_mix"].status == "ok"
    assert explicit.action == "refused" and explicit.baseline is None
    assert forced.action == "captured" and forced.baseline is not None
    assert after["fingerprint"].status == "ok"


def test_first_start_captures_although_other_checks_ran_first(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    """The daemon runs each check as its own job: version_mix's result is no history."""
    _name, config = watched(tmp_path, chroma_server, "order", 30)
    coll = config.collections[0]
    with runner(config, state) as run:
        run.run(coll, ["version_mix", "dimension"])
        results = by_check(run.run(coll, ["fingerprint"]))
    assert results["fingerprint"].status == "ok", results["fingerprint"].message
    assert "baseline captured" in results["fingerprint"].message


def test_lost_state_history_refuses_a_silent_capture(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    """The daemon flags a state DB replaced or deleted under it (StateDB.lost_history)."""
    name, config = watched(tmp_path, chroma_server, "lost", 50)
    state.lost_history = True  # what StateDB sets when it finds its file replaced
    with runner(config, state) as run:
        results = by_check(run.run(config.collections[0], ["fingerprint", "dimension"]))
    assert results["fingerprint"].status == "error"
    assert "lost or replaced" in results["fingerprint"].message
    assert results["dimension"].status == "ok"
    assert active_baseline(state, name) is None


@pytest.mark.slow
def test_first_start_on_a_collection_new_to_the_state_captures(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name, config = watched(tmp_path, chroma_server, "first", 50)
    with runner(config, state) as run:
        results = by_check(run.run(config.collections[0], ["fingerprint"]))
    assert results["fingerprint"].status == "ok"
    assert "baseline captured with all-MiniLM-L6-v2" in results["fingerprint"].message
    assert active_baseline(state, name) is not None

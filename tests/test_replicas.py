"""Two daemons sharing one PostgreSQL state DB split the work and both export it."""

from __future__ import annotations

import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from driftwatch.config import load_config
from driftwatch.daemon import Daemon
from driftwatch.state.db import open_state
from driftwatch.state.models import CheckResultRow
from tests.support.chroma_server import ChromaServer, free_port
from tests.support.demo import demo_config, write_config

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
INTERVAL_S = 2.0
RUN_FOR_S = 7.0
RECORDS = 40


def _on_server(config: dict[str, Any], server: ChromaServer, name: str) -> dict[str, Any]:
    # Replicas watch a live store through its server: an embedded directory is
    # single-process.
    config["stores"]["demo"] = {"kind": "chroma", "url": server.url}
    config["collections"][0]["name"] = name
    return config


def test_replicas_run_each_check_once_per_interval(
    tmp_path: Path, pg_database: str, chroma_server: ChromaServer
) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    # version_mix reads tags only: real vectors would add nothing here.
    tags = {"embedding_model": "all-MiniLM-L6-v2", "embedding_version": "1"}
    vectors = np.random.default_rng(0).normal(size=(RECORDS, 384))
    chroma_server.create_collection(name, vectors, metadatas=[tags] * RECORDS)
    daemons = []
    for replica in ("a", "b"):
        config = demo_config(tmp_path, state_url=pg_database, listen=f"127.0.0.1:{free_port()}")
        config = _on_server(config, chroma_server, name)
        config["collections"][0]["checks"] = ["version_mix"]
        config["collections"][0]["schedule"] = {"version_mix": f"{INTERVAL_S}s", "jitter": "0.5s"}
        daemons.append(Daemon(load_config(write_config(tmp_path, config, f"{replica}.yaml"))))
    for daemon in daemons:
        daemon.start()
    try:
        time.sleep(RUN_FOR_S)
    finally:
        for daemon in daemons:
            daemon.stop()

    db = open_state(pg_database)
    try:
        with db.session() as session:
            started = list(
                session.scalars(select(CheckResultRow.started_at).order_by("started_at"))
            )
    finally:
        db.close()
    local = [
        d.registry.get_sample_value(
            "driftwatch_check_runs_total",
            {"collection": name, "check": "version_mix", "status": "ok"},
        )
        or 0
        for d in daemons
    ]
    # One run per interval across both replicas: the job lease (90% of the interval)
    # keeps the other replica's run of the same period out. Without it, both would run.
    gaps = [(b - a).total_seconds() for a, b in pairwise(started)]
    assert len(started) >= 3
    assert min(gaps) >= 0.9 * INTERVAL_S - 0.05, gaps
    assert sum(local) == len(started)
    # Each replica exports the collection, including the runs the other one did.
    for daemon in daemons:
        assert (
            daemon.registry.get_sample_value(
                "driftwatch_collection_documents",
                {"collection": name, "model": "all-MiniLM-L6-v2", "version": "1"},
            )
            == RECORDS
        )

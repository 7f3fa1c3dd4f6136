"""The runner: results returned and handed to the sinks it was built with; one failing
sink (a real state DB that cannot be written) stops neither the run nor the others."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from driftwatch.checks.base import CheckResult
from driftwatch.checks.registry import CHECKS
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.pools import Pools
from driftwatch.runner import Runner
from driftwatch.sinks import MetricsSink, StateSink
from driftwatch.state.db import StateDB, open_state
from driftwatch.state.results import latest_results
from tests.support.chroma_server import ChromaServer, unique_name
from tests.support.loopback import free_port
from tests.test_baselines import add_records, make_config


class Collected:
    """A sink of our own protocol that keeps what it was given."""

    def __init__(self) -> None:
        self.runs: list[list[CheckResult]] = []

    def record(self, results: Sequence[CheckResult]) -> None:
        self.runs.append(list(results))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDB]:
    db = open_state(f"sqlite:///{tmp_path}/state.db")
    yield db
    db.close()


def test_run_returns_the_results_every_sink_received(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name = unique_name("runner")
    add_records(chroma_server, name, range(40))
    config = make_config(tmp_path, chroma_server.url, name)
    coll = config.collections[0]
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    collected = Collected()
    pools = Pools(config)
    try:
        sinks = [MetricsSink(metrics), StateSink(state), collected]
        runner = Runner(config, pools, state=state, sinks=sinks)
        results = runner.run(coll, ["dimension", "version_mix"])
    finally:
        pools.close()

    assert [r.check for r in results] == ["dimension", "version_mix"]  # registry order
    assert collected.runs == [results]
    assert latest_results(state, name) == sorted(results, key=lambda r: r.check)
    for r in results:
        labels = {"collection": name, "check": r.check}
        assert registry.get_sample_value("driftwatch_check_status", labels) == 0
    assert state.health.status()[0]


def test_a_state_db_that_fails_stops_neither_the_run_nor_the_other_sinks(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name = unique_name("broken-state")
    add_records(chroma_server, name, range(20))
    config = make_config(tmp_path, chroma_server.url, name)
    with state.engine.begin() as conn:  # every write of a result now fails in the database
        conn.execute(text("DROP TABLE check_results"))
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    collected = Collected()
    pools = Pools(config)
    try:
        sinks = [StateSink(state), MetricsSink(metrics), collected]
        results = Runner(config, pools, state=state, sinks=sinks).run(
            config.collections[0], ["version_mix"]
        )
    finally:
        pools.close()

    assert [r.status for r in results] == ["ok"]
    assert collected.runs == [results]
    up, reason = state.health.status()  # what state_db_up and /readyz report
    assert not up and "check_results" in reason
    labels = {"collection": name, "check": "version_mix"}
    assert registry.get_sample_value("driftwatch_check_status", labels) == 0


def test_an_unreachable_store_is_an_error_result_per_check(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"http://127.0.0.1:{free_port()}", "docs")
    collected = Collected()
    pools = Pools(config)
    try:
        results = Runner(config, pools, sinks=[collected]).run(config.collections[0])
    finally:
        pools.close()
    assert [r.check for r in results] == list(CHECKS)
    assert {r.status for r in results} == {"error"}
    assert collected.runs == [results]

"""The runner: results returned and handed to the sinks it was built with; one failing
sink (a real state DB that cannot be written) stops neither the run nor the others.
Scores that earlier probes stored are not judged as healthy while the probe fails:
a real ONNX embedder that cannot load, a real `chroma run` server that is stopped."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from driftwatch.checks.base import CheckResult
from driftwatch.checks.registry import CHECKS
from driftwatch.config import CollectionConfig, Config
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.pools import Pools
from driftwatch.runner import Runner
from driftwatch.sinks import MetricsSink, ResultSink, StateSink
from driftwatch.state.db import StateDB
from driftwatch.state.results import latest_results
from tests.support.chroma_server import ChromaServer, start_chroma_server, unique_name
from tests.support.loopback import free_port
from tests.test_baselines import add_records, by_check, make_config, runner, watched

# The check fed by the canary's scores, and the canary itself, in registry order.
PROBE = ["canary", "score_distribution"]
# Neither a preset nor a file: the live embedder cannot be loaded (the reported bug).
UNLOADABLE = "all-MiniLM-L6-v3"


class Collected:
    """A sink of our own protocol that keeps what it was given."""

    def __init__(self) -> None:
        self.runs: list[list[CheckResult]] = []

    def record(self, results: Sequence[CheckResult]) -> None:
        self.runs.append(list(results))


def test_run_returns_the_results_every_sink_received(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    name, config = watched(tmp_path, chroma_server, "runner", 40)
    coll = config.collections[0]
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    collected = Collected()
    pools = Pools(config)
    try:
        sinks: list[ResultSink] = [MetricsSink(metrics), StateSink(state), collected]
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
    name, config = watched(tmp_path, chroma_server, "broken-state", 20)
    with state.engine.begin() as conn:  # every write of a result now fails in the database
        conn.execute(text("DROP TABLE check_results"))
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    collected = Collected()
    pools = Pools(config)
    try:
        sinks: list[ResultSink] = [StateSink(state), MetricsSink(metrics), collected]
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


def _probe(run: Runner, coll: CollectionConfig, together: bool) -> dict[str, CheckResult]:
    """One probe cycle: in one run (`driftwatch check`) or one run per check (the daemon)."""
    if together:
        return by_check(run.run(coll, PROBE))
    return {check: run.run(coll, [check])[0] for check in PROBE}


def _unloadable(config: Config) -> Config:
    live = config.embedders["live"].model_copy(update={"model": UNLOADABLE})
    return config.model_copy(update={"embedders": {"live": live}})


@pytest.mark.slow
@pytest.mark.parametrize("together", [True, False], ids=["one-run", "run-per-check"])
def test_stored_scores_are_not_judged_while_the_embedder_cannot_load(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB, together: bool
) -> None:
    _name, config = watched(tmp_path, chroma_server, "embedder-down", 200)
    coll = config.collections[0]
    with runner(config, state) as run:
        healthy = [_probe(run, coll, together) for _ in range(2)]
    with runner(_unloadable(config), state) as run:
        broken = _probe(run, coll, together)
    with runner(config, state) as run:
        recovered = _probe(run, coll, together)

    assert healthy[-1]["score_distribution"].status == "ok", healthy[-1]["score_distribution"]
    assert broken["canary"].status == "error"
    scores = broken["score_distribution"]
    # 400 stored scores of healthy probes would say "ok": this cycle embedded nothing.
    assert scores.status == "error", scores.message
    assert "no canary scores this cycle" in scores.message
    assert UNLOADABLE in scores.message  # the cause, not only the symptom
    if together:  # the same failure as the canary's, for alert grouping
        assert scores.detail["error"] == broken["canary"].detail["error"]
    else:
        assert "the last canary run failed" in scores.message
        assert scores.detail["error"] == "StaleScoreWindow"
    assert recovered["score_distribution"].status == "ok", recovered["score_distribution"]


@pytest.mark.slow
def test_stored_scores_are_not_judged_after_the_probe_found_the_store_down(
    tmp_path: Path, state: StateDB
) -> None:
    data = tmp_path / "chroma"
    data.mkdir()
    server = start_chroma_server(data)  # its own server: this test stops it
    try:
        name = unique_name("store-down")
        add_records(server, name, range(200))
        config = make_config(tmp_path, server.url, name)
        coll = config.collections[0]
        with runner(config, state) as run:
            healthy = _probe(run, coll, together=False)
        server.stop()
        with runner(config, state) as run:
            down = by_check(run.run(coll, PROBE))
            canary_down = run.run(coll, ["canary"])[0]  # the daemon's canary job
    finally:
        server.stop()
    server = start_chroma_server(data)  # back, before the canary's next probe
    try:
        back = make_config(tmp_path, server.url, name)
        with runner(back, state) as run:
            alone = run.run(back.collections[0], ["score_distribution"])[0]
    finally:
        server.stop()

    assert healthy["score_distribution"].status == "ok", healthy["score_distribution"]
    assert {r.status for r in down.values()} == {"error"}
    assert canary_down.detail["error"] == "StoreUnavailable"
    assert alone.status == "error", alone.message
    assert "the last canary run failed" in alone.message
    # The store answers this run: its kind must not mark the store down (daemon._store_seen).
    assert alone.detail["error"] == "StaleScoreWindow"


@pytest.mark.slow
def test_stored_scores_are_not_judged_once_the_canary_stops_running(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    _name, config = watched(tmp_path, chroma_server, "canary-stopped", 200)
    interval = timedelta(seconds=2)
    coll = config.collections[0]
    schedule = coll.schedule.model_copy(update={"probe": interval})
    coll = coll.model_copy(update={"schedule": schedule})
    with runner(config, state) as run:
        healthy = [_probe(run, coll, together=False) for _ in range(2)]
        # The daemon's canary job hangs: three of its intervals pass without a run.
        stopped = healthy[-1]["canary"].started_at + 3 * interval
        time.sleep(max(0.0, (stopped - datetime.now(UTC)).total_seconds()) + 0.2)
        alone = run.run(coll, ["score_distribution"])[0]

    assert healthy[-1]["score_distribution"].status == "ok", healthy[-1]["score_distribution"]
    assert alone.status == "unavailable", alone.message
    stale = r"the last canary run, which feeds the score window, started \d s ago"
    assert re.search(stale, alone.message), alone.message
    assert "(it runs every 2 s)" in alone.message


@pytest.mark.slow
def test_stored_scores_are_not_judged_once_the_canary_is_switched_off(
    tmp_path: Path, chroma_server: ChromaServer, state: StateDB
) -> None:
    _name, config = watched(tmp_path, chroma_server, "no-canary", 200)
    coll = config.collections[0]
    without = coll.model_copy(update={"checks": ["score_distribution"]})
    with runner(config, state) as run:
        healthy = _probe(run, coll, together=True)
        alone = run.run(without)[0]
    assert healthy["score_distribution"].status == "ok"
    assert alone.status == "unavailable", alone.message
    assert "canary check, which feeds the score window, is not configured" in alone.message

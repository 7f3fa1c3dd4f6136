"""The daemon: scheduled checks, HTTP endpoints, failure isolation, clean shutdown."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from driftwatch.config import load_config
from driftwatch.daemon import Daemon
from driftwatch.state import leases
from driftwatch.state.db import open_state
from driftwatch.state.models import CheckResultRow
from tests.support.chroma_server import free_port
from tests.support.demo import SEED_RECORDS, demo_config, write_config

pytestmark = pytest.mark.slow
COLL = "python-docs"


def make_config(tmp_path: Path, store_dir: Path, **overrides: Any) -> Path:
    config = demo_config(tmp_path, listen=f"127.0.0.1:{free_port()}", **overrides)
    config["stores"]["demo"]["path"] = str(store_dir)
    return write_config(tmp_path, config)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Callable[[Path], Daemon]]:
    daemons: list[Daemon] = []

    def start(path: Path) -> Daemon:
        daemon = Daemon(load_config(path))
        daemon.start()
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


def runs(daemon: Daemon, check: str, status: str) -> float:
    value = daemon.registry.get_sample_value(
        "driftwatch_check_runs_total", {"collection": COLL, "check": check, "status": status}
    )
    return value or 0.0


def test_runs_every_check_on_schedule_and_serves_metrics(
    tmp_path: Path, store_dir: Path, running: Callable[[Path], Daemon]
) -> None:
    daemon = running(make_config(tmp_path, store_dir))
    base = f"http://127.0.0.1:{daemon.http.port}"
    # The version mix runs every 2 s: a second run proves the schedule, not just the start.
    # Generous waits: every check shares one serial worker, slow on a loaded machine.
    wait_for(lambda: runs(daemon, "version_mix", "ok") >= 2, timeout=120)
    wait_for(lambda: runs(daemon, "fingerprint", "ok") >= 1, timeout=120)
    assert httpx.get(f"{base}/healthz").status_code == 200
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200, ready.text
    body = httpx.get(f"{base}/metrics").text
    assert f'driftwatch_check_status{{check="version_mix",collection="{COLL}"}} 0.0' in body
    assert (
        f'driftwatch_collection_documents{{collection="{COLL}",model="all-MiniLM-L6-v2",'
        f'version="1"}} {float(SEED_RECORDS)}' in body
    )
    assert "driftwatch_baseline_timestamp_seconds" in body
    assert daemon.registry.get_sample_value("driftwatch_state_db_up") == 1
    assert httpx.get(f"{base}/nope").status_code == 404
    # Checks run one at a time (embedding is the memory peak; a sidecar must not double it).
    db = daemon.db
    assert db is not None

    def spans() -> list[Any]:
        with db.session() as session:
            return sorted(
                session.execute(select(CheckResultRow.started_at, CheckResultRow.duration_s))
            )

    # Enough results to overlap if they could (a result is stored as its check ends).
    wait_for(lambda: len(spans()) >= 7, timeout=120)
    for (start, duration), (next_start, _) in pairwise(spans()):
        assert start + timedelta(seconds=duration) <= next_start + timedelta(milliseconds=5)


def test_failing_store_gives_error_results_and_the_daemon_keeps_going(
    tmp_path: Path, running: Callable[[Path], Daemon], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    raw = demo_config(tmp_path, listen=f"127.0.0.1:{free_port()}")
    raw["stores"]["demo"] = {"kind": "chroma", "url": f"http://127.0.0.1:{port}", "timeout": "1s"}
    caplog.set_level(logging.INFO, "driftwatch")
    daemon = running(write_config(tmp_path, raw, "unreachable.yaml"))
    # Two error runs in a row: a failing check does not stop its own next run.
    wait_for(lambda: runs(daemon, "version_mix", "error") >= 2)
    assert (
        daemon.registry.get_sample_value(
            "driftwatch_check_status", {"collection": COLL, "check": "version_mix"}
        )
        == 3
    )
    assert httpx.get(f"http://127.0.0.1:{daemon.http.port}/healthz").status_code == 200
    # One store-level signal (DriftwatchStoreDown), and the errors are logged as warnings.
    assert daemon.registry.get_sample_value("driftwatch_store_up", {"store": "demo"}) == 0
    assert (
        daemon.registry.get_sample_value(
            "driftwatch_collection_info", {"collection": COLL, "store": "demo"}
        )
        == 1
    )
    unreachable = [
        r for r in caplog.records if r.name.startswith("driftwatch") and str(port) in r.getMessage()
    ]
    assert unreachable
    assert all(r.levelno >= logging.WARNING for r in unreachable)


@pytest.mark.slow
def test_checks_that_found_the_store_down_run_again_as_soon_as_it_answers(
    tmp_path: Path,
) -> None:
    """An hourly check that failed during a short outage does not keep reporting it
    (and DriftwatchCheckFailing firing) until its next run an hour later."""
    from driftwatch.config import ScheduleConfig
    from tests.support.chroma_server import start_chroma_server
    from tests.test_baselines import watched

    data = tmp_path / "chroma"
    data.mkdir()
    server = start_chroma_server(data)  # its own server: this test stops it
    daemon: Daemon | None = None
    try:
        name, config = watched(tmp_path, server, "outage", 40)
        coll = config.collections[0].model_copy(
            update={
                "checks": ["dimension", "version_mix"],
                "schedule": ScheduleConfig(
                    probe=timedelta(seconds=2), version_mix=timedelta(hours=1)
                ),
            }
        )
        config = config.model_copy(
            update={"collections": [coll], "listen": f"127.0.0.1:{free_port()}"}
        )
        server.stop()
        started = Daemon(config)
        started.start()
        daemon = started

        def status(check: str) -> float | None:
            labels = {"collection": name, "check": check}
            return daemon.registry.get_sample_value("driftwatch_check_status", labels)

        wait_for(lambda: status("version_mix") == 3 and status("dimension") == 3)
        assert daemon.registry.get_sample_value("driftwatch_store_up", {"store": "s"}) == 0
        server = start_chroma_server(data, server.port)
        # The 2 s probe finds the store back; the hourly scan follows at once.
        wait_for(lambda: status("version_mix") == 0, timeout=30)
        assert status("dimension") == 0
        assert daemon.registry.get_sample_value("driftwatch_store_up", {"store": "s"}) == 1
    finally:
        if daemon is not None:
            daemon.stop()
        server.stop()


def test_readyz_is_503_while_the_state_db_cannot_be_opened(
    tmp_path: Path, store_dir: Path, running: Callable[[Path], Daemon]
) -> None:
    path = make_config(tmp_path, store_dir, state_url=f"sqlite:///{tmp_path}/missing/dir/s.db")
    daemon = running(path)
    base = f"http://127.0.0.1:{daemon.http.port}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 503
    assert "state database" in ready.text
    assert daemon.registry.get_sample_value("driftwatch_state_db_up") == 0
    # Once the directory exists, the retry job opens it and the daemon becomes ready.
    (tmp_path / "missing" / "dir").mkdir(parents=True)
    daemon._retry_state()
    assert httpx.get(f"{base}/readyz").status_code == 200


def test_sigterm_stops_the_daemon_within_10_seconds(tmp_path: Path, store_dir: Path) -> None:
    path = make_config(tmp_path, store_dir)
    port = load_config(path).listen_port
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "driftwatch.cli",
            "--log-format",
            "json",
            "run",
            "--config",
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_for(lambda: _healthy(port), timeout=60)
        time.sleep(1.0)  # let the first checks start: stopping mid-check is the hard case
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, stderr
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert '"message": "driftwatch stopped"' in stderr


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_drift_and_a_deprecation_reach_slack_from_the_schedule(
    tmp_path: Path, store_dir: Path, running: Callable[[Path], Daemon]
) -> None:
    """The daemon, on its own schedule: the query model swapped (same name, same 384
    dimensions) arrives in Slack as critical drift, and a feed's shutdown notice for a
    model in use arrives with its date and is exported as a metric."""
    from datetime import UTC, datetime, timedelta

    from driftwatch.cli import main
    from tests.feeds.samples import rss2
    from tests.support.loopback import LoopbackServer, Reply

    shutdown = (datetime.now(UTC) + timedelta(days=20)).date()
    notice = (
        "We are retiring text-embedding-ada-002. It will be shut down on "
        f"{shutdown:%B} {shutdown.day}, {shutdown.year}."
    )
    hook = "/services/T0/B0/daemon-test-secret"
    with LoopbackServer() as server:
        server.route(hook, lambda _: Reply(200, b"ok"))
        server.route(
            "/feed.xml",
            lambda _: Reply(
                200, rss2([{"id": "n1", "title": "Retiring ada-002", "description": notice}])
            ),
        )
        config = demo_config(tmp_path, listen=f"127.0.0.1:{free_port()}")
        config["stores"]["demo"]["path"] = str(store_dir)
        config["models"] = [{"id": "text-embedding-ada-002", "provider": "openai"}]
        config["feeds"] = [
            {"url": server.url("/feed.xml"), "name": "provider-news", "interval": "1h"}
        ]
        # The window covers one probe cycle of all checks, even on a loaded machine.
        config["alerts"] = {"slack": {"webhook_url": server.url(hook), "group_wait": "45s"}}
        path = write_config(tmp_path, config)
        assert main(["baseline", "--config", str(path)]) == 0  # with the real model
        config["embedders"]["live"]["path"] = "paraphrase-MiniLM-L3-v2"
        daemon = running(write_config(tmp_path, config, "swapped.yaml"))

        def texts() -> list[str]:
            return [r.json()["text"] for r in server.requests_to(hook)]

        wait_for(
            lambda: (
                any("fingerprint" in t for t in texts())
                and any("text-embedding-ada-002" in t for t in texts())
            ),
            timeout=240,  # one serial worker for every check, on a possibly loaded machine
        )
        drift = next(t for t in texts() if "fingerprint" in t)
        deprecation = next(t for t in texts() if "text-embedding-ada-002" in t)
    assert "CRITICAL" in drift.upper() and COLL in drift
    # One message for what the cycle's separate check jobs found, not one per check
    # (which of them finish inside the window depends on the machine's load).
    first_line = drift.splitlines()[0]
    assert "fingerprint, " in first_line or ", fingerprint" in first_line, first_line
    assert sum("fingerprint" in t for t in texts()) == 1
    assert shutdown.isoformat() in deprecation
    expected = datetime(shutdown.year, shutdown.month, shutdown.day, tzinfo=UTC).timestamp()
    assert (
        daemon.registry.get_sample_value(
            "driftwatch_model_shutdown_timestamp_seconds",
            {"model": "text-embedding-ada-002", "provider": "openai"},
        )
        == expected
    )
    assert daemon.registry.get_sample_value("driftwatch_feed_up", {"feed": "provider-news"}) == 1
    assert daemon.registry.get_sample_value(
        "driftwatch_notifications_sent_total", {"channel": "slack"}
    ) == len(texts())


# --- never blind while reporting healthy ----------------------------------------


def version_mix_only(tmp_path: Path, store_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The demo deployment watching only the version mix (no model, no baseline): fast."""
    config = demo_config(tmp_path, listen=f"127.0.0.1:{free_port()}", **overrides)
    config["stores"]["demo"]["path"] = str(store_dir)
    config["collections"][0]["checks"] = ["version_mix"]
    return config


def scraped(daemon: Daemon, name: str) -> float | None:
    """The sample as Prometheus would read it from /metrics (no labels)."""
    body = httpx.get(f"http://127.0.0.1:{daemon.http.port}/metrics").text
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs, filled up by the test while the daemon writes to it."""
    mount = tmp_path / "statefs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write to ``directory`` until its filesystem has no byte left."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(bytes(4096))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_state_disk_is_reported_and_checks_keep_running(
    tmp_path: Path, store_dir: Path, small_disk: Path
) -> None:
    config = version_mix_only(tmp_path, store_dir, state_url=f"sqlite:///{small_disk}/state.db")
    daemon = Daemon(load_config(write_config(tmp_path, config)))
    daemon.start()
    try:
        base = f"http://127.0.0.1:{daemon.http.port}"
        wait_for(lambda: runs(daemon, "version_mix", "ok") >= 1)
        assert scraped(daemon, "driftwatch_state_db_up") == 1
        assert daemon.db is not None
        daemon.db.health.hold = timedelta(seconds=1)  # recovery below within the test's time

        filler = fill(small_disk)
        wait_for(lambda: scraped(daemon, "driftwatch_state_db_up") == 0, timeout=30)
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert "database or disk is full" in ready.text
        # The check still runs (its lease and history cannot be written) and exports results.
        before = runs(daemon, "version_mix", "ok")
        wait_for(lambda: runs(daemon, "version_mix", "ok") >= before + 2, timeout=30)
        assert f'driftwatch_check_status{{check="version_mix",collection="{COLL}"}} 0.0' in (
            httpx.get(f"{base}/metrics").text
        )
        # What DriftwatchStateDatabaseFailing (driftwatch_state_db_up == 0, for: 10m)
        # evaluates: 0 at every scrape while the disk stays full, never a flap back to 1.
        seen = []
        for _ in range(8):
            seen.append(scraped(daemon, "driftwatch_state_db_up"))
            time.sleep(0.5)
        assert seen == [0.0] * 8

        filler.unlink()  # space again: the next writes succeed, and it recovers on its own
        wait_for(lambda: scraped(daemon, "driftwatch_state_db_up") == 1, timeout=30)
        assert httpx.get(f"{base}/readyz").status_code == 200
    finally:
        daemon.stop()


def test_a_state_db_deleted_while_running_is_detected_and_recreated(
    tmp_path: Path,
    store_dir: Path,
    running: Callable[[Path], Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "driftwatch")
    path = tmp_path / "state.db"
    daemon = running(write_config(tmp_path, version_mix_only(tmp_path, store_dir)))
    wait_for(lambda: runs(daemon, "version_mix", "ok") >= 1)
    assert daemon.db is not None
    assert daemon.db.created_fresh and not daemon.db.lost_history

    path.unlink()
    wait_for(lambda: daemon.db is not None and daemon.db.lost_history, timeout=30)
    assert scraped(daemon, "driftwatch_state_db_up") == 0
    ready = httpx.get(f"http://127.0.0.1:{daemon.http.port}/readyz")
    assert ready.status_code == 503 and "deleted while driftwatch ran" in ready.text
    assert any(
        r.levelno == logging.ERROR and "recreated empty" in r.getMessage() for r in caplog.records
    )
    daemon.db.health.hold = timedelta(0)  # recovery below within the test's time
    # Results go to the recreated file, not to the unlinked inode that a restart would lose.
    wait_for(lambda: path.is_file() and _stored_results(path) >= 1, timeout=30)
    wait_for(lambda: scraped(daemon, "driftwatch_state_db_up") == 1, timeout=30)


def _stored_results(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM check_results").fetchone()[0])


def test_a_restart_takes_over_leases_of_its_dead_predecessor_at_once(
    tmp_path: Path, store_dir: Path, running: Callable[[Path], Daemon]
) -> None:
    """Fault 7: the hourly version mix must not wait out a dead process's lease.

    The daemon listens on "[::]:PORT" (fault 11) and is scraped over IPv6 and IPv4.
    """
    config = version_mix_only(tmp_path, store_dir)
    config["collections"][0]["schedule"] = {"probe": "1h", "version_mix": "1h", "jitter": "0s"}
    config["listen"] = f"[::]:{free_port()}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    db = open_state(config["state_url"])
    try:  # what the killed predecessor left: a lease for most of the hour
        assert leases.try_acquire(
            db,
            f"check:{COLL}:version_mix",
            f"{socket.gethostname()}:{dead.pid}:0badc0de",
            timedelta(minutes=54),
        )
    finally:
        db.close()
    daemon = running(write_config(tmp_path, config))
    wait_for(lambda: runs(daemon, "version_mix", "ok") >= 1, timeout=30)
    for host in ("[::1]", "127.0.0.1"):
        body = httpx.get(f"http://{host}:{daemon.http.port}/metrics").text
        assert f'driftwatch_check_status{{check="version_mix",collection="{COLL}"}} 0.0' in body


def test_scheduler_workers_are_found_by_their_thread_name_prefix(
    tmp_path: Path, store_dir: Path, running: Callable[[Path], Daemon]
) -> None:
    daemon = running(write_config(tmp_path, version_mix_only(tmp_path, store_dir)))
    wait_for(lambda: runs(daemon, "version_mix", "ok") >= 1)
    workers = {
        t.name.rsplit("_", 1)[0] for t in threading.enumerate() if t.name.startswith("driftwatch-")
    }
    assert {"driftwatch-check"} <= workers
    busy = Daemon.busy_workers()
    assert all(t.name.startswith(("driftwatch-check_", "driftwatch-job_")) for t in busy)

"""kill -9 and restart: nothing queued is lost, nothing marked sent is sent again.

Real processes (tests/notify/outbox_worker.py) on a real SQLite state DB,
really killed with SIGKILL, delivering to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from driftwatch.state.db import open_state
from driftwatch.state.models import OutboxRow
from tests.notify.helpers import HOOK_PATH, received
from tests.support.loopback import LoopbackServer, Reply, Request

ROOT = Path(__file__).resolve().parents[2]
N = 5


def start(state_url: str, server: LoopbackServer, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.notify.outbox_worker",
            state_url,
            server.url(HOOK_PATH),
            mode,
            str(N),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def kill_9(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL: no cleanup, no atexit, no rollback
    assert proc.wait(timeout=10) == -9


def deliver_rest(state_url: str, server: LoopbackServer) -> None:
    proc = start(state_url, server, "deliver")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.strip() == "done"


def name(body: dict[str, Any]) -> str:
    """The collection a received message is about ("[CRITICAL] driftwatch c3: ...")."""
    return str(body["text"].split("driftwatch ")[1].split(":")[0])


def collections(server: LoopbackServer) -> Counter[str]:
    """How often each collection's message reached Slack."""
    return Counter(name(b) for b in received(server))


def statuses(state_url: str) -> dict[str, str]:
    db = open_state(state_url)
    try:
        with db.session() as session:
            rows = session.scalars(select(OutboxRow)).all()
            return {r.fingerprint.split("/")[1]: r.status for r in rows}
    finally:
        db.close()


@pytest.mark.slow
def test_kill_9_before_sending_and_mid_request_loses_nothing(
    tmp_path: Path, slack: LoopbackServer
) -> None:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"

    # 1. Killed after queueing, before anything was sent.
    proc = start(state_url, slack, "enqueue")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "queued"
    kill_9(proc)
    assert received(slack) == []
    assert list(statuses(state_url).values()) == ["pending"] * N

    # 2. A new process delivers; killed while Slack holds its answer to the third message.
    in_flight = threading.Event()

    def answer(_: Request) -> Reply:
        if len(slack.requests_to(HOOK_PATH)) == 3:
            in_flight.set()
            return Reply(200, b"ok", delay_s=5)
        return Reply(200, b"ok")

    slack.route(HOOK_PATH, answer)
    proc = start(state_url, slack, "deliver")
    assert in_flight.wait(timeout=30)
    kill_9(proc)
    bodies = received(slack)
    assert len(bodies) == 3
    answered, cut_off = {name(b) for b in bodies[:2]}, name(bodies[2])
    accepted = {c for c, status in statuses(state_url).items() if status == "sent"}
    assert accepted == answered  # Slack answered these and they were marked sent

    # 3. Restarted: delivers the rest once the dead process's claim has expired.
    slack.route(HOOK_PATH, lambda _: Reply(200, b"ok"))
    deliver_rest(state_url, slack)
    counts = collections(slack)
    assert set(counts) == {f"c{i}" for i in range(N)}  # nothing lost
    assert all(counts[c] == 1 for c in accepted)  # nothing accepted is sent again
    # The message Slack was answering when the process died is the one
    # at-least-once window: its answer never arrived, so it is sent again.
    assert {c for c, k in counts.items() if k > 1} == {cut_off}
    assert list(statuses(state_url).values()) == ["sent"] * N

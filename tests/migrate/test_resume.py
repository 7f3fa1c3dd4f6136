"""SIGKILL a real `driftwatch migrate run` mid-run, run it again: no holes, no
duplicates, and nothing that was finished is embedded again (embed calls are
counted at the real loopback endpoint)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from driftwatch.migrate.state import last_run
from tests.migrate.conftest import MigrationEnv, expected_hashes
from tests.support.models import corpus

BLUE = list(range(300))


def _cli(env: MigrationEnv, *args: str) -> list[str]:
    return [sys.executable, "-m", "driftwatch.cli", "--log-format", "json", "migrate", *args,
            "--config", str(env.config_path)]  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_without_holes_duplicates_or_rework(
    env: MigrationEnv,
) -> None:
    env.fill_blue(BLUE)
    env.write_config(batch_size=10, concurrency=2)
    env.endpoint.slow_next(10_000, delay_s=0.3)  # a run of ~5 s: time to kill it mid-way
    proc = subprocess.Popen(_cli(env, "run"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Progress is read from the state DB, not the store: an embedded Chroma directory
    # must not be read by a second process while the run writes it.
    deadline = time.monotonic() + 300
    written = 0
    while written < 60 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        with env.state() as db:
            run = last_run(db, env.blue)
        written = run.embedded if run is not None else 0
    assert written >= 60 and proc.poll() is None, "the run must be killed mid-way"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = env.hashes(env.green)  # what survived the kill
    assert 60 <= len(before) < len(BLUE), "the kill must land mid-run"
    sent_before = len(env.embedded_texts())
    env.endpoint.reset()

    status = subprocess.run(
        _cli(env, "status", "--json"), capture_output=True, text=True, check=False
    )
    assert status.returncode == 1, status.stderr  # work remains
    assert '"last_run": "interrupted"' in status.stdout

    done = subprocess.run(
        _cli(env, "run", "--json"), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert env.hashes(env.green) == expected_hashes(BLUE)  # no holes, no duplicates
    texts = {d["id"]: d["text"] for d in corpus()}
    redone = env.embedded_texts()
    # Exactly what was missing after the kill was embedded, each once; nothing finished.
    assert sorted(redone) == sorted(texts[i] for i in expected_hashes(BLUE) if i not in before)
    # Work lost to the kill is bounded by the batches in flight (concurrency + 1 batches).
    assert sent_before - len(before) <= 3 * 10

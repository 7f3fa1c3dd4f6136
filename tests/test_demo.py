"""The demo's simulated model swap shows drift and leaves the daemon's state DB alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from driftwatch import demo
from driftwatch.config import load_config
from driftwatch.state.baselines import active_baseline
from driftwatch.state.db import open_state
from driftwatch.state.results import latest_results
from tests.support.demo import demo_config, write_config


@pytest.mark.slow
def test_swap_shows_drift_without_writing_the_real_state_db(
    tmp_path: Path, store_dir: Path
) -> None:
    data = demo_config(tmp_path)
    data["stores"]["demo"]["path"] = str(store_dir)
    config = load_config(write_config(tmp_path, data))

    results = demo.swap(config, Console(quiet=True))

    statuses = {r.check: r.status for r in results}
    assert statuses["fingerprint"] == "drift"
    assert statuses["canary"] == "drift"
    real = open_state(config.state_url)  # the daemon's: neither results nor a baseline
    try:
        assert latest_results(real) == []
        assert active_baseline(real, "python-docs") is None
    finally:
        real.close()

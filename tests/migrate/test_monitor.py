"""What the daemon measures of a migration, and how it is exposed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from driftwatch.metrics import MigrationCollector, MigrationObservation
from driftwatch.migrate.monitor import observe
from driftwatch.migrate.run import run_migration
from driftwatch.migrate.spec import migration_spec
from tests.migrate.conftest import MigrationEnv

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "migrations.prom"


@pytest.mark.parametrize("env", ["pgvector"], indirect=True)
def test_observation_before_and_after_the_run(env: MigrationEnv) -> None:
    env.fill_blue(list(range(200)))
    config = env.write_config()
    spec = migration_spec(config, None)
    with env.state() as db:
        before = observe(spec, db)
        assert (before.total, before.done, before.missing, before.stale) == (200, 0, 200, 0)
        assert before.green_consistency is None and not before.cutover_ready
        with env.endpoints(config) as endpoints:
            run_migration(endpoints, db)
        after = observe(spec, db)
    assert (after.total, after.done, after.missing, after.stale) == (200, 200, 0, 0)
    assert after.green_consistency == 1.0  # green holds exactly the candidate's vectors
    assert after.cutover_ready and not after.cut_over


def test_exposition_matches_golden() -> None:
    registry = CollectorRegistry()
    collector = MigrationCollector()
    registry.register(collector)
    collector.update(MigrationObservation("docs", 1000, 640, 350, 10, 1.0, False, False, 1.76e9))
    collector.update(MigrationObservation("kb", 0, 0, 0, 0, None, True, True, 1.76e9))
    text = generate_latest(registry)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_bytes(text)
    assert text.decode() == GOLDEN.read_text(encoding="utf-8")

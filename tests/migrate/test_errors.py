"""Bad input: a clear error, exit 2, and nothing lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftwatch.cli import main
from driftwatch.config import parse_config
from driftwatch.errors import ConfigError, EmbedderUnavailable, StoreError
from driftwatch.migrate.run import run_migration
from tests.migrate.conftest import MigrationEnv, Records, expected_hashes
from tests.support.chroma_server import start_chroma_server

BLUE = list(range(100))


def test_migration_to_an_embedder_that_does_not_exist_is_a_config_error() -> None:
    data = {
        "embedders": {"live": {"kind": "onnx", "model": "m"}},
        "stores": {"s": {"kind": "chroma", "path": "/tmp/x"}},
        "collections": [
            {
                "store": "s",
                "name": "docs",
                "embedder": "live",
                "migration": {"to": "nope", "target": "docs", "target_store": "elsewhere"},
            }
        ],
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    text = str(exc.value)
    assert "collections[0].migration.to: unknown embedder 'nope' (known: live)" in text
    assert "collections[0].migration.target_store: unknown store 'elsewhere'" in text


def test_target_existing_with_another_dimension_is_refused(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env.fill_blue(BLUE)
    env.write_config()
    env.sut.fill(env.green, Records(np.eye(8, dtype=np.float32), documents=["x"] * 8))
    blue = env.hashes(env.blue)
    assert main(["migrate", "run", "--config", str(env.config_path)]) == 2
    message = capsys.readouterr().err
    assert "exists with 8-d vectors" in message and "384-d" in message
    assert env.hashes(env.blue) == blue
    assert len(env.hashes(env.green)) == 8  # untouched


def test_candidate_answering_500_stops_the_run_and_the_next_run_resumes(
    env: MigrationEnv,
) -> None:
    env.fill_blue(BLUE)
    env.write_config()
    with env.endpoints() as endpoints, env.state() as db:
        env.endpoint.fail_next(0)
        progress_seen: list[int] = []

        def fail_after_two_batches(p: object) -> None:
            progress_seen.append(getattr(p, "done", 0))
            if len(progress_seen) == 3:
                env.endpoint.fail_next(1000, status=500)

        with pytest.raises(EmbedderUnavailable, match="HTTP 500"):
            run_migration(endpoints, db, fail_after_two_batches)
    partial = env.hashes(env.green)
    assert 0 < len(partial) < len(BLUE)
    env.endpoint.reset()
    with env.endpoints() as endpoints, env.state() as db:
        outcome = run_migration(endpoints, db)
    assert outcome.complete and outcome.embedded == len(BLUE) - len(partial)
    assert env.hashes(env.green) == expected_hashes(BLUE)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["chroma-server"], indirect=True)
def test_store_going_down_mid_run_stops_it_and_the_next_run_resumes(
    env: MigrationEnv, tmp_path: Path
) -> None:
    server = start_chroma_server(tmp_path / "own-server")
    try:
        env.sut.server = server  # type: ignore[attr-defined]
        env.fill_blue(BLUE)
        env.write_config()
        calls: list[int] = []

        def stop_store(p: object) -> None:
            calls.append(getattr(p, "done", 0))
            if len(calls) == 3:
                server.stop()

        with env.endpoints() as endpoints, env.state() as db, pytest.raises(StoreError):
            run_migration(endpoints, db, stop_store)
        server = start_chroma_server(tmp_path / "own-server")  # same data, a new port
        env.sut.server = server  # type: ignore[attr-defined]
        env.write_config()
        partial = env.hashes(env.green)
        assert 0 < len(partial) < len(BLUE)
        with env.endpoints() as endpoints, env.state() as db:
            outcome = run_migration(endpoints, db)
        assert outcome.complete and outcome.embedded == len(BLUE) - len(partial)
        assert env.hashes(env.green) == expected_hashes(BLUE)
    finally:
        server.stop()


def test_a_migration_into_blue_itself_is_refused() -> None:
    data = {
        "embedders": {
            "live": {"kind": "onnx", "model": "m"},
            "next": {"kind": "onnx", "model": "n"},
        },
        "stores": {"s": {"kind": "chroma", "path": "/tmp/x"}},
        "collections": [
            {"store": "s", "name": "docs", "embedder": "live",
             "migration": {"to": "next", "target": "docs"}},
        ],
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"migration.target: 'docs' is the collection itself"):
        parse_config(data)


@pytest.mark.parametrize("env", ["pgvector"], indirect=True)
def test_rate_limited_candidate_is_waited_for_and_the_run_completes(env: MigrationEnv) -> None:
    env.fill_blue(BLUE)
    env.write_config(batch_size=20, concurrency=2)
    env.endpoint.fail_next(2, status=429, retry_after="1")
    with env.endpoints() as endpoints, env.state() as db:
        outcome = run_migration(endpoints, db)
    assert outcome.complete and outcome.embedded == len(BLUE)
    # 5 batches of 20 records, each 2 requests (the embedder's batch_size is 16), plus
    # the two answered 429 and sent again after Retry-After.
    assert len(env.endpoint.requests) == 5 * 2 + 2
    texts = env.embedded_texts()
    assert len(set(texts)) == len(BLUE) and len(texts) - len(BLUE) <= 2 * 16
    assert env.hashes(env.green) == expected_hashes(BLUE)

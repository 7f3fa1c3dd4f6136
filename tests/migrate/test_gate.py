"""Cutover refused, then allowed; check/status follow the switch; rollback goes back."""

from __future__ import annotations

import json

import pytest

from driftwatch.cli import main
from driftwatch.config import load_config
from driftwatch.errors import EmbedderUnavailable
from driftwatch.migrate.routing import effective_collection
from driftwatch.migrate.run import Progress, run_migration
from driftwatch.state.baselines import active_baseline
from tests.migrate.conftest import CANDIDATE, MigrationEnv
from tests.support.models import MINILM

BLUE = list(range(200))
# `migrate cutover --json` has these keys in every case: the gate's verdict, the
# status it measured (as `migrate status --json`) and the gate's own measurements.
CUTOVER_KEYS = {
    "allowed", "reasons", "already_cut_over", "application_change",
    "collection", "target", "target_exists", "total", "done", "missing", "stale",
    "orphaned", "without_text", "without_text_ids", "unfinished_load", "complete", "running",
    "rate",
    "eta_seconds", "last_run", "last_error", "cutover",
    "consistency", "canary_recall",
}  # fmt: skip


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_cutover_refused_then_allowed_then_rolled_back(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env.fill_blue(BLUE)
    config = env.write_config()
    cfg = ["--config", str(env.config_path)]
    assert main(["baseline", *cfg]) == 0  # blue's baseline, with the current model
    capsys.readouterr()
    with env.state() as db:
        blue_baseline = active_baseline(db, env.blue)
    assert blue_baseline is not None and blue_baseline.model == MINILM

    code, refused = _json(capsys, "migrate", "cutover", "--json", *cfg)
    assert code == 1 and refused["allowed"] is False
    assert any("does not exist" in r for r in refused["reasons"])
    assert set(refused) == CUTOVER_KEYS  # refused before measuring green: same keys, null
    assert refused["consistency"] is None and refused["cutover"] is None

    # A run stopped by the candidate's endpoint failing after 50 records: green exists
    # but is incomplete -> refused, with the numbers.
    env.write_config(batch_size=25, concurrency=1)

    def fail_after_two_batches(progress: Progress) -> None:
        if progress.done == 50:
            env.endpoint.fail_next(1000, status=500)

    with env.endpoints() as endpoints, env.state() as db, pytest.raises(EmbedderUnavailable):
        run_migration(endpoints, db, fail_after_two_batches)
    env.endpoint.reset()
    code, refused = _json(capsys, "migrate", "cutover", "--json", *cfg)
    assert code == 1 and refused["allowed"] is False
    assert 0 < refused["missing"] <= 150 and refused["done"] == 200 - refused["missing"]
    assert set(refused) == CUTOVER_KEYS and refused["consistency"] is not None
    assert f"{refused['missing']} record(s) of blue are missing from green" in refused["reasons"]
    if env.sut.kind == "pgvector":  # its index is built once green is loaded
        assert any("has no HNSW index yet" in r for r in refused["reasons"]), refused
        assert "has no HNSW index yet" in refused["unfinished_load"]

    assert main(["migrate", "run", *cfg]) == 0
    capsys.readouterr()
    code, allowed = _json(capsys, "migrate", "cutover", "--json", *cfg)
    assert code == 0 and allowed["allowed"] is True, allowed["reasons"]
    assert allowed["canary_recall"]["candidate"] >= allowed["canary_recall"]["current"] - 0.05
    assert env.green in allowed["application_change"]
    # The object describes the cutover it just recorded, as `migrate status` shows it.
    assert set(allowed) == CUTOVER_KEYS and allowed["already_cut_over"] is False
    code, status = _json(capsys, "migrate", "status", "--json", *cfg)
    assert allowed["cutover"] == status["cutover"]
    assert allowed["cutover"]["target"] == env.green
    assert allowed["cutover"]["model"] == CANDIDATE

    # Run repeated while cut over: allowed, the same keys, values of the state now.
    code, repeated = _json(capsys, "migrate", "cutover", "--json", *cfg)
    assert code == 0 and set(repeated) == CUTOVER_KEYS
    assert repeated["allowed"] is True and repeated["already_cut_over"] is True
    assert repeated["cutover"] == allowed["cutover"]
    assert (repeated["collection"], repeated["target"]) == (env.blue, env.green)
    assert repeated["total"] == repeated["done"] == 200 and repeated["complete"] is True
    assert repeated["consistency"] is None and repeated["canary_recall"] is None  # not re-run

    # From now on check and status watch green with the candidate.
    with env.state() as db:
        monitored = effective_collection(config, config.collections[0], db)
        green_baseline = active_baseline(db, env.green)
    assert (monitored.name, monitored.embedder, monitored.expected_model) == (
        env.green, "candidate", CANDIDATE,
    )  # fmt: skip
    assert green_baseline is not None and green_baseline.model == CANDIDATE
    code, checked = _json(capsys, "check", "--json", *cfg)
    assert {r["collection"] for r in checked["results"]} == {env.green}
    consistency = next(r for r in checked["results"] if r["check"] == "consistency")
    assert consistency["status"] == "ok", consistency["message"]
    code, status = _json(capsys, "status", "--json", *cfg)
    assert status["cutovers"][env.blue]["target"] == env.green

    assert main(["migrate", "rollback", *cfg]) == 0
    capsys.readouterr()
    with env.state() as db:
        assert effective_collection(config, config.collections[0], db).name == env.blue
        again = active_baseline(db, env.blue)
    assert again is not None and again.id == blue_baseline.id  # old baseline kept
    code, checked = _json(capsys, "check", "--json", *cfg)
    assert {r["collection"] for r in checked["results"]} == {env.blue}
    assert main(["migrate", "rollback", *cfg]) == 1  # nothing left to roll back
    assert load_config(env.config_path).collections[0].name == env.blue

"""The command line, end to end on a real embedded Chroma store and real ONNX models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftwatch.cli import main
from driftwatch.config import load_config
from tests.support.chroma_server import free_port
from tests.support.demo import demo_config, write_config

pytestmark = pytest.mark.slow


def config_file(tmp_path: Path, store_dir: Path, **overrides: Any) -> Path:
    config = demo_config(tmp_path, **overrides)
    config["stores"]["demo"]["path"] = str(store_dir)
    return write_config(tmp_path, config)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_on_a_healthy_store_exits_0(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_json(capsys, "check", "--config", str(config_file(tmp_path, store_dir)))
    statuses = {r["check"]: r["status"] for r in report["results"]}
    assert code == 0, report
    assert report["drift"] is False
    assert report["warning"] is False
    assert statuses["version_mix"] == "ok"
    assert statuses["fingerprint"] == "ok"
    assert statuses["consistency"] == "ok"
    assert statuses["canary"] == "ok"
    assert statuses["dimension"] == "ok"
    for result in report["results"]:
        assert set(result) == {
            "check",
            "collection",
            "status",
            "value",
            "threshold",
            "detail",
            "started_at",
            "duration_s",
            "message",
        }


def test_check_with_the_query_model_swapped_exits_1(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, store_dir)
    assert main(["baseline", "--config", str(path)]) == 0
    capsys.readouterr()
    swapped = demo_config(tmp_path)
    swapped["stores"]["demo"]["path"] = str(store_dir)
    # Same name, same 384 dimensions, another model behind it.
    swapped["embedders"]["live"]["path"] = "paraphrase-MiniLM-L3-v2"
    code, report = run_json(capsys, "check", "--config", str(write_config(tmp_path, swapped)))
    statuses = {r["check"]: r["status"] for r in report["results"]}
    assert code == 1
    assert report["drift"] is True
    assert report["warning"] is False
    assert statuses["fingerprint"] == "drift"
    assert statuses["consistency"] == "drift"
    assert statuses["canary"] == "drift"
    assert statuses["dimension"] == "ok"  # the dimension alone cannot tell


def test_unreachable_chroma_server_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = demo_config(tmp_path)
    config["stores"]["demo"] = {
        "kind": "chroma",
        "url": f"http://127.0.0.1:{port}",
        "timeout": "2s",
    }
    code, report = run_json(capsys, "check", "--config", str(write_config(tmp_path, config)))
    assert code == 2
    assert report["drift"] is False
    assert {r["status"] for r in report["results"]} == {"error"}
    assert all(f"127.0.0.1:{port}" in r["message"] for r in report["results"])


def test_missing_collection_exits_2(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, store_dir)
    code = main(["check", "--config", str(path), "--collection", "nope"])
    assert code == 2
    assert "no collection named 'nope'" in capsys.readouterr().err
    raw = demo_config(tmp_path)
    raw["stores"]["demo"]["path"] = str(store_dir)
    raw["collections"][0]["name"] = "does-not-exist"
    code, report = run_json(capsys, "check", "--config", str(write_config(tmp_path, raw)))
    assert code == 2
    assert "does-not-exist" in report["results"][0]["message"]


def test_check_with_no_collections_exits_2_rather_than_report_no_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(f"state_url: sqlite:///{tmp_path}/s.db\ncollections: []\n", encoding="utf-8")
    assert main(["check", "--json", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "nothing to check: the config lists no collections" in captured.err
    assert captured.out == ""


def test_state_db_that_cannot_be_opened_exits_2(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, store_dir, state_url=f"sqlite:///{tmp_path}/no/such/dir/s.db")
    assert main(["check", "--config", str(path)]) == 2
    assert "no/such/dir" in capsys.readouterr().err


def test_config_validate_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "listen: nope\n"
        "alerts: {slack: {webhook_url: ${SLACK_URL_FOR_TEST}}}\n"
        "collections: [{store: x, name: c, embedder: y, schedule: {probe: 5x}}]\n",
        encoding="utf-8",
    )
    assert main(["config", "validate", "--config", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert "listen: invalid listen address 'nope'" in stderr
    assert "collections[0].schedule.probe: invalid duration '5x'" in stderr
    assert "alerts.slack.webhook_url: environment variable SLACK_URL_FOR_TEST is not set" in stderr
    # Unknown references are listed in the same pass as the field errors.
    assert "collections[0].store: unknown store 'x'" in stderr
    assert "collections[0].embedder: unknown embedder 'y'" in stderr


def test_config_validate_never_echoes_secrets(
    tmp_path: Path,
    store_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "https://hooks.slack.invalid/services/T1/B2/verysecretvalue"
    monkeypatch.setenv("SLACK_URL_FOR_TEST", secret)
    path = config_file(
        tmp_path, store_dir, alerts={"slack": {"webhook_url": "${SLACK_URL_FOR_TEST}"}}
    )
    assert main(["config", "validate", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    assert "config OK" in captured.out
    assert secret not in captured.out + captured.err
    assert "verysecretvalue" not in captured.out + captured.err


def test_baseline_force_replaces_and_status_shows_it(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(config_file(tmp_path, store_dir))
    assert main(["baseline", "--config", path]) == 0
    assert "baseline captured with all-MiniLM-L6-v2" in capsys.readouterr().out
    assert main(["baseline", "--config", path]) == 0
    assert "a baseline exists; use --force" in capsys.readouterr().out
    assert main(["baseline", "--config", path, "--force"]) == 0
    capsys.readouterr()

    from sqlalchemy import select

    from driftwatch.state.db import open_state
    from driftwatch.state.models import BaselineRow

    db = open_state(load_config(path).state_url)
    try:
        with db.session() as session:
            query = select(BaselineRow.id).where(BaselineRow.collection == "python-docs")
            history = list(session.scalars(query))
    finally:
        db.close()
    assert len(history) == 2  # the replaced one stays as history

    assert main(["check", "--config", path]) == 0
    capsys.readouterr()
    code, status = run_json(capsys, "status", "--config", path)
    assert code == 0
    assert status["baselines"]["python-docs"]["model"] == "all-MiniLM-L6-v2"
    assert status["baselines"]["python-docs"]["id"] == max(history)
    assert {r["check"] for r in status["results"]} >= {"version_mix", "fingerprint", "canary"}


def test_demo_swap_shows_drift(
    tmp_path: Path, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(config_file(tmp_path, store_dir))
    code, report = run_json(capsys, "demo", "swap", "--config", path)
    statuses = {r["check"]: r["status"] for r in report["results"]}
    assert code == 1
    assert statuses["fingerprint"] == "drift"
    assert statuses["version_mix"] == "ok"  # the stored records did not change


def run_on_terminal(*argv: str) -> tuple[int, bytes]:
    """Run the CLI with stderr on a pseudo-terminal, as a person at a shell would."""
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftwatch.cli", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 120)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=60), seen


def test_progress_bar_on_a_terminal_and_none_in_json_mode(tmp_path: Path, store_dir: Path) -> None:
    path = str(config_file(tmp_path, store_dir))
    code, terminal = run_on_terminal("--log-format", "text", "check", "--config", path)
    assert code == 0
    assert b"scanning" in terminal and "━".encode() in terminal
    code, terminal = run_on_terminal("--log-format", "text", "check", "--config", path, "--json")
    assert code == 0
    assert b"scanning" not in terminal


def test_status_is_read_only_and_needs_no_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_config(tmp_path)
    config["alerts"] = {"slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"}}
    path = str(write_config(tmp_path, config))
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    assert main(["status", "--config", path]) == 2
    assert "no state database" in capsys.readouterr().err
    assert not (tmp_path / "state.db").exists()  # status created nothing

    from driftwatch.state.db import open_state

    open_state(f"sqlite:///{tmp_path}/state.db").close()  # what the daemon does first
    code, status = run_json(capsys, "status", "--config", path)
    assert code == 0
    assert status["results"] == []
    # Commands that would use the webhook still insist on it.
    assert main(["check", "--config", path]) == 2
    assert "SLACK_WEBHOOK_URL is not set" in capsys.readouterr().err

"""migrate plan and evaluate on real models: estimates, canary recall, bridge, HTML."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from driftwatch.cli import main
from driftwatch.errors import CollectionNotFound
from driftwatch.migrate import write_cost
from tests.migrate.conftest import MigrationEnv
from tests.support.models import corpus

BLUE = list(range(400))
ONE_STORE = pytest.mark.parametrize("env", ["pgvector"], indirect=True)


@pytest.mark.parametrize("env", ["pgvector", "chroma-embedded"], indirect=True)
def test_plan_counts_estimates_and_checks_tokens_against_usage(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    env.fill_blue(BLUE, without_text=(7, 8, 9))
    env.write_config()
    blue = env.hashes(env.blue)
    assert main(["migrate", "plan", "--json", "--config", str(env.config_path)]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["records"] == 400 and plan["records_without_text"] == 3
    assert set(plan["without_text_ids"]) == {corpus()[i]["id"] for i in (7, 8, 9)}
    # The endpoint reports whitespace words as tokens: the plan's estimate is scaled by
    # its usage, so it lands near the true count of the 397 texts.
    actual = sum(len(corpus()[i]["text"].split()) for i in BLUE if i not in (7, 8, 9))
    assert plan["token_method"] == "chars/4 checked against usage"
    assert abs(plan["estimated_tokens"] - actual) / actual < 0.2
    assert plan["estimated_cost"] == pytest.approx(plan["estimated_tokens"] * 0.02 / 1e6)
    assert plan["estimated_seconds"] > 0 and plan["dimension"] == 384
    assert plan["extra_storage_bytes"] > 397 * 384 * 4
    embed_s = 397 / plan["throughput_records_per_s"]
    if env.sut.kind == "pgvector":
        # The table is written by the server: plan cannot try it without writing there.
        assert plan["write_records_per_s"] is None and plan["time_method"] == "embedding only"
        assert plan["estimated_seconds"] == pytest.approx(embed_s)
    else:
        # A scratch Chroma collection stood in for green; the HTTP candidate embeds
        # elsewhere while run writes, so the longer of the two counts.
        write_s = 397 / plan["write_records_per_s"]
        assert plan["time_method"] == "embedding, overlapped with writing"
        assert plan["estimated_seconds"] == pytest.approx(max(embed_s, write_s))
    assert env.hashes(env.blue) == blue


@pytest.mark.parametrize("env", ["chroma-embedded"], indirect=True)
def test_plan_without_a_scratch_directory_estimates_embedding_only(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write estimate is extra: a temp directory that cannot be made (a full
    disk) costs it, not the plan."""
    env.fill_blue(BLUE[:60])
    env.write_config()
    monkeypatch.setattr(write_cost.tempfile, "tempdir", str(env.tmp / "missing"))
    assert main(["migrate", "plan", "--json", "--config", str(env.config_path)]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["records"] == 60 and plan["time_method"] == "embedding only"
    assert plan["write_records_per_s"] is None
    assert plan["estimated_seconds"] == pytest.approx(60 / plan["throughput_records_per_s"])


def headless_chromium(*args: str) -> str:
    """Run Debian's chromium headless (scripts/system-deps.sh installs it); its stdout."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (scripts/system-deps.sh installs it)"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
@ONE_STORE
def test_evaluate_reports_both_models_and_the_bridge_and_writes_nothing(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env.fill_blue(BLUE)
    env.write_config(evaluate_sample=300)
    html = tmp_path / "report.html"
    argv = ["migrate", "evaluate", "--json", "--html", str(html), "--config", str(env.config_path)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sample"] >= 300 and result["canaries_with_expect"] == 20
    for name in ("current", "candidate"):
        low, high = result[name]["recall_ci"]
        assert low <= result[name]["recall_at_k"] <= high
        assert result[name]["recall_at_k"] >= 0.8  # known-item canaries, both real models
    assert 0 <= result["agreement"]["overlap_at_k"] <= 1
    bridge = result["bridge"]
    # Querying the old index with the other model's raw vectors finds little; a fitted
    # map recovers a large share of the current model's own neighbours.
    with capsys.disabled():
        print(json.dumps({k: result[k] for k in ("current", "candidate", "agreement", "bridge")}))
    assert bridge["procrustes"]["neighbour_recall"] > bridge["unmapped"]["neighbour_recall"] + 0.2
    assert bridge["ridge"]["neighbour_recall"] > bridge["unmapped"]["neighbour_recall"] + 0.2
    with pytest.raises(CollectionNotFound):  # evaluate never creates green
        env.hashes(env.green)
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and not re.search(r"\b(src|href)=", page)  # self-contained
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
    assert page.count('class="bar-current"') == 20 and page.count('class="bar-candidate"') == 20
    # A real browser renders it: the DOM it built holds every bar, and it paints a page.
    dom = headless_chromium("--dump-dom", html.as_uri())
    assert dom.count("<svg") == 3 and dom.count('class="bar-candidate"') == 20
    assert dom.count('class="cost-bar"') == 2 and "Bridge estimate" in dom
    shot = tmp_path / "report.png"
    headless_chromium(f"--screenshot={shot}", "--window-size=800,2400", html.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.parametrize("env", ["chroma-embedded"], indirect=True)
@pytest.mark.parametrize(
    ("name", "expected"),
    [("nodir/x.html", "directory {tmp}/nodir does not exist"), (".", "is a directory")],
)
def test_evaluate_refuses_an_html_path_that_cannot_be_written_before_any_work(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str], name: str, expected: str
) -> None:
    env.fill_blue(BLUE[:60])
    env.write_config(evaluate_sample=40)
    html = env.tmp / name
    argv = ["migrate", "evaluate", "--json", "--html", str(html), "--config", str(env.config_path)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert f"error: --html {html}: {expected.format(tmp=env.tmp)}" in captured.err
    assert "internal error" not in captured.err
    assert env.embedded_texts() == []  # refused before the candidate embedded anything


@pytest.mark.parametrize("env", ["chroma-embedded"], indirect=True)
def test_evaluate_still_prints_its_result_when_the_report_cannot_be_written(
    env: MigrationEnv, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    env.fill_blue(BLUE[:60])
    env.write_config(evaluate_sample=40)
    # /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    argv = [
        "migrate",
        "evaluate",
        "--json",
        "--html",
        "/dev/full",
        "--config",
        str(env.config_path),
    ]
    assert main(argv) == 2  # the report asked for was not written
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the evaluation is not lost
    assert result["canaries_with_expect"] == 20
    assert {"current", "candidate", "agreement", "bridge"} <= set(result)
    assert "error: --html /dev/full: No space left on device" in captured.err
    assert "internal error" not in captured.err
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged

"""One line per event: JSON for machines, key=value text for a terminal."""

from __future__ import annotations

import json
import logging

import pytest

from driftwatch.logs import setup_logging

EVENT = {
    "event": "check_finished",
    "collection": "docs",
    "check": "fingerprint",
    "status": "drift",
    "duration_s": 0.25,
}


def test_json_lines_carry_the_event_fields(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("json", "INFO")
    logging.getLogger("driftwatch.runner").info("query model replaced", extra=EVENT)
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    record = json.loads(line)
    assert record["message"] == "query model replaced"
    assert record["level"] == "INFO"
    assert {k: record[k] for k in EVENT} == EVENT


def test_text_lines_append_fields_as_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("text", "INFO")
    logging.getLogger("driftwatch.runner").info("query model replaced", extra=EVENT)
    line = capsys.readouterr().err.strip()
    assert line.endswith(
        "query model replaced event=check_finished collection=docs check=fingerprint "
        "status=drift duration_s=0.25"
    )


def test_auto_is_json_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("auto", "INFO")
    logging.getLogger("x").warning("hello")
    assert json.loads(capsys.readouterr().err)["message"] == "hello"

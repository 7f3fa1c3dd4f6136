"""`driftwatch feeds check`, `feeds calendar` and the notices in `status`, end to end.

Real loopback feed server, real SQLite state DB, the real CLI entry point; the
calendar is read back with the icalendar parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from icalendar import Calendar

from driftwatch.cli import main
from tests.feeds import samples
from tests.support.loopback import LoopbackServer, Reply

TODAY = date.today()  # the CLI reads the real clock
SOON = TODAY + timedelta(days=45)
PAST = TODAY - timedelta(days=10)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        srv.route(
            "/openai.xml",
            lambda req: Reply(
                200,
                samples.rss2(
                    [
                        {
                            "id": "ada",
                            "title": "ada-002 retirement",
                            "description": (
                                f"text-embedding-ada-002 will be retired on {SOON.isoformat()}. "
                                "Migrate to text-embedding-3-small."
                            ),
                        },
                        {
                            "id": "v2",
                            "title": "Cohere v2",
                            "description": (
                                f"embed-english-v2.0 was shut down on {PAST.isoformat()}; "
                                "use embed-english-v3.0 instead."
                            ),
                        },
                    ]
                ),
            ),
        )
        srv.route("/down.xml", lambda req: Reply(500))
        yield srv


def _config(tmp_path: Path, server: LoopbackServer, *feeds: str) -> str:
    config = {
        "state_url": f"sqlite:///{tmp_path / 'state.db'}",
        "models": [
            {"id": "text-embedding-ada-002", "provider": "openai"},
            {"id": "text-embedding-3-small", "provider": "openai"},
            {"id": "embed-english-v2.0", "provider": "cohere"},
            {"id": "embed-english-v3.0", "provider": "cohere"},
        ],
        "feeds": [{"url": server.url(f"/{name}"), "name": name.split(".")[0]} for name in feeds],
    }
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_calendar_lists_upcoming_shutdowns_of_models_in_use(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = _config(tmp_path, server, "openai.xml")
    out = tmp_path / "shutdowns.ics"
    assert main(["feeds", "calendar", "--config", config, "--refresh", "--output", str(out)]) == 0
    events = Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    # The replacement gets no event; the past shutdown is not upcoming.
    (event,) = events
    assert str(event["SUMMARY"]) == "text-embedding-ada-002 (openai) shuts down"
    assert event.decoded("DTSTART") == SOON
    assert "Migrate to text-embedding-3-small." in str(event["DESCRIPTION"])
    assert "driftwatch migrate plan" in str(event["DESCRIPTION"])


def test_calendar_to_stdout_from_recorded_notices(
    tmp_path: Path, server: LoopbackServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    config = _config(tmp_path, server, "openai.xml")
    assert main(["feeds", "check", "--config", config, "--json"]) == 1
    capsysbinary.readouterr()
    assert main(["feeds", "calendar", "--config", config]) == 0  # no fetch: the state DB
    (event,) = Calendar.from_ical(capsysbinary.readouterr().out).walk("VEVENT")
    assert event.decoded("DTSTART") == SOON


def test_feeds_check_exits_2_when_a_feed_failed_even_with_a_notice(
    tmp_path: Path, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, server, "openai.xml", "down.xml")
    assert main(["feeds", "check", "--config", config, "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 2
    assert {n["model"]: n["replacement"] for n in report["notices"]} == {
        "embed-english-v2.0": "embed-english-v3.0",
        "text-embedding-ada-002": "text-embedding-3-small",
    }
    # A failed --refresh makes the calendar command say so too (the file is still written).
    out = tmp_path / "c.ics"
    assert main(["feeds", "calendar", "-c", config, "--refresh", "-o", str(out)]) == 2
    assert len(Calendar.from_ical(out.read_bytes()).walk("VEVENT")) == 1


def test_status_shows_where_to_migrate(
    tmp_path: Path,
    server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # room for the table's columns, unfolded
    config = _config(tmp_path, server, "openai.xml")
    main(["feeds", "check", "--config", config])
    capsys.readouterr()
    assert main(["status", "--config", config, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    ada = next(d for d in status["deprecations"] if d["model"] == "text-embedding-ada-002")
    assert (ada["shutdown_on"], ada["replacement"]) == (SOON.isoformat(), "text-embedding-3-small")
    assert main(["status", "--config", config]) == 0
    text = capsys.readouterr().out
    assert "migrate to" in text
    assert "text-embedding-3-small" in text
    assert "driftwatch migrate plan" in text

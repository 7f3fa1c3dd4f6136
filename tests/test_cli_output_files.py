"""Output-file options (`feeds calendar --output`): refused before any work when the
file cannot be written, and a late failure (a full disk) reported without a traceback.

`migrate evaluate --html` shares the helper; its tests are in tests/migrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from driftwatch.cli import main
from tests.feeds import samples
from tests.support.loopback import LoopbackServer, Reply

SOON = date.today() + timedelta(days=45)  # the CLI reads the real clock


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    notice = f"text-embedding-ada-002 will be retired on {SOON.isoformat()}."
    item = {"id": "ada", "title": "ada-002 retirement", "description": notice}
    with LoopbackServer() as srv:
        srv.route("/feed.xml", lambda req: Reply(200, samples.rss2([item])))
        yield srv


def _config(tmp_path: Path, feed: LoopbackServer) -> str:
    config = {
        "state_url": f"sqlite:///{tmp_path / 'state.db'}",
        "models": [{"id": "text-embedding-ada-002", "provider": "openai"}],
        "feeds": [{"url": feed.url("/feed.xml"), "name": "openai"}],
    }
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("nodir/shutdowns.ics", "directory {tmp}/nodir does not exist"), (".", "is a directory")],
)
def test_calendar_output_that_cannot_be_written_is_refused_before_fetching(
    tmp_path: Path,
    feed: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
    name: str,
    expected: str,
) -> None:
    output = tmp_path / name
    argv = ["feeds", "calendar", "-c", _config(tmp_path, feed), "--refresh", "-o", str(output)]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert f"error: --output {output}: {expected.format(tmp=tmp_path)}" in message
    assert "internal error" not in message
    assert feed.requests_to("/feed.xml") == []  # nothing was fetched


def test_calendar_output_failing_on_a_full_disk_is_reported_without_a_traceback(
    tmp_path: Path,
    feed: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    argv = ["feeds", "calendar", "-c", _config(tmp_path, feed), "--refresh", "-o", "/dev/full"]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert "error: --output /dev/full: No space left on device" in message
    assert "internal error" not in message
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged
    assert len(feed.requests_to("/feed.xml")) == 1

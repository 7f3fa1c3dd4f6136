"""Fixtures for the notifier tests: state DBs on both backends and a Slack-like server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftwatch.notify.service import Notifier
from driftwatch.state.db import StateDB, open_state
from tests.notify.helpers import HOOK_PATH, make_notifier, slack_ok
from tests.support.loopback import LoopbackServer


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[LoopbackServer]:
    # One server for the session: stopping one takes half a second (its poll interval).
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def slack(_slack_server: LoopbackServer) -> LoopbackServer:
    """A real HTTP server on 127.0.0.1 answering the webhook path like Slack: 200 "ok"."""
    _slack_server.route(HOOK_PATH, slack_ok)
    with _slack_server._lock:
        _slack_server.requests.clear()
    return _slack_server


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[StateDB]:
    """A migrated SQLite state DB, for tests where the backend does not matter."""
    db = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    yield db
    db.close()


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[Notifier, CollectorRegistry]]]:
    """helpers.make_notifier, closing every notifier it made after the test."""
    made: list[Notifier] = []

    def build(*args: Any, **kwargs: Any) -> tuple[Notifier, CollectorRegistry]:
        notifier, registry = make_notifier(*args, **kwargs)
        made.append(notifier)
        return notifier, registry

    yield build
    for notifier in made:
        notifier.close()

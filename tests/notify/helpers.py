"""Building blocks for the notifier tests: configs, results, a settable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from driftwatch.checks.base import CheckResult, Status
from driftwatch.config import AlertsConfig
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.notify.service import Notifier
from driftwatch.state.db import StateDB
from tests.support.loopback import LoopbackServer, Reply, Request

# Slack puts the webhook's credential in the path; this token must never leak.
SECRET = "xS3cr3tT0kenNeverLogged"
HOOK_PATH = f"/services/T0001/B0002/{SECRET}"
RUNBOOK = "https://example.invalid/runbook.md"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def slack_ok(_: Request) -> Reply:
    return Reply(200, b"ok", {"Content-Type": "text/plain"})


class Clock:
    """A clock the test moves by hand (renotify intervals, retry schedules)."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def alerts_config(server: LoopbackServer | str | None, **slack: Any) -> AlertsConfig:
    """AlertsConfig with Slack pointed at the loopback server or a URL (None: Slack off)."""
    if server is None:
        return AlertsConfig.model_validate({"runbook_base_url": RUNBOOK})
    url = server if isinstance(server, str) else server.url(HOOK_PATH)
    # group_wait 0s: these tests see each call's messages at once; grouping has its own tests.
    settings = {"webhook_url": url, "timeout": "2s", "group_wait": "0s", **slack}
    return AlertsConfig.model_validate({"slack": settings, "runbook_base_url": RUNBOOK})


def make_notifier(
    db: StateDB,
    server: LoopbackServer | str | None,
    clock: Clock | None = None,
    client: httpx.Client | None = None,
    stores: dict[str, str] | None = None,
    **slack: Any,
) -> tuple[Notifier, CollectorRegistry]:
    registry = CollectorRegistry()
    notifier = Notifier(
        alerts_config(server, **slack),
        db,
        DriftwatchMetrics(registry),
        client=client,
        clock=clock or Clock(),
        stores=stores,
    )
    return notifier, registry


def result(
    status: Status,
    check: str = "fingerprint",
    collection: str = "docs",
    value: float | None = 0.21,
    threshold: float | None = 0.8,
    message: str = "live query vectors no longer match the baseline",
) -> CheckResult:
    return CheckResult(
        check=check,
        collection=collection,
        status=status,
        value=value,
        threshold=threshold,
        detail={},
        started_at=START,
        duration_s=0.1,
        message=message,
    )


def sample(registry: CollectorRegistry, name: str, channel: str = "slack") -> float | None:
    return registry.get_sample_value(name, {"channel": channel})


def received(server: LoopbackServer) -> list[dict[str, Any]]:
    """The JSON bodies Slack received, in order."""
    return [req.json() for req in server.requests_to(HOOK_PATH)]

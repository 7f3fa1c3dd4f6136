"""Block Kit building and single delivery attempts against a real HTTP server."""

from __future__ import annotations

import logging
import socket
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftwatch.checks.registry import CHECKS
from driftwatch.errors import NotifyError, NotifyRetryLater, WebhookRejected
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.notify.slack import (
    CHECK_FAILING,
    DEPRECATION_ALERTS,
    CheckAlert,
    RedactingFilter,
    SlackWebhook,
    alert_name,
    check_message,
    deprecation_message,
)
from tests.notify.helpers import HOOK_PATH, RUNBOOK, SECRET, START
from tests.support.loopback import LoopbackServer, Reply


def alert(**overrides: object) -> CheckAlert:
    fields: dict[str, object] = {
        "collection": "docs",
        "check": "fingerprint",
        "status": "drift",
        "severity": "critical",
        "value": 0.2134,
        "threshold": 0.8,
        "message": "cosine 0.21 < 0.80: the query model <was> replaced & more",
        "alert": alert_name("fingerprint", "drift"),
        "previous": None,
        "since": START,
        "reminder": False,
    }
    fields.update(overrides)
    return CheckAlert(**fields)  # type: ignore[arg-type]


def texts(payload: dict[str, Any]) -> list[str]:
    """Every visible text in a Block Kit payload."""
    out = []
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields", [])]
        out += [e["text"] for e in block.get("elements", [])]
    return out


def test_alert_names_follow_the_prometheus_rules() -> None:
    assert alert_name("fingerprint", "drift") == "DriftwatchQueryModelReplaced"
    assert alert_name("fingerprint", "warning") == "DriftwatchQueryModelChanged"
    assert alert_name("consistency", "drift") == "DriftwatchIndexQueryMismatch"
    assert alert_name("canary", "drift") == "DriftwatchCanaryQualityDropped"
    assert alert_name("score_distribution", "warning") == "DriftwatchScoreDistributionShifted"
    assert alert_name("version_mix", "drift") == "DriftwatchMixedEmbeddingModels"
    assert alert_name("version_mix", "warning") == "DriftwatchUntaggedRecords"
    assert alert_name("dimension", "drift") == "DriftwatchDimensionMismatch"
    assert alert_name("canary", "error") == "DriftwatchCheckFailing"


def test_firing_message_has_severity_value_threshold_why_and_runbook() -> None:
    payload = check_message([alert()], "firing", RUNBOOK)
    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["text"].startswith(":red_circle: CRITICAL · docs: fingerprint")
    shown = "\n".join(texts(payload))
    assert "*Value*\n0.2134" in shown
    assert "*Threshold*\n0.8" in shown
    # The why, with Slack's control characters escaped.
    assert "the query model &lt;was&gt; replaced &amp; more" in shown
    assert f"<{RUNBOOK}#driftwatchquerymodelreplaced|Runbook: DriftwatchQueryModelReplaced>" in (
        shown
    )
    assert payload["text"].startswith("[CRITICAL] driftwatch docs: fingerprint firing")
    assert "query model <was> replaced" in payload["text"]  # the fallback is plain text


def test_grouped_message_lists_each_alert_and_takes_the_worst_severity() -> None:
    warn = alert(check="canary", status="warning", severity="warning", alert="X")
    payload = check_message([warn, alert()], "firing", RUNBOOK)
    assert "CRITICAL · docs: canary, fingerprint firing" in payload["blocks"][0]["text"]["text"]
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert [s["text"]["text"].split("*")[1] for s in sections] == ["canary", "fingerprint"]


def test_resolved_and_reminder_messages_say_so() -> None:
    resolved = check_message([alert(status="ok", previous="drift")], "resolved", RUNBOOK)
    assert resolved["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED · docs")
    assert "ok now (was drift)" in "\n".join(texts(resolved))
    reminder = check_message([alert(reminder=True)], "firing", RUNBOOK)
    assert "fingerprint still firing" in reminder["blocks"][0]["text"]["text"]


def test_long_texts_are_cut_to_slacks_limits() -> None:
    payload = check_message([alert(collection="c" * 400, message="m" * 5000)], "firing", RUNBOOK)
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert all(len(t) <= 3000 for t in texts(payload))
    many = check_message([alert(check=f"check{i}") for i in range(40)], "firing", RUNBOOK)
    assert len(many["blocks"]) <= 50
    assert "25 more alerts for docs not shown" in "\n".join(texts(many))


def test_deprecation_message() -> None:
    event = DeprecationEvent(
        model="text-embedding-ada-002",
        provider="openai",
        feed="openai-deprecations",
        title="Embedding models retirement",
        link="https://example.invalid/deprecations",
        deprecated_on=date(2026, 1, 4),
        shutdown_on=date(2026, 3, 6),
        earliest_shutdown_on=None,
        needs_review=True,
        conflict=False,
        changed=True,
    )
    payload = deprecation_message(event, "critical", date(2026, 3, 1), RUNBOOK)
    header = payload["blocks"][0]["text"]["text"]
    assert (
        header == ":red_circle: CRITICAL · text-embedding-ada-002 shuts down 2026-03-06 (in 5 days)"
    )
    shown = "\n".join(texts(payload))
    assert "<https://example.invalid/deprecations|Embedding models retirement>" in shown
    assert "confirm it applies" in shown
    assert "dates changed" in shown
    assert "#driftwatchmodelshutdownimminent|" in shown
    # Without a replacement the way out is still named.
    assert "plan it with `driftwatch migrate plan`" in shown
    # From the day itself, the alert Prometheus fires for a date that has passed.
    past = texts(deprecation_message(event, "critical", date(2026, 3, 6), RUNBOOK))
    assert "#driftwatchmodelshutdown|" in "\n".join(past)


def test_deprecation_message_says_where_to_migrate() -> None:
    event = DeprecationEvent(
        model="text-embedding-ada-002",
        provider="openai",
        feed="catalog",
        title="text-embedding-ada-002: deprecated",
        link=None,
        deprecated_on=None,
        shutdown_on=date(2026, 6, 30),
        earliest_shutdown_on=None,
        needs_review=False,
        conflict=True,
        changed=False,
        replacement="text-embedding-3-small",
        conflict_detail="sources disagree: azure ≥ 2026-10-30; catalog 2026-06-30",
    )
    payload = deprecation_message(event, "info", date(2026, 3, 1), RUNBOOK)
    shown = "\n".join(texts(payload))
    assert "migrate to text-embedding-3-small: plan it with `driftwatch migrate plan`" in shown
    assert "sources disagree: azure ≥ 2026-10-30; catalog 2026-06-30" in shown
    assert "*Migrate to*\ntext-embedding-3-small" in shown


# --- delivery -----------------------------------------------------------------


@pytest.fixture
def server(slack: LoopbackServer) -> LoopbackServer:
    return slack


def post(server: LoopbackServer, reply: Reply, timeout: float = 2.0) -> None:
    server.route(HOOK_PATH, lambda _: reply)
    with httpx.Client(timeout=timeout) as client:
        SlackWebhook(server.url(HOOK_PATH), client).post({"text": "hello"})


def test_200_ok_is_accepted_and_the_json_arrives(server: LoopbackServer) -> None:
    post(server, Reply(200, b"ok"))
    (req,) = server.requests_to(HOOK_PATH)
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    assert req.json() == {"text": "hello"}


def test_429_honours_retry_after(server: LoopbackServer) -> None:
    with pytest.raises(NotifyRetryLater) as info:
        post(server, Reply(429, b"rate_limited", {"Retry-After": "17"}))
    assert info.value.retry_after_s == 17.0
    assert "HTTP 429 rate_limited" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, b"invalid_payload"), (403, b"invalid_token"), (404, b"no_service"), (410, b"")],
)
def test_4xx_is_a_rejection(server: LoopbackServer, status: int, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as info:
        post(server, Reply(status, body))
    assert f"HTTP {status}" in str(info.value)
    assert body.decode() in str(info.value)
    assert str(info.value).startswith(f"Slack webhook {server.url('')}/…")
    assert SECRET not in str(info.value)


def test_500_is_retryable(server: LoopbackServer) -> None:
    with pytest.raises(NotifyError) as info:
        post(server, Reply(500, b"internal_error"))
    assert not isinstance(info.value, WebhookRejected | NotifyRetryLater)
    assert SECRET not in str(info.value)


def test_timeout_is_retryable(server: LoopbackServer) -> None:
    with pytest.raises(NotifyError, match="timed out") as info:
        post(server, Reply(200, b"ok", delay_s=1.0), timeout=0.2)
    assert SECRET not in str(info.value)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
    with httpx.Client(timeout=2) as client, pytest.raises(NotifyError) as info:
        SlackWebhook(url, client).post({"text": "hello"})
    assert "ConnectError" in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None  # httpx's exception (with the URL) is not chained


def test_httpx_request_log_lines_are_redacted(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.url(HOOK_PATH)
    redacting = RedactingFilter(url)
    logging.getLogger("httpx").addFilter(redacting)
    try:
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx"):
            post(server, Reply(200, b"ok"))
    finally:
        logging.getLogger("httpx").removeFilter(redacting)
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests, "httpx logs each request at INFO; the filter must see it"
    assert f"POST {server.url('')}/…" in requests[0]
    assert SECRET not in caplog.text


def test_every_linked_alert_has_a_runbook_section_and_a_rule() -> None:
    root = Path(__file__).resolve().parents[2] / "alerts"
    sections = {
        line.removeprefix("## ").strip()
        for line in (root / "runbook.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    rules = (root / "driftwatch.rules.yml").read_text(encoding="utf-8")
    checks = {alert for spec in CHECKS.values() for alert in spec.alerts}
    linked = {*checks, CHECK_FAILING, *DEPRECATION_ALERTS.values()}
    assert linked <= sections
    assert all(f"alert: {name}\n" in rules for name in linked)

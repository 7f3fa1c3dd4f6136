"""Slack incoming-webhook messages: Block Kit building and one delivery attempt.

A message carries Block Kit ``blocks`` (what people read) and a plain ``text``
(what notifications, screen readers and old clients show). Each alert in it
names severity, collection, check, the headline value against its threshold,
the check's own sentence (the why) and a link to its runbook section, whose
anchor is the Prometheus alert's name, so both alert paths lead to the same
instructions.

The webhook URL is a secret (Slack puts the credential in its path): it never
appears in an exception, a log line or a stored error; ``redact_url`` shows
only scheme and host.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx

from driftwatch.checks.registry import CHECKS
from driftwatch.config import Severity
from driftwatch.errors import NotifyError, NotifyRetryLater, WebhookRejected
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.notify.policy import RETRY_AFTER_CAP_S, worst
from driftwatch.redact import redact_url
from driftwatch.retry import retry_after_seconds

# Slack's limits: header text 150 chars, section text 3000, 50 blocks a message.
HEADER_MAX = 150
SECTION_MAX = 3000
MAX_ALERTS_PER_MESSAGE = 15  # 3 blocks each, plus the header and a context line
DEFAULT_RETRY_AFTER_S = 30.0

SEVERITY_ICON: dict[Severity, str] = {
    "critical": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}

CHECK_FAILING = "DriftwatchCheckFailing"
DEPRECATION_ALERTS: dict[Severity, str] = {
    "info": "DriftwatchModelDeprecationAnnounced",
    "warning": "DriftwatchModelShutdownSoon",
    "critical": "DriftwatchModelShutdownImminent",
}
SHUT_DOWN = "DriftwatchModelShutDown"  # the date has passed

log = logging.getLogger(__name__)


def alert_name(check: str, status: str) -> str:
    """The Prometheus alert (and runbook section) for a check's firing status."""
    spec = CHECKS.get(check)
    alert = spec.alert_for(status) if spec is not None else None
    return alert or CHECK_FAILING


def runbook_url(base_url: str, alert: str) -> str:
    """Runbook link; sections are headed by the alert name, anchors are lower-cased."""
    return f"{base_url}#{alert.lower()}"


@dataclass(frozen=True)
class CheckAlert:
    """One check's state change or reminder, as shown in a message."""

    collection: str
    check: str
    status: str  # the status now (ok for a resolved alert)
    severity: Severity  # of the firing status (for a resolved one: the status that ended)
    value: float | None
    threshold: float | None
    message: str
    alert: str  # Prometheus alert name
    previous: str | None  # the status notified before, if it changed
    since: datetime
    reminder: bool


def check_message(alerts: Sequence[CheckAlert], kind: str, runbook_base: str) -> dict[str, Any]:
    """One Slack message for alerts of one collection that fired (or resolved) together."""
    shown = list(alerts[:MAX_ALERTS_PER_MESSAGE])
    collection = shown[0].collection
    checks = ", ".join(a.check for a in alerts)
    if kind == "resolved":
        title = f":white_check_mark: RESOLVED · {collection}: {checks}"
        fallback = f"[RESOLVED] driftwatch {collection}: {checks}"
    else:
        sev = worst([a.severity for a in alerts])
        label = "still firing" if all(a.reminder for a in alerts) else "firing"
        title = f"{SEVERITY_ICON[sev]} {sev.upper()} · {collection}: {checks} {label}"
        fallback = f"[{sev.upper()}] driftwatch {collection}: {checks} {label}"
    blocks: list[dict[str, Any]] = [_header(title)]
    lines = [fallback]
    for a in shown:
        blocks += _check_blocks(a, kind, runbook_base)
        lines.append(f"- {a.check}: {_status_phrase(a, kind)}. {a.message}")
    if len(alerts) > len(shown):
        more = f"{len(alerts) - len(shown)} more alerts for {collection} not shown"
        blocks.append(_context(_escape(more)))
        lines.append(more)
    return {"text": "\n".join(lines), "blocks": blocks}


def deprecation_message(
    event: DeprecationEvent, severity: Severity, today: date, runbook_base: str
) -> dict[str, Any]:
    """One Slack message for a deprecation notice that matches a model in use."""
    shutdown = event.earliest_shutdown_on or event.shutdown_on
    # On the day and after it, Prometheus' DriftwatchModelShutDown fires (midnight UTC).
    alert = (
        SHUT_DOWN if shutdown is not None and shutdown <= today else DEPRECATION_ALERTS[severity]
    )
    if shutdown is None:
        when = "no shutdown date announced"
    else:
        days = (shutdown - today).days
        when = f"shuts down {shutdown.isoformat()} ({_days(days)})"
    title = f"{SEVERITY_ICON[severity]} {severity.upper()} · {event.model} {when}"
    fallback = f"[{severity.upper()}] driftwatch: {event.model} ({event.provider}) {when}"
    notes = []
    if event.changed:
        notes.append("the notice was edited: its dates changed since the last message")
    if event.needs_review:
        notes.append("matched only through a model-family alias: confirm it applies")
    if event.conflict:
        notes.append(event.conflict_detail or "sources announce different shutdown dates")
    # The way out: the notice's replacement, and the command that plans the re-embedding.
    notes.append(
        (f"migrate to {event.replacement}: " if event.replacement else "")
        + "plan it with `driftwatch migrate plan`"
    )
    source = f"<{event.link}|{_escape(event.title)}>" if event.link else _escape(event.title)
    body = f"*{_escape(event.model)}* ({_escape(event.provider)}): {source}"
    body += "".join(f"\n• {_escape(n)}" for n in notes)
    fields = [
        _field("Deprecated", event.deprecated_on.isoformat() if event.deprecated_on else "-"),
        _field("Shutdown", shutdown.isoformat() if shutdown else "not announced"),
        _field("Migrate to", event.replacement or "-"),
        _field("Feed", event.feed),
    ]
    blocks = [
        _header(title),
        {"type": "section", "text": _mrkdwn(body), "fields": fields},
        _context(f"<{runbook_url(runbook_base, alert)}|Runbook: {alert}>"),
    ]
    text = "\n".join([fallback, event.title, *notes])
    return {"text": text, "blocks": blocks}


class SlackWebhook:
    """Posts messages to one incoming webhook; one call is one delivery attempt."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self._url = url
        self._client = client
        self.shown = redact_url(url)

    def post(self, payload: dict[str, Any]) -> None:
        """Return when Slack accepted the message (any 2xx; Slack answers 200 "ok").

        Raises NotifyRetryLater on 429, WebhookRejected on other 4xx (sending
        the same message again cannot succeed), NotifyError otherwise.
        """
        try:
            response = self._client.post(self._url, json=payload)
        except httpx.TimeoutException as exc:
            raise NotifyError(f"Slack webhook {self.shown}: timed out ({_kind(exc)})") from None
        except httpx.HTTPError as exc:
            raise NotifyError(
                f"Slack webhook {self.shown}: {_kind(exc)}: {self._scrub(str(exc))}"
            ) from None
        if response.is_success:
            return
        reason = self._scrub(response.text.strip()[:200]) or response.reason_phrase
        what = f"Slack webhook {self.shown}: HTTP {response.status_code} {reason}"
        if response.status_code == 429:
            asked = retry_after_seconds(response.headers, RETRY_AFTER_CAP_S)
            delay = DEFAULT_RETRY_AFTER_S if asked is None else max(asked, 1.0)
            raise NotifyRetryLater(what, delay)
        if 400 <= response.status_code < 500 and response.status_code != 408:
            raise WebhookRejected(what)
        raise NotifyError(what)

    def _scrub(self, text: str) -> str:
        return text.replace(self._url, self.shown)


def _check_blocks(a: CheckAlert, kind: str, runbook_base: str) -> list[dict[str, Any]]:
    heading = f"*{_escape(a.check)}* on *{_escape(a.collection)}*: {_status_phrase(a, kind)}"
    text = f"{heading}\n{_escape(a.message)}"
    fields = [_field("Value", _number(a.value)), _field("Threshold", _number(a.threshold))]
    since = a.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    context = f"<{runbook_url(runbook_base, a.alert)}|Runbook: {a.alert}> · since {since}"
    return [
        {"type": "section", "text": _mrkdwn(text), "fields": fields},
        _context(context),
        {"type": "divider"},
    ]


def _status_phrase(a: CheckAlert, kind: str) -> str:
    if kind == "resolved":
        was = f"was {a.previous}" if a.previous else "resolved"
        return f"{a.status} now ({was})"
    phrase = f"{a.status} ({a.severity})"
    if a.previous and a.previous not in ("ok", a.status):
        phrase += f", was {a.previous}"
    if a.reminder:
        phrase += ", still firing"
    return phrase


def _header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_MAX:
        text = text[: HEADER_MAX - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _mrkdwn(text: str) -> dict[str, str]:
    if len(text) > SECTION_MAX:
        text = text[: SECTION_MAX - 1] + "…"
    return {"type": "mrkdwn", "text": text}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _field(name: str, value: str) -> dict[str, str]:
    return _mrkdwn(f"*{name}*\n{_escape(value)}")


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; anything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _days(days: int) -> str:
    if days < 0:
        return f"{-days} days ago"
    return "today" if days == 0 else f"in {days} days"


def _kind(exc: Exception) -> str:
    return type(exc).__name__


class RedactingFilter(logging.Filter):
    """Rewrites log records (httpx logs every request URL at INFO) to hide the webhook."""

    def __init__(self, url: str) -> None:
        super().__init__()
        path = httpx.URL(url).path
        # Longest first: the whole URL as written and as httpx prints it, then its path.
        self._secrets = sorted({url, str(httpx.URL(url)), path} - {"", "/"}, key=len, reverse=True)
        self._shown = redact_url(url)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, self._shown if "://" in secret else "/…")
            record.msg, record.args = message, None
        return True

"""The Notifier: check results and deprecation notices in, Slack messages out.

Two halves joined by the ``outbox`` table, so nothing is lost on a crash:

- ``on_results`` holds each collection's results for ``group_wait`` (30 s by
  default, like Alertmanager's group_wait), so that what the checks of one
  probe cycle find (each check is its own job) becomes ONE message per
  collection, and what they resolve ONE resolve message; a problem that
  appears and clears within the window is not sent at all. Results of an
  unreachable store are not per-check alerts: the store gets one message of
  its own (fingerprint ``store/<name>``), which fires when the outage repeats
  on the next cycle and resolves when the store answers again;
- when the window ends (``flush_due``, called by ``deliver_due``), and for
  ``on_deprecations`` at once, the Notifier decides what to say
  (notify/policy.py) and writes the messages and the new ``alert_state`` in
  ONE transaction. Results still waiting in memory when the process dies
  changed no state, so the next cycle finds and sends them again;
- ``deliver_due`` claims one due message at a time (a lease, so two replicas
  never send the same row), posts it, and marks it sent right after Slack's
  2xx. Failures are retried with exponential backoff and full jitter, 429
  waits for Retry-After, a 4xx rejection or ``max_attempts`` failures make
  the message ``undeliverable``: kept and counted, never dropped.

Delivery is at least once: if the process dies between Slack's answer and
the commit that marks the message sent (one short UPDATE), the message is
sent again once its lease expires. Nothing committed is ever lost.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from driftwatch.checks.base import CheckResult
from driftwatch.config import AlertsConfig, SlackConfig
from driftwatch.errors import (
    NotifyError,
    NotifyRetryLater,
    StateError,
    WebhookRejected,
    store_unreachable,
)
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.notify import outbox
from driftwatch.notify.policy import (
    Action,
    AlertState,
    Decision,
    decide_check,
    decide_deprecation,
    deprecation_severity,
    retry_delay_s,
    worst,
)
from driftwatch.notify.slack import (
    CheckAlert,
    RedactingFilter,
    SlackWebhook,
    alert_name,
    check_message,
    deprecation_message,
)
from driftwatch.state.db import StateDB
from driftwatch.state.owner import new_owner

log = logging.getLogger(__name__)
# A claim outlives the slowest possible send (connect + write + read timeouts)
# so a live replica never loses its claim mid-send.
LEASE_TIMEOUTS = 3
LEASE_MARGIN = timedelta(seconds=2)
STORE_ALERT = "DriftwatchStoreDown"


@dataclass
class _Waiting:
    """One collection's results held until its group window ends."""

    due: datetime
    results: list[CheckResult] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """Turns results and notices into Slack messages via the persistent outbox.

    With ``config.slack`` unset it enqueues and sends nothing.
    """

    def __init__(
        self,
        config: AlertsConfig,
        db: StateDB,
        metrics: DriftwatchMetrics,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        stores: Mapping[str, str] | None = None,
    ) -> None:
        """``stores`` maps each collection to its store's name (for store-level messages)."""
        self._config = config
        self._db = db
        self._metrics = metrics
        self._clock = clock or _utcnow
        self._stores = dict(stores or {})
        self._owner = new_owner()
        self._waiting: dict[str, _Waiting] = {}
        self._waiting_lock = threading.Lock()
        self._rng = random.Random()
        self._own_client: httpx.Client | None = None
        self._webhook: SlackWebhook | None = None
        self._log_filter: RedactingFilter | None = None
        slack = config.slack
        if slack is None:
            return
        url = slack.webhook_url.get_secret_value()
        if client is None:
            client = httpx.Client(timeout=slack.timeout.total_seconds(), follow_redirects=False)
            self._own_client = client
        self._webhook = SlackWebhook(url, client)
        self._log_filter = RedactingFilter(url)
        logging.getLogger("httpx").addFilter(self._log_filter)
        self._lease = slack.timeout * LEASE_TIMEOUTS + LEASE_MARGIN
        # Export the series from the start, so rate() and absent() work before the first send.
        metrics.notifications_sent.labels(slack.channel_name)
        metrics.notifications_failed.labels(slack.channel_name)

    def on_results(self, results: Sequence[CheckResult]) -> int:
        """Take results of check runs; returns how many messages were queued now.

        With ``group_wait`` > 0 they wait (0 queued) until their collection's
        window ends; ``flush_due`` then decides and queues them together.
        """
        slack = self._config.slack
        if slack is None or not results:
            return 0
        if slack.group_wait <= timedelta(0):
            return self._decide(results)
        now = self._clock()
        with self._waiting_lock:
            for result in results:
                waiting = self._waiting.setdefault(
                    result.collection, _Waiting(now + slack.group_wait)
                )
                waiting.results.append(result)
        return 0

    def flush_due(self, *, everything: bool = False) -> int:
        """Decide and queue the groups whose window has ended (all with ``everything``).

        Returns how many messages were queued. If the state DB cannot take
        them, they are dropped with an error log: no alert state changed, so
        the next cycle's results find and send the same alerts.
        """
        now = self._clock()
        with self._waiting_lock:
            due = [c for c, w in self._waiting.items() if everything or w.due <= now]
            results = [r for c in due for r in self._waiting.pop(c).results]
        if not results:
            return 0
        try:
            return self._decide(results)
        except StateError as exc:
            log.error(
                "cannot queue notifications for %s: %s",
                ", ".join(due),
                exc,
                extra={"event": "notify_failed"},
            )
            return 0

    def _decide(self, results: Sequence[CheckResult]) -> int:
        """Apply the policy to results in order and queue one message per collection
        and kind (firing, resolved), plus one per store that is down or back."""
        slack = self._config.slack
        assert slack is not None
        now = self._clock()
        queued = 0
        by_collection: dict[str, list[CheckResult]] = {}
        store_down: dict[str, list[CheckResult]] = {}
        for result in results:
            store = self._stores.get(result.collection)
            if store is not None:
                store_down.setdefault(store, [])
                if result.status == "error" and store_unreachable(result.detail.get("error")):
                    store_down[store].append(result)
                    continue  # the store's own message says it; the checks stay quiet
            by_collection.setdefault(result.collection, []).append(result)
        fingerprints = [_fingerprint(r) for r in results] + [_store_fp(s) for s in store_down]
        with self._db.session() as session:
            states = outbox.load_states(session, slack.channel_name, fingerprints)
            for collection_results in by_collection.values():
                groups: dict[Action, dict[str, CheckAlert]] = {"firing": {}, "resolved": {}}
                for result in collection_results:
                    decision = self._apply(session, states, _fingerprint(result), result, now)
                    if decision.action is not None:
                        _group(groups, decision.action, _check_alert(result, decision))
                for kind, alerts in groups.items():
                    if alerts:
                        self._enqueue_checks(session, slack, kind, list(alerts.values()), now)
                        queued += 1
            for store, failures in store_down.items():
                queued += self._store_message(session, states, store, failures, now)
        return queued

    def _apply(
        self,
        session: Session,
        states: dict[str, AlertState],
        fingerprint: str,
        result: CheckResult,
        now: datetime,
    ) -> Decision:
        slack = self._config.slack
        assert slack is not None
        prev = states.get(fingerprint)
        decision = decide_check(prev, result.status, now, slack.renotify, slack.min_severity)
        if decision.state != prev:
            outbox.save_state(session, slack.channel_name, fingerprint, decision.state)
            if decision.state is not None:
                states[fingerprint] = decision.state
            else:
                states.pop(fingerprint, None)
        return decision

    def _store_message(
        self,
        session: Session,
        states: dict[str, AlertState],
        store: str,
        failures: list[CheckResult],
        now: datetime,
    ) -> int:
        """One message when a store stays unreachable (error rules: fires on the repeat),
        one when it answers again."""
        slack = self._config.slack
        assert slack is not None
        collections = sorted({r.collection for r in failures})
        message = (
            f"store {store} unreachable, {len(collections)} collection(s) cannot be checked "
            f"({', '.join(collections)}): {failures[0].message}"
            if failures
            else f"store {store} answers again"
        )
        probe = CheckResult(
            check="store",
            collection=f"store {store}",
            status="error" if failures else "ok",
            value=None,
            threshold=None,
            detail={},
            started_at=now,
            duration_s=0.0,
            message=message,
        )
        decision = self._apply(session, states, _store_fp(store), probe, now)
        if decision.action is None:
            return 0
        alert = replace(_check_alert(probe, decision), alert=STORE_ALERT)
        self._enqueue_checks(session, slack, decision.action, [alert], now)
        return 1

    def on_deprecations(self, events: Sequence[DeprecationEvent]) -> int:
        """Record deprecation notices; each one that fires gets its own message."""
        slack = self._config.slack
        if slack is None or not events:
            return 0
        now = self._clock()
        queued = 0
        with self._db.session() as session:
            states = outbox.load_states(
                session, slack.channel_name, [e.fingerprint for e in events]
            )
            for event in events:
                severity = deprecation_severity(
                    event.earliest_shutdown_on or event.shutdown_on, now.date()
                )
                prev = states.get(event.fingerprint)
                decision = decide_deprecation(
                    prev, severity, event.changed, now, slack.min_severity
                )
                if decision.state is not None and decision.state != prev:
                    outbox.save_state(
                        session, slack.channel_name, event.fingerprint, decision.state
                    )
                    states[event.fingerprint] = decision.state
                if decision.action is None:
                    continue
                payload = deprecation_message(
                    event, severity, now.date(), self._config.runbook_base_url
                )
                outbox.enqueue(
                    session,
                    channel=slack.channel_name,
                    fingerprint=event.fingerprint,
                    kind="firing",
                    severity=severity,
                    payload=payload,
                    now=now,
                )
                queued += 1
        return queued

    def deliver_due(self, max_messages: int = 50) -> int:
        """Queue the groups whose window ended, then send up to ``max_messages`` due
        messages; returns how many Slack accepted.

        Stops at the first failure that is not the message's own fault (the
        receiver is down or rate limiting): the rest wait for the next round.
        """
        slack, webhook = self._config.slack, self._webhook
        if slack is None or webhook is None:
            return 0
        self.flush_due()
        channel = slack.channel_name
        sent = 0
        for _ in range(max_messages):
            with self._db.session() as session:
                message = outbox.claim_next(
                    session, channel, self._owner, self._clock(), self._lease
                )
            if message is None:
                break
            try:
                webhook.post(message.payload)
            except NotifyError as exc:
                self._metrics.notifications_failed.labels(channel).inc()
                if not self._failed(slack, message, exc):
                    break
                continue
            except Exception as exc:  # a bug must not block the outbox or kill the daemon
                log.exception("unexpected error sending notification %d", message.id)
                self._metrics.notifications_failed.labels(channel).inc()
                self._failed(slack, message, NotifyError(f"{type(exc).__name__} while sending"))
                break
            with self._db.session() as session:
                outbox.mark_sent(session, message.id, self._clock())
            self._metrics.notifications_sent.labels(channel).inc()
            sent += 1
        return sent

    def refresh_metrics(self) -> None:
        """Outbox depth, oldest pending age and undeliverable count from the state DB."""
        slack = self._config.slack
        if slack is None:
            return
        with self._db.session() as session:
            stats = outbox.stats(session, slack.channel_name)
        oldest_age = 0.0
        if stats.oldest_pending_at is not None:
            oldest_age = max((self._clock() - stats.oldest_pending_at).total_seconds(), 0.0)
        channel = slack.channel_name
        self._metrics.notifications_pending.labels(channel).set(stats.pending)
        self._metrics.notifications_oldest_pending_age.labels(channel).set(oldest_age)
        self._metrics.notifications_undeliverable.labels(channel).set(stats.undeliverable)

    def close(self) -> None:
        """Queue what still waits for its window (sent by the next deliver, or the next
        process), then release the HTTP client."""
        if self._config.slack is not None:
            self.flush_due(everything=True)
        if self._log_filter is not None:
            logging.getLogger("httpx").removeFilter(self._log_filter)
            self._log_filter = None
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

    def _enqueue_checks(
        self,
        session: Session,
        slack: SlackConfig,
        kind: Action,
        alerts: list[CheckAlert],
        now: datetime,
    ) -> None:
        payload = check_message(alerts, kind, self._config.runbook_base_url)
        fingerprint = ",".join(f"check/{a.collection}/{a.check}" for a in alerts)
        severity = worst([a.severity for a in alerts])
        outbox.enqueue(
            session,
            channel=slack.channel_name,
            fingerprint=fingerprint,
            kind=kind,
            severity=severity,
            payload=payload,
            now=now,
        )

    def _failed(self, slack: SlackConfig, message: outbox.Message, exc: NotifyError) -> bool:
        """Record a failed attempt; True if it was the message's own fault (go on with others)."""
        now = self._clock()
        rejected = isinstance(exc, WebhookRejected)
        if isinstance(exc, NotifyRetryLater):
            # Rate limiting is not the message's fault: it does not use up an attempt.
            counted, retry_at = False, now + timedelta(seconds=exc.retry_after_s)
        else:
            counted = True
            delay = retry_delay_s(message.attempts + 1, self._rng.random())
            retry_at = now + timedelta(seconds=delay)
        undeliverable = rejected or (counted and message.attempts + 1 >= slack.max_attempts)
        with self._db.session() as session:
            outbox.mark_failed(
                session,
                message.id,
                str(exc),
                retry_at,
                counted=counted,
                undeliverable=undeliverable,
            )
        if undeliverable:
            log.error(
                "notification %d (%s) is undeliverable after %d attempts, kept in the outbox: %s",
                message.id,
                message.fingerprint,
                message.attempts + 1,
                exc,
            )
        else:
            log.warning(
                "notification %d (%s) not delivered, retrying at %s: %s",
                message.id,
                message.fingerprint,
                retry_at.isoformat(timespec="seconds"),
                exc,
            )
        return rejected


def _fingerprint(result: CheckResult) -> str:
    return f"check/{result.collection}/{result.check}"


def _store_fp(store: str) -> str:
    return f"store/{store}"


def _group(groups: dict[Action, dict[str, CheckAlert]], kind: Action, alert: CheckAlert) -> None:
    """Add ``alert`` to this window's messages; a later change of the same check wins.

    A check that newly fired and resolved within one window was never sent: it
    drops out of both messages (a reminder or an escalation of something sent
    before still resolves). One that resolved and fired again is firing.
    """
    key = alert.check
    fired = groups["firing"].get(key)
    if kind == "resolved" and fired is not None:
        del groups["firing"][key]
        if not fired.reminder and fired.previous is None:
            return
    groups["resolved" if kind == "firing" else "firing"].pop(key, None)
    groups[kind][key] = alert


def _check_alert(result: CheckResult, decision: Decision) -> CheckAlert:
    prev: AlertState | None = decision.previous
    if decision.action == "resolved":
        assert prev is not None  # only a notified status can be resolved
        return CheckAlert(
            collection=result.collection,
            check=result.check,
            status=result.status,
            severity=prev.severity,
            value=result.value,
            threshold=result.threshold,
            message=result.message,
            alert=alert_name(result.check, prev.status),
            previous=prev.status,
            since=prev.since,
            reminder=False,
        )
    state = decision.state
    assert state is not None  # a firing decision always carries its state
    same = prev is not None and prev.status == result.status
    return CheckAlert(
        collection=result.collection,
        check=result.check,
        status=result.status,
        severity=state.severity,
        value=result.value,
        threshold=result.threshold,
        message=result.message,
        alert=alert_name(result.check, result.status),
        previous=prev.status if prev is not None and prev.open and not same else None,
        since=state.since,
        reminder=same and prev is not None and prev.open,
    )

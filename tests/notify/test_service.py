"""The Notifier end to end: results in, Slack messages out through the outbox.

Slack is a real HTTP server on 127.0.0.1 (tests/support/loopback.py); the
state DB is real SQLite, and PostgreSQL where claiming matters.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chromadb
import pytest
from prometheus_client import generate_latest
from sqlalchemy import select

from driftwatch.checks.base import CheckContext
from driftwatch.checks.version_mix import check_version_mix
from driftwatch.config import ChromaStoreConfig, CollectionConfig
from driftwatch.feeds.events import DeprecationEvent
from driftwatch.state.db import StateDB, open_state
from driftwatch.state.models import AlertStateRow, OutboxRow
from driftwatch.stores.chroma import ChromaStore, chroma_settings
from tests.notify.helpers import (
    HOOK_PATH,
    RUNBOOK,
    SECRET,
    START,
    Clock,
    received,
    result,
    sample,
)
from tests.support.loopback import LoopbackServer, Reply, Request
from tests.support.models import MINILM, PARAPHRASE, corpus, embedder

SENT = "driftwatch_notifications_sent_total"
FAILED = "driftwatch_notifications_failed_total"
PENDING = "driftwatch_notifications_pending"
OLDEST = "driftwatch_notifications_oldest_pending_age_seconds"
UNDELIVERABLE = "driftwatch_notifications_undeliverable"


def rows(db: StateDB) -> list[OutboxRow]:
    with db.session() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def headers(server: LoopbackServer) -> list[str]:
    return [body["blocks"][0]["text"]["text"] for body in received(server)]


def all_text(body: dict[str, Any]) -> str:
    parts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e["text"] for e in block.get("elements", [])]
    return "\n".join(parts)


def answer(server: LoopbackServer, *replies: Reply) -> None:
    """Answer the webhook with these replies in turn, then with 200 "ok"."""
    queue = list(replies)

    def handler(_: Request) -> Reply:
        return queue.pop(0) if queue else Reply(200, b"ok")

    server.route(HOOK_PATH, handler)


def test_drift_reaches_slack_once_with_its_evidence(
    state_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, registry = make(state_db, slack, clock)
    assert notifier.on_results([result("drift")]) == 1
    notifier.refresh_metrics()
    assert sample(registry, PENDING) == 1
    assert notifier.deliver_due() == 1
    assert notifier.on_results([result("drift")]) == 0  # still firing: no second message
    assert notifier.deliver_due() == 0

    (body,) = received(slack)
    assert body["blocks"][0]["text"]["text"] == (":red_circle: CRITICAL · docs: fingerprint firing")
    text = all_text(body)
    assert "*fingerprint* on *docs*: drift (critical)" in text
    assert "live query vectors no longer match the baseline" in text
    assert "*Value*\n0.21" in text
    assert "*Threshold*\n0.8" in text
    assert f"<{RUNBOOK}#driftwatchquerymodelreplaced|" in text
    (row,) = rows(state_db)
    assert (row.status, row.attempts, row.kind, row.severity) == ("sent", 1, "firing", "critical")
    assert row.sent_at == START
    notifier.refresh_metrics()
    assert sample(registry, SENT) == 1
    assert sample(registry, FAILED) == 0
    assert sample(registry, PENDING) == 0
    assert sample(registry, OLDEST) == 0
    assert sample(registry, UNDELIVERABLE) == 0


def test_results_of_one_cycle_are_grouped_per_collection(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    notifier, _ = make(sqlite_db, slack)
    cycle = [
        result("drift", "fingerprint"),
        result("warning", "canary", message="overlap@10 0.40 < 0.50"),
        result("ok", "consistency"),
        result("drift", "version_mix", collection="faq", message="2 models"),
    ]
    assert notifier.on_results(cycle) == 2
    assert notifier.deliver_due() == 2
    assert headers(slack) == [
        ":red_circle: CRITICAL · docs: fingerprint, canary firing",
        ":red_circle: CRITICAL · faq: version_mix firing",
    ]
    docs = all_text(received(slack)[0])
    assert "#driftwatchcanaryqualitydropped|" in docs
    assert "overlap@10 0.40 &lt; 0.50" in docs
    assert "consistency" not in docs
    assert "#driftwatchmixedembeddingmodels|" in all_text(received(slack)[1])


def test_still_firing_is_renotified_and_recovery_is_announced(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, renotify="4h")
    queued = []
    for _ in range(5):  # hourly cycles: fires at 0h, reminds at 4h
        queued.append(notifier.on_results([result("drift")]))
        clock.advance(hours=1)
    queued.append(notifier.on_results([result("ok", value=0.99)]))
    queued.append(notifier.on_results([result("ok", value=0.99)]))
    assert queued == [1, 0, 0, 0, 1, 1, 0]
    assert notifier.deliver_due() == 3
    assert headers(slack) == [
        ":red_circle: CRITICAL · docs: fingerprint firing",
        ":red_circle: CRITICAL · docs: fingerprint still firing",
        ":white_check_mark: RESOLVED · docs: fingerprint",
    ]
    resolved = all_text(received(slack)[2])
    assert "ok now (was drift)" in resolved
    assert "*Value*\n0.99" in resolved
    with sqlite_db.session() as session:
        state = session.get_one(AlertStateRow, ("check/docs/fingerprint", "slack"))
        assert (state.status, state.last_notified_at) == ("ok", None)


def test_min_severity_filters_and_errors_wait_for_a_repeat(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    critical_only, _ = make(sqlite_db, slack, min_severity="critical")
    assert critical_only.on_results([result("warning", "canary")]) == 0
    assert critical_only.on_results([result("drift", "canary")]) == 1

    notifier, _ = make(sqlite_db, slack, channel_name="ops")
    assert notifier.on_results([result("error", "consistency", message="store timed out")]) == 0
    assert notifier.on_results([result("error", "consistency", message="store timed out")]) == 1
    assert notifier.deliver_due() == 1
    assert critical_only.deliver_due() == 1
    bodies = {b["blocks"][0]["text"]["text"]: all_text(b) for b in received(slack)}
    assert set(bodies) == {
        ":warning: WARNING · docs: consistency firing",
        ":red_circle: CRITICAL · docs: canary firing",
    }
    assert "#driftwatchcheckfailing|" in bodies[":warning: WARNING · docs: consistency firing"]


def deprecation(shutdown: date | None, **overrides: Any) -> DeprecationEvent:
    fields: dict[str, Any] = {
        "model": "text-embedding-ada-002",
        "provider": "openai",
        "feed": "openai",
        "title": "Embedding models retirement",
        "link": None,
        "deprecated_on": None,
        "shutdown_on": shutdown,
        "earliest_shutdown_on": None,
        "needs_review": False,
        "conflict": False,
        "changed": False,
    }
    fields.update(overrides)
    return DeprecationEvent(**fields)


def test_deprecations_notify_once_per_severity(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, min_severity="info")
    shutdown = START.date() + timedelta(days=40)
    assert notifier.on_deprecations([deprecation(shutdown)]) == 1
    assert notifier.on_deprecations([deprecation(shutdown)]) == 0
    clock.advance(days=15)  # 25 days left: escalates to warning
    assert notifier.on_deprecations([deprecation(shutdown)]) == 1
    clock.advance(days=20)  # 5 days left
    assert notifier.on_deprecations([deprecation(shutdown)]) == 1
    assert notifier.deliver_due() == 3
    assert headers(slack) == [
        ":information_source: INFO · text-embedding-ada-002 shuts down 2026-04-11 (in 40 days)",
        ":warning: WARNING · text-embedding-ada-002 shuts down 2026-04-11 (in 25 days)",
        ":red_circle: CRITICAL · text-embedding-ada-002 shuts down 2026-04-11 (in 5 days)",
    ]
    assert [r.fingerprint for r in rows(sqlite_db)] == [
        "deprecation/openai/text-embedding-ada-002"
    ] * 3


def test_failures_back_off_then_deliver(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, registry = make(sqlite_db, slack, clock)
    notifier.on_results([result("drift"), result("drift", collection="faq")])
    answer(slack, Reply(500, b"internal_error"))
    assert notifier.deliver_due() == 0  # stops after the failure: the receiver is unhealthy
    assert len(received(slack)) == 1
    first = rows(sqlite_db)[0]
    assert (first.status, first.attempts, first.last_error) == (
        "pending",
        1,
        f"Slack webhook {slack.url('')}/…: HTTP 500 internal_error",
    )
    assert START <= first.next_attempt_at <= START + timedelta(seconds=2)
    assert first.claimed_by is None
    clock.advance(seconds=2)
    assert notifier.deliver_due() == 2
    assert [r.status for r in rows(sqlite_db)] == ["sent", "sent"]
    assert sample(registry, FAILED) == 1
    assert sample(registry, SENT) == 2


def test_429_waits_for_retry_after_without_using_an_attempt(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, max_attempts=1)
    notifier.on_results([result("drift")])
    answer(slack, Reply(429, b"rate_limited", {"Retry-After": "120"}))
    assert notifier.deliver_due() == 0
    (row,) = rows(sqlite_db)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        0,
        START + timedelta(seconds=120),
    )
    clock.advance(seconds=119)
    assert notifier.deliver_due() == 0
    assert len(received(slack)) == 1  # not due yet: nothing was sent
    clock.advance(seconds=1)
    assert notifier.deliver_due() == 1


def test_a_message_that_keeps_failing_is_kept_as_undeliverable(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, registry = make(sqlite_db, slack, clock, max_attempts=3)
    notifier.on_results([result("drift")])
    slack.route(HOOK_PATH, lambda _: Reply(503, b"unavailable"))
    for _ in range(5):
        notifier.deliver_due()
        clock.advance(minutes=20)
    assert len(received(slack)) == 3
    (row,) = rows(sqlite_db)
    assert (row.status, row.attempts) == ("undeliverable", 3)
    assert row.payload["blocks"][0]["text"]["text"].endswith("fingerprint firing")
    notifier.refresh_metrics()
    assert sample(registry, UNDELIVERABLE) == 1
    assert sample(registry, PENDING) == 0
    assert sample(registry, FAILED) == 3


def test_a_rejected_message_is_undeliverable_at_once_and_the_next_one_goes_out(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    notifier, registry = make(sqlite_db, slack)
    notifier.on_results([result("drift"), result("drift", collection="faq")])
    answer(slack, Reply(400, b"invalid_payload"))
    assert notifier.deliver_due() == 1
    assert [(r.status, r.attempts) for r in rows(sqlite_db)] == [
        ("undeliverable", 1),
        ("sent", 1),
    ]
    assert str(rows(sqlite_db)[0].last_error).endswith("HTTP 400 invalid_payload")
    notifier.refresh_metrics()
    assert sample(registry, UNDELIVERABLE) == 1


def test_timeouts_and_refused_connections_are_retried(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    clock = Clock()
    notifier, registry = make(sqlite_db, slack, clock, timeout="0.3s")
    notifier.on_results([result("drift")])
    answer(slack, Reply(200, b"ok", delay_s=1.0))
    assert notifier.deliver_due() == 0
    assert "timed out" in str(rows(sqlite_db)[0].last_error)

    with socket.socket() as sock:  # a port with no listener
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    dead = f"http://127.0.0.1:{closed_port}{HOOK_PATH}"
    refused, refused_registry = make(sqlite_db, dead, clock)
    clock.advance(minutes=5)
    assert refused.deliver_due() == 0
    (row,) = rows(sqlite_db)
    assert (row.status, row.attempts) == ("pending", 2)
    assert "ConnectError" in str(row.last_error)
    refused.refresh_metrics()
    assert sample(refused_registry, PENDING) == 1
    assert sample(refused_registry, OLDEST) == 300
    assert sample(registry, FAILED) == 1


def test_the_webhook_url_never_leaks(
    sqlite_db: StateDB, slack: LoopbackServer, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    url = slack.url(HOOK_PATH)
    with caplog.at_level(logging.DEBUG):
        notifier, registry = make(sqlite_db, slack, clock)
        notifier.on_results([result("drift")])
        # A receiver that echoes the request back in its error.
        answer(slack, Reply(500, f"no route for POST {url}".encode()))
        notifier.deliver_due()
        clock.advance(minutes=1)
        notifier.deliver_due()
        notifier.refresh_metrics()
    assert "HTTP Request: POST" in caplog.text  # httpx's own request log went through the filter
    assert "not delivered" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in generate_latest(registry).decode()
    assert all(SECRET not in (r.last_error or "") for r in rows(sqlite_db))
    assert SECRET not in repr(notifier.__dict__)


def test_without_slack_nothing_is_queued_or_sent(sqlite_db: StateDB, make: Any) -> None:
    notifier, registry = make(sqlite_db, None)
    assert notifier.on_results([result("drift")]) == 0
    assert notifier.on_deprecations([deprecation(START.date())]) == 0
    assert notifier.deliver_due() == 0
    notifier.refresh_metrics()
    assert rows(sqlite_db) == []
    assert sample(registry, PENDING) is None


def test_two_replicas_send_each_message_exactly_once(
    state_url: str, slack: LoopbackServer, make: Any
) -> None:
    dbs = [open_state(state_url), open_state(state_url)]
    try:
        replicas = [make(db, slack)[0] for db in dbs]
        replicas[0].on_results([result("drift", collection=f"c{i:02d}") for i in range(20)])
        slack.route(HOOK_PATH, lambda _: Reply(200, b"ok", delay_s=0.02))
        barrier = threading.Barrier(2)
        sent = [0, 0]

        def deliver(i: int) -> None:
            barrier.wait()
            sent[i] = replicas[i].deliver_due()

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        got = sorted(h.split("·")[1].split(":")[0].strip() for h in headers(slack))
        assert got == [f"c{i:02d}" for i in range(20)]
        assert sum(sent) == 20
        assert all(r.status == "sent" for r in rows(dbs[0]))
    finally:
        for db in dbs:
            db.close()


@pytest.mark.slow
def test_a_half_migrated_real_index_reaches_slack(
    tmp_path: Path, sqlite_db: StateDB, slack: LoopbackServer, make: Any
) -> None:
    """Real Chroma, real models: half the records re-embedded with another model."""
    texts = [p["text"] for p in corpus()[:12]]
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=chroma_settings())
    records = client.create_collection("docs", embedding_function=None)
    for model, part in ((MINILM, texts[:6]), (PARAPHRASE, texts[6:])):
        records.add(
            ids=[f"{model}-{i}" for i in range(len(part))],
            embeddings=embedder(model).embed(part),
            documents=part,
            metadatas=[{"embedding_model": model}] * len(part),
        )
    store = ChromaStore("local", ChromaStoreConfig(path=str(tmp_path / "chroma")))
    collection = CollectionConfig(store="local", name="docs", embedder="live")
    try:
        ctx = CheckContext(
            collection=collection,
            store=store.open_collection("docs"),
            embedder=embedder(MINILM),
            check="version_mix",
        )
        verdict = check_version_mix(ctx)
    finally:
        store.close()
    notifier, registry = make(sqlite_db, slack)
    assert notifier.on_results([verdict]) == 1
    assert notifier.deliver_due() == 1
    (body,) = received(slack)
    assert body["blocks"][0]["text"]["text"] == ":red_circle: CRITICAL · docs: version_mix firing"
    text = all_text(body)
    assert "records were embedded by 2 different models" in text
    assert "#driftwatchmixedembeddingmodels|Runbook: DriftwatchMixedEmbeddingModels>" in text
    assert sample(registry, SENT) == 1

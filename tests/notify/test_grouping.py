"""One message per collection per probe cycle: the group window (alerts.slack.group_wait).

Each check is its own scheduled job, so a model swap arrives as three separate
results a few seconds apart; Slack (a real HTTP server on 127.0.0.1) must get
one firing message naming all three, and one resolve message when they clear.
A store outage is one store message, not one alert per check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from driftwatch.notify.service import Notifier
from driftwatch.state.db import StateDB
from tests.notify.helpers import Clock, received, result
from tests.support.loopback import LoopbackServer

Make = Callable[..., tuple[Notifier, CollectorRegistry]]
SWAP = ("fingerprint", "canary", "consistency")


def header(body: dict[str, Any]) -> str:
    return str(body["blocks"][0]["text"]["text"])


def test_one_probe_cycle_is_one_message_and_one_resolve(
    sqlite_db: StateDB, slack: LoopbackServer, make: Make
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, group_wait="30s")
    assert notifier.on_results([result("drift", "fingerprint", collection="faq")]) == 0
    for check in SWAP:  # three jobs of one cycle, seconds apart
        assert notifier.on_results([result("drift", check)]) == 0
        clock.advance(seconds=4)
    assert notifier.deliver_due() == 0  # the window (30 s from the first finding) is open
    assert received(slack) == []
    clock.advance(seconds=20)
    assert notifier.deliver_due() == 2  # docs, and faq: per collection
    docs, faq = sorted(received(slack), key=header)
    assert "docs: fingerprint, canary, consistency firing" in header(docs)
    assert "faq: fingerprint firing" in header(faq)

    for check in SWAP:  # the model is put back: each check resolves in its own run
        notifier.on_results([result("ok", check)])
        clock.advance(seconds=3)
    clock.advance(seconds=30)
    assert notifier.deliver_due() == 1
    resolved = header(received(slack)[-1])
    assert "RESOLVED" in resolved and "docs: fingerprint, canary, consistency" in resolved


def test_what_fires_and_clears_within_the_window_is_not_sent(
    sqlite_db: StateDB, slack: LoopbackServer, make: Make
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, group_wait="30s")
    notifier.on_results([result("drift", "canary")])
    clock.advance(seconds=10)
    notifier.on_results([result("ok", "canary")])
    clock.advance(seconds=30)
    assert notifier.deliver_due() == 0
    assert received(slack) == []


def test_waiting_results_are_queued_at_shutdown(
    sqlite_db: StateDB, slack: LoopbackServer, make: Make
) -> None:
    clock = Clock()
    notifier, _ = make(sqlite_db, slack, clock, group_wait="30s")
    notifier.on_results([result("drift", "fingerprint")])
    notifier.close()
    # The next process (same state DB) sends it.
    successor, _ = make(sqlite_db, slack, clock, group_wait="30s")
    assert successor.deliver_due() == 1
    assert "docs: fingerprint firing" in header(received(slack)[0])


def test_a_store_outage_is_one_store_message_not_one_per_check(
    sqlite_db: StateDB, slack: LoopbackServer, make: Make
) -> None:
    clock = Clock()
    stores = {"docs": "chroma-main", "faq": "chroma-main", "kb": "other"}
    notifier, _ = make(sqlite_db, slack, clock, group_wait="5s", stores=stores)

    def outage() -> None:
        for collection in ("docs", "faq"):
            for check in ("fingerprint", "canary", "version_mix"):
                down = result("error", check, collection=collection, message="connection refused")
                down.detail["error"] = "StoreUnavailable"
                notifier.on_results([down])
        notifier.on_results([result("ok", "fingerprint", collection="kb")])
        clock.advance(seconds=60)

    outage()
    assert notifier.deliver_due() == 0  # an error waits for its repeat on the next cycle
    outage()
    assert notifier.deliver_due() == 1
    (body,) = received(slack)
    assert "store chroma-main" in header(body)
    assert "2 collection(s) cannot be checked (docs, faq)" in body["text"]
    assert "#driftwatchstoredown|" in str(body["blocks"])
    outage()
    assert notifier.deliver_due() == 0  # still down: no repeat before renotify

    for collection in ("docs", "faq"):
        notifier.on_results([result("ok", "fingerprint", collection=collection)])
    clock.advance(seconds=60)
    assert notifier.deliver_due() == 1
    assert "RESOLVED" in header(received(slack)[-1])
    assert "chroma-main" in header(received(slack)[-1])

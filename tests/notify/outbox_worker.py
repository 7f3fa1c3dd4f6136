"""A notifier process for the kill -9 tests (tests/notify/test_crash.py).

    python -m tests.notify.outbox_worker STATE_URL WEBHOOK_URL MODE N

MODE ``enqueue``: queue one drift message for each of N collections (c0..),
print "queued", then wait to be killed. ``deliver``: deliver what the outbox
holds until nothing is pending.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from driftwatch.checks.base import CheckResult
from driftwatch.config import AlertsConfig
from driftwatch.metrics import DriftwatchMetrics
from driftwatch.notify import outbox
from driftwatch.notify.service import Notifier
from driftwatch.state.db import open_state

DELIVER_FOR_S = 30.0


def drift(collection: str) -> CheckResult:
    return CheckResult(
        check="fingerprint",
        collection=collection,
        status="drift",
        value=0.2,
        threshold=0.8,
        detail={},
        started_at=datetime.now(UTC),
        duration_s=0.1,
        message=f"query model of {collection} replaced",
    )


def main(state_url: str, webhook: str, mode: str, n: int) -> None:
    db = open_state(state_url)
    config = AlertsConfig.model_validate({"slack": {"webhook_url": webhook, "timeout": "1s"}})
    notifier = Notifier(config, db, DriftwatchMetrics(CollectorRegistry()))
    if mode == "enqueue":
        notifier.on_results([drift(f"c{i}") for i in range(n)])
        notifier.flush_due(everything=True)  # the group window ended: now in the outbox
        print("queued", flush=True)
        sys.stdin.read()  # until killed
    deadline = time.monotonic() + DELIVER_FOR_S
    while time.monotonic() < deadline:
        notifier.deliver_due()
        with db.session() as session:
            if outbox.stats(session, "slack").pending == 0:
                break
        time.sleep(0.2)
    print("done", flush=True)
    notifier.close()
    db.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))

"""End to end: driftwatch's metrics -> real Prometheus rules -> real Alertmanager -> webhook.

Prometheus and Alertmanager are the Debian binaries on 127.0.0.1 (tests/support/prometheus.py);
the webhook receiver is a LoopbackServer. One test runs the real daemon (`driftwatch run`)
on an embedded Chroma collection whose query model is swapped after the baseline; the
other serves DriftwatchMetrics' exposition directly to prove routing, inhibition and
resolution with the Alertmanager configuration documented in docs/alerts.md.

Prometheus loads the shipped alerts/driftwatch.rules.yml with one change: every ``for:``
is shortened to 1s, because the real ones (minutes to hours) are too long for a test.
The promtool unit tests in alerts/tests/ cover the real ``for:`` values.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console

from driftwatch import demo
from driftwatch.checks.base import STATUS_CODES, CheckResult, Status
from driftwatch.config import ThresholdsConfig, load_config
from driftwatch.metrics import DriftwatchMetrics, ModelDeprecationStatus
from tests.support.demo import demo_config, write_config
from tests.support.loopback import LoopbackServer, Reply
from tests.support.models import PARAPHRASE
from tests.support.prometheus import RULES_FILE, AlertmanagerServer, PrometheusServer, free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
TEST_FOR = "1s"
TIMEOUT_S = 60.0
SEED_RECORDS = 30  # the fingerprint check needs none; a few keep the other checks honest


def rules_with_short_for(directory: Path) -> Path:
    """The shipped rules with every for: set to TEST_FOR (the only change)."""
    data = yaml.safe_load(RULES_FILE.read_text())
    for group in data["groups"]:
        for rule in group["rules"]:
            rule["for"] = TEST_FOR
    path = directory / RULES_FILE.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def documented_alertmanager_config(urls: dict[str, str]) -> dict[str, Any]:
    """docs/alerts.md's alertmanager.yml: receivers pointed at ``urls``, timers at 1s."""
    blocks = re.findall(r"```yaml\n(# alertmanager\.yml\n.*?)```", DOCS.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"{DOCS} must hold exactly one alertmanager.yml block"
    config: dict[str, Any] = yaml.safe_load(blocks[0])
    config["route"].update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = urls[receiver["name"]]
    return config


def delivered(hook: LoopbackServer, path: str) -> list[tuple[str, str, dict[str, str]]]:
    """(status, alertname, labels) of every alert Alertmanager posted to ``path``."""
    return [
        (alert["status"], alert["labels"]["alertname"], alert["labels"])
        for request in hook.requests_to(path)
        for alert in request.json()["alerts"]
    ]


def notified(hook: LoopbackServer, path: str, status: str, alertname: str) -> bool:
    return any(s == status and n == alertname for s, n, _ in delivered(hook, path))


def held_alerts(am: AlertmanagerServer) -> dict[str, dict[str, Any]]:
    """Alertmanager's current alerts by name."""
    return {a["labels"]["alertname"]: a for a in am.alerts()}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def result(collection: str, check: str, status: Status, value: float) -> CheckResult:
    return CheckResult(
        check=check,
        collection=collection,
        status=status,
        value=value,
        threshold=0.8,
        detail={},
        started_at=datetime.now(UTC),
        duration_s=0.1,
        message=f"{check} {status}",
    )


def driftwatch(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """The driftwatch command line of this venv, its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "driftwatch.cli", *args], stdout=out, stderr=subprocess.STDOUT
        )


@contextmanager
def running_daemon(config: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = driftwatch("run", "--config", str(config), log=log)
    try:
        wait_until(
            lambda: proc.poll() is not None or ready(port),
            f"driftwatch run on port {port} to be ready",
        )
        assert proc.poll() is None, f"driftwatch run exited:\n{log.read_text()[-3000:]}"
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def hook() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        for path in ("/hook", "/pager", "/tickets"):
            server.route(path, lambda _req: Reply(200, b"ok"))
        yield server


@pytest.mark.slow
def test_swapped_query_model_arrives_as_query_model_replaced(
    tmp_path: Path, hook: LoopbackServer
) -> None:
    """The accident driftwatch exists for, from the daemon to the webhook.

    The baseline is captured with all-MiniLM-L6-v2 (the model the records were embedded
    with); then the config's model path is switched to paraphrase-MiniLM-L3-v2 while the
    application still calls it all-MiniLM-L6-v2: same name, same 384 dimensions.
    """
    port = free_port()
    log = tmp_path / "driftwatch.log"
    # Prometheus and Alertmanager first: their start-up overlaps with seeding and the
    # baseline (until the daemon listens, DriftwatchDown fires, as it should).
    with (
        AlertmanagerServer(tmp_path / "am", hook.url("/hook")) as am,
        PrometheusServer(
            tmp_path / "prom",
            [f"127.0.0.1:{port}"],
            rule_files=[rules_with_short_for(tmp_path)],
            alertmanager=am.address,
        ) as prom,
    ):
        config_path = write_config(tmp_path, demo_config(tmp_path, listen=f"127.0.0.1:{port}"))
        demo.seed(load_config(config_path), Console(quiet=True), limit=SEED_RECORDS)
        baseline = driftwatch("baseline", "--config", str(config_path), log=log)
        assert baseline.wait(timeout=120) == 0, log.read_text()[-3000:]

        config = yaml.safe_load(config_path.read_text())
        config["embedders"]["live"]["path"] = PARAPHRASE
        config_path.write_text(yaml.safe_dump(config))
        collection = config["collections"][0]["name"]

        with running_daemon(config_path, port, log):
            wait_until(
                lambda: notified(hook, "/hook", "firing", "DriftwatchQueryModelReplaced"),
                "DriftwatchQueryModelReplaced at the webhook",
            )
            check = f'{{check="fingerprint",collection="{collection}"}}'
            status = prom.query_value(f"driftwatch_check_status{check}")
            mean = prom.query_value(f"driftwatch_check_value{check}")
            lowest = prom.query_value(
                f'driftwatch_fingerprint_cosine_min{{collection="{collection}"}}'
            )
            (target,) = prom.targets()
            rules = [rule for group in prom.rule_groups() for rule in group["rules"]]

    assert target["health"] == "up", target["lastError"]
    # Every shipped rule evaluated cleanly against the real daemon's metrics.
    shipped = yaml.safe_load(RULES_FILE.read_text())["groups"]
    assert len(rules) == sum(len(group["rules"]) for group in shipped)
    assert {(r["name"], r["health"], r["lastError"]) for r in rules if r["health"] != "ok"} == set()

    alert = next(
        a
        for request in hook.requests_to("/hook")
        for a in request.json()["alerts"]
        if a["labels"]["alertname"] == "DriftwatchQueryModelReplaced"
    )
    assert alert["labels"]["collection"] == collection
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["instance"] == f"127.0.0.1:{port}"
    assert status == STATUS_CODES["drift"]
    assert mean is not None and lowest is not None
    # The evidence the daemon exported is what the page says.
    replaced = ThresholdsConfig().fingerprint_replaced
    evidence = f"mean cosine {mean:.3g} (drift below {replaced:.3g}), lowest {lowest:.3g}."
    assert evidence in alert["annotations"]["description"]
    assert alert["annotations"]["runbook_url"].endswith("#driftwatchquerymodelreplaced")


@pytest.mark.slow
def test_drift_exposition_reaches_the_documented_receivers(
    tmp_path: Path, hook: LoopbackServer
) -> None:
    """Severity routing and inhibition from docs/alerts.md, fed by DriftwatchMetrics' output."""
    registry = CollectorRegistry()
    metrics = DriftwatchMetrics(registry)
    metrics.state_db_up.set(1)  # as the daemon does once its state DB is open
    metrics.record_result(result("docs", "fingerprint", "drift", 0.21))
    metrics.record_result(result("docs", "consistency", "drift", 0.02))
    metrics.record_result(result("faq", "canary", "drift", 0.1))
    metrics.record_result(result("kb", "fingerprint", "ok", 1.0))
    shutdown = (datetime.now(UTC) + timedelta(days=200)).timestamp()
    metrics.deprecations.update(
        [ModelDeprecationStatus("text-embedding-ada-002", "openai", True, shutdown, False, False)]
    )
    hook.route("/metrics", lambda _req: Reply(200, generate_latest(registry)))
    am_config = documented_alertmanager_config(
        {"pager": hook.url("/pager"), "tickets": hook.url("/tickets")}
    )

    with (
        AlertmanagerServer(tmp_path / "am", config=am_config) as am,
        PrometheusServer(
            tmp_path / "prom",
            [f"127.0.0.1:{hook.port}"],
            rule_files=[rules_with_short_for(tmp_path)],
            alertmanager=am.address,
        ) as prom,
    ):
        wait_until(
            lambda: notified(hook, "/pager", "firing", "DriftwatchQueryModelReplaced"),
            "the critical fingerprint alert at the pager",
        )
        wait_until(lambda: bool(delivered(hook, "/tickets")), "the canary alert at tickets")
        labels = next(
            labels
            for status, name, labels in delivered(hook, "/pager")
            if (status, name) == ("firing", "DriftwatchQueryModelReplaced")
        )
        assert labels["collection"] == "docs"
        assert labels["severity"] == "critical"
        assert {(n, labels["collection"]) for _, n, labels in delivered(hook, "/tickets")} == {
            ("DriftwatchCanaryQualityDropped", "faq")
        }

        # Firing, but inhibited (consistency) or routed nowhere (info). Rule groups are
        # evaluated independently, so these may arrive a little after the notifications.
        quiet = {"DriftwatchIndexQueryMismatch", "DriftwatchModelDeprecationAnnounced"}

        def quiet_alerts_held() -> bool:
            held = held_alerts(am)
            mismatch = held.get("DriftwatchIndexQueryMismatch", {})
            return quiet <= held.keys() and bool(mismatch["status"]["inhibitedBy"])

        wait_until(quiet_alerts_held, "the consistency alert inhibited, the info alert held")
        firing = {a["labels"]["alertname"] for a in prom.alerts() if a["state"] == "firing"}
        assert quiet <= firing
        held = held_alerts(am)
        assert held["DriftwatchIndexQueryMismatch"]["status"]["state"] == "suppressed"
        assert [r["name"] for r in held["DriftwatchModelDeprecationAnnounced"]["receivers"]] == [
            "null"
        ]

        # Recovery: the next scrape shows the collection healthy; the pager hears it.
        # The inhibited alert must resolve before its inhibitor does: rule groups are
        # evaluated independently, and a consistency alert still firing for one
        # evaluation after the fingerprint alert resolved would be delivered.
        metrics.record_result(result("docs", "consistency", "ok", 1.0))
        wait_until(
            lambda: (
                "DriftwatchIndexQueryMismatch"
                not in {a["labels"]["alertname"] for a in prom.alerts()}
            ),
            "the consistency alert resolved in Prometheus",
        )
        metrics.record_result(result("docs", "fingerprint", "ok", 1.0))
        wait_until(
            lambda: notified(hook, "/pager", "resolved", "DriftwatchQueryModelReplaced"),
            "the resolved notification at the pager",
        )

    names = {n for _, n, _ in delivered(hook, "/pager") + delivered(hook, "/tickets")}
    assert names == {"DriftwatchQueryModelReplaced", "DriftwatchCanaryQualityDropped"}

"""Real Prometheus and Alertmanager servers on 127.0.0.1 for tests.

Both are the Debian binaries (``/usr/bin/prometheus``,
``/usr/bin/prometheus-alertmanager``), started on free loopback ports with
configuration and storage in a temp directory, and terminated on exit. Nothing
listens on or talks to any address other than 127.0.0.1 (Alertmanager's
cluster gossip is disabled).

    with LoopbackServer() as hook, AlertmanagerServer(tmp / "am", hook.url("/hook")) as am:
        with PrometheusServer(
            tmp / "prom",
            targets=["127.0.0.1:9464"],
            rule_files=[RULES_FILE],
            alertmanager=am.address,
        ) as prom:
            prom.wait_for('driftwatch_check_status{check="fingerprint"} == 2', timeout=20)
            assert prom.query_value("up") == 1.0
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

from tests.support.loopback import free_port

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMTOOL = "/usr/bin/promtool"
RULES_FILE = Path(__file__).resolve().parents[2] / "alerts" / "driftwatch.rules.yml"


class ServerError(RuntimeError):
    """A server did not start or did not answer as expected; carries its log tail."""


def require_binary(path: str) -> str:
    """The binary's path, or a clear failure naming the Debian package that provides it."""
    found = shutil.which(path)
    if found is None:
        package = "prometheus-alertmanager" if "alertmanager" in path else "prometheus"
        raise ServerError(
            f"{path} not found: install the Debian package {package!r} (make system-deps)"
        )
    return found


class _Process:
    """A server subprocess with its log in the work directory."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = workdir / f"{self.name}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def log_tail(self, lines: int = 30) -> str:
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 20.0) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AlertmanagerServer(_Process):
    """Alertmanager routing every alert to one webhook receiver, with short group timers.

    ``config`` replaces the generated configuration (one ``webhook`` receiver at
    ``webhook_url``) when a test needs its own routing, e.g. by severity.
    """

    name = "alertmanager"

    def __init__(
        self,
        workdir: Path,
        webhook_url: str | None = None,
        *,
        group_wait: str = "1s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(workdir)
        if config is None:
            if webhook_url is None:
                raise ValueError("give a webhook_url or a whole config")
            config = {
                "route": {
                    "receiver": "webhook",
                    "group_by": ["alertname", "collection"],
                    "group_wait": group_wait,
                    "group_interval": group_interval,
                    "repeat_interval": repeat_interval,
                },
                "receivers": [
                    {
                        "name": "webhook",
                        "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
                    }
                ],
            }
        self.config = config

    def _command(self) -> list[str]:
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return [
            require_binary(ALERTMANAGER),
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # no gossip: nothing but 127.0.0.1
            "--log.level=warn",
        ]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager currently holds (API v2)."""
        reply = httpx.get(f"{self.url}/api/v2/alerts", timeout=5.0)
        reply.raise_for_status()
        alerts: list[dict[str, Any]] = reply.json()
        return alerts


class PrometheusServer(_Process):
    """Prometheus scraping ``targets`` every ``interval`` and evaluating ``rule_files``."""

    name = "prometheus"

    def __init__(
        self,
        workdir: Path,
        targets: Sequence[str] = (),
        *,
        rule_files: Sequence[Path] = (),
        alertmanager: str | None = None,
        job: str = "driftwatch",
        metrics_path: str = "/metrics",
        interval: str = "1s",
    ) -> None:
        super().__init__(workdir)
        for target in targets:
            if not target.startswith("127.0.0.1:"):
                raise ValueError(f"scrape target {target!r} is not on 127.0.0.1")
        self.config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(Path(f).resolve()) for f in rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "metrics_path": metrics_path,
                    "static_configs": [{"targets": list(targets)}],
                }
            ],
        }
        if alertmanager is not None:
            self.config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]
            }

    def _command(self) -> list[str]:
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return [
            require_binary(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}",
            "--log.level=warn",
        ]

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns ``data`` or raises ServerError with Prometheus' error."""
        reply = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10.0)
        body = reply.json()
        if body.get("status") != "success":
            raise ServerError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector as Prometheus returns it."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise ServerError(f"{expr!r} returned a {data['resultType']}, not a vector")
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_value(self, expr: str) -> float | None:
        """The value of a query that returns at most one series (None when empty)."""
        result = self.query(expr)
        if len(result) > 1:
            raise ServerError(f"{expr!r} returned {len(result)} series, expected at most one")
        return float(result[0]["value"][1]) if result else None

    def wait_for(
        self,
        expr: str,
        timeout: float = 30.0,
        until: Callable[[list[dict[str, Any]]], bool] = bool,
    ) -> list[dict[str, Any]]:
        """Poll ``expr`` until ``until(result)`` holds (default: any series); the result."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if until(result):
                return result
            time.sleep(0.25)
        raise ServerError(f"{expr!r} not satisfied after {timeout:.0f} s; last result {result}")

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (API /api/v1/alerts)."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets with their health and last error."""
        active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return active

    def rule_groups(self) -> list[dict[str, Any]]:
        """Loaded rule groups with their health and last evaluation error."""
        groups: list[dict[str, Any]] = self.api("rules")["groups"]
        return groups

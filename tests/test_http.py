"""The HTTP endpoints: prometheus_client's WSGI app for /metrics, /healthz, /readyz,
on a server whose address family follows the listen host (IPv6 included)."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from driftwatch.config import Config
from driftwatch.http import MetricsServer, address_family


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("driftwatch_state_db_up", "up", registry=registry).set(1)
    Gauge("driftwatch_feed_up", "feed", ("feed",), registry=registry).labels("news").set(0)
    return registry


def serve(host: str, registry: CollectorRegistry, ready: bool = True) -> Iterator[MetricsServer]:
    server = MetricsServer(host, 0, registry, lambda: (ready, "state database full"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@IPV6
def test_listen_on_ipv6_any_binds_and_serves_ipv6_and_ipv4(registry: CollectorRegistry) -> None:
    # What `listen: "[::]:9464"` turns into; before, binding it raised.
    host = Config.model_validate({"listen": "[::]:9464"}).listen_host
    assert address_family(host, 9464) == socket.AF_INET6
    for server in serve(host, registry):
        for url in (f"http://[::1]:{server.port}", f"http://127.0.0.1:{server.port}"):
            assert httpx.get(f"{url}/healthz").text == "ok\n"
            assert "driftwatch_state_db_up 1.0" in httpx.get(f"{url}/metrics").text


@IPV6
def test_listen_on_ipv6_loopback_only(registry: CollectorRegistry) -> None:
    for server in serve("::1", registry):
        assert httpx.get(f"http://[::1]:{server.port}/healthz").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz")


def test_metrics_come_from_prometheus_client_with_gzip_and_name_filter(
    registry: CollectorRegistry,
) -> None:
    for server in serve("127.0.0.1", registry):
        url = f"http://127.0.0.1:{server.port}/metrics"
        with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as raw:
            assert raw.headers["Content-Encoding"] == "gzip"
            assert b"driftwatch_feed_up" in gzip.decompress(b"".join(raw.iter_raw()))
        only = httpx.get(url, params={"name[]": "driftwatch_state_db_up"}).text
        assert "driftwatch_state_db_up 1.0" in only
        assert "driftwatch_feed_up" not in only
        openmetrics = httpx.get(url, headers={"Accept": "application/openmetrics-text"})
        assert openmetrics.text.endswith("# EOF\n")


def test_readyz_says_why_it_is_not_ready_and_unknown_paths_are_404(
    registry: CollectorRegistry,
) -> None:
    for server in serve("127.0.0.1", registry, ready=False):
        base = f"http://127.0.0.1:{server.port}"
        ready = httpx.get(f"{base}/readyz")
        assert (ready.status_code, ready.text) == (503, "state database full\n")
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/nope").status_code == 404

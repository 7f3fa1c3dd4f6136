"""The daemon's HTTP endpoints: /metrics, /healthz (alive), /readyz (able to do its job).

/metrics is prometheus_client's own WSGI app (gzip when the scraper asks for it,
``name[]`` filtering, OpenMetrics negotiation); /healthz and /readyz are two tiny
WSGI routes beside it. The server is wsgiref's, threaded, with the address
family taken from the listen host, so ``listen: "[::]:9464"`` binds IPv6 (and,
where the kernel allows, IPv4 too), ``[::1]`` only IPv6 loopback, and
``0.0.0.0`` or ``127.0.0.1`` IPv4.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

# Returns (ready, reason); called on every /readyz request.
ReadinessProbe = Callable[[], tuple[bool, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# A new list per response: wsgiref appends Content-Length to the list it is given.
_TEXT = ("Content-Type", "text/plain; charset=utf-8")


def endpoints(registry: CollectorRegistry, readiness: ReadinessProbe) -> WSGIApp:
    """The WSGI application: /metrics, /healthz, /readyz; anything else 404."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = metrics(environ, start_response)
            return body
        if path == "/healthz":
            start_response("200 OK", [_TEXT])
            return [b"ok\n"]
        if path == "/readyz":
            ready, reason = readiness()
            start_response("200 OK" if ready else "503 Service Unavailable", [_TEXT])
            return [(reason + "\n").encode()]
        start_response("404 Not Found", [_TEXT])
        return [b"not found: try /metrics, /healthz or /readyz\n"]

    return app


def address_family(host: str, port: int) -> socket.AddressFamily:
    """The family of the first passive address ``host`` resolves to ("::" -> IPv6)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return infos[0][0]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds would flood the log


class MetricsServer:
    """A small threaded WSGI server bound to the configured listen address."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, readiness: ReadinessProbe
    ) -> None:
        family = address_family(host, port)

        class Server(ThreadingMixIn, WSGIServer):
            address_family = family
            daemon_threads = True

            def server_bind(self) -> None:
                if family == socket.AF_INET6 and host in ("::", ""):
                    # Dual stack where the kernel allows: "[::]" also takes IPv4 scrapes.
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        self._server = make_server(
            host, port, endpoints(registry, readiness), Server, _QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="driftwatch-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""The daemon's HTTP endpoints: /metrics, /healthz (alive), /readyz (able to do its job)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

# Returns (ready, reason); called on every /readyz request.
ReadinessProbe = Callable[[], tuple[bool, str]]


class MetricsServer:
    """A small threaded HTTP server bound to the configured listen address."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, readiness: ReadinessProbe
    ) -> None:
        outer_registry, outer_ready = registry, readiness

        class Handler(BaseHTTPRequestHandler):
            server_version = "driftwatch"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would flood the log

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                    self._reply(200, encoder(outer_registry), content_type)
                elif path == "/healthz":
                    self._reply(200, b"ok\n")
                elif path == "/readyz":
                    ready, reason = outer_ready()
                    self._reply(200 if ready else 503, (reason + "\n").encode())
                else:
                    self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

            def _reply(
                self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
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

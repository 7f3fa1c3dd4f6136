"""Fetching from a real HTTP server on 127.0.0.1: limits, redirects, conditional GET."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from driftwatch.config import FeedConfig
from driftwatch.feeds.fetch import MAX_REDIRECTS, USER_AGENT, FeedFetchFailed, fetch_feed
from tests.support.loopback import LoopbackServer, Reply, Request

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    # One server for the module (stopping one takes half a second); paths differ per test.
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def _feed(url: str, **kw: object) -> FeedConfig:
    return FeedConfig.model_validate({"url": url, "name": "vendor", **kw})


def _failure(client: httpx.Client, feed: FeedConfig) -> FeedFetchFailed:
    with pytest.raises(FeedFetchFailed) as caught:
        fetch_feed(client, feed)
    assert str(caught.value).startswith("feed vendor: ")
    return caught.value


def test_fetch_sends_user_agent_and_returns_validators(
    server: LoopbackServer, client: httpx.Client
) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
    server.route(
        "/plain.xml",
        lambda req: Reply(200, BODY, {"Content-Type": "application/rss+xml", **headers}),
    )
    result = fetch_feed(client, _feed(server.url("/plain.xml")))
    assert (result.status, result.body, result.etag) == ("ok", BODY, '"v1"')
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.content_type == "application/rss+xml"
    (req,) = server.requests_to("/plain.xml")
    assert req.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("driftwatch/")
    assert "If-None-Match" not in req.headers


def test_conditional_get_and_304(server: LoopbackServer, client: httpx.Client) -> None:
    def handler(req: Request) -> Reply:
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304)
        return Reply(200, BODY, {"ETag": '"v1"'})

    server.route("/cond.xml", handler)
    feed = _feed(server.url("/cond.xml"))
    first = fetch_feed(client, feed)
    again = fetch_feed(client, feed, etag=first.etag, last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
    assert (again.status, again.body, again.etag) == ("not_modified", b"", '"v1"')
    second = server.requests_to("/cond.xml")[1]
    assert second.headers["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "http_404"), (410, "http_410"), (403, "http_4xx"), (500, "http_5xx"), (503, "http_5xx")],
)
def test_http_errors(
    server: LoopbackServer, client: httpx.Client, status: int, reason: str
) -> None:
    server.route(f"/status{status}", lambda req: Reply(status, b"nope"))
    error = _failure(client, _feed(server.url(f"/status{status}")))
    assert error.reason == reason
    assert f"HTTP {status}" in str(error)


def test_read_timeout(server: LoopbackServer, client: httpx.Client) -> None:
    server.route("/slow", lambda req: Reply(200, BODY, delay_s=1.5))
    t0 = time.monotonic()
    error = _failure(client, _feed(server.url("/slow"), timeout="300ms"))
    assert error.reason == "timeout"
    assert time.monotonic() - t0 < 1.2


def test_a_dripping_body_is_cut_at_the_deadline(
    server: LoopbackServer, client: httpx.Client
) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(40):
            time.sleep(0.05)
            yield b" "

    server.route("/drip", lambda req: Reply(200, drip()))
    t0 = time.monotonic()
    error = _failure(client, _feed(server.url("/drip"), timeout="400ms"))
    assert error.reason == "timeout"
    assert time.monotonic() - t0 < 1.5


def test_connection_refused(client: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = _failure(client, _feed(f"http://127.0.0.1:{port}/feed.xml"))
    assert error.reason == "connect"


def test_declared_length_over_the_limit(server: LoopbackServer, client: httpx.Client) -> None:
    server.route("/big", lambda req: Reply(200, b"x" * 5000))
    error = _failure(client, _feed(server.url("/big"), max_bytes=4096))
    assert error.reason == "too_large"
    assert "5000 bytes exceeds the limit of 4096" in str(error)


def test_streamed_body_is_abandoned_past_the_limit(
    server: LoopbackServer, client: httpx.Client
) -> None:
    produced = []

    def endless() -> Iterator[bytes]:
        for i in range(2000):
            produced.append(i)
            yield b"x" * 65536  # 128 MiB if it were all sent

    server.route("/stream", lambda req: Reply(200, endless()))
    error = _failure(client, _feed(server.url("/stream"), max_bytes=1024 * 1024))
    assert error.reason == "too_large"
    time.sleep(0.2)  # let the server notice the closed connection
    assert len(produced) < 200


def _redirect(status: int, location: str) -> Callable[[Request], Reply]:
    return lambda req: Reply(status, headers={"Location": location})


def test_redirects_up_to_the_limit_are_followed(
    server: LoopbackServer, client: httpx.Client
) -> None:
    for i in range(MAX_REDIRECTS):
        server.route(f"/ok{i}", _redirect(302, f"/ok{i + 1}"))
    server.route(f"/ok{MAX_REDIRECTS}", lambda req: Reply(200, BODY))
    assert fetch_feed(client, _feed(server.url("/ok0"))).body == BODY


def test_too_many_redirects(server: LoopbackServer, client: httpx.Client) -> None:
    for i in range(MAX_REDIRECTS + 1):
        server.route(f"/r{i}", _redirect(301, f"/r{i + 1}"))
    error = _failure(client, _feed(server.url("/r0")))
    assert error.reason == "redirects"
    assert f"more than {MAX_REDIRECTS} redirects" in str(error)


def test_redirect_loop(server: LoopbackServer, client: httpx.Client) -> None:
    server.route("/a", lambda req: Reply(302, headers={"Location": server.url("/b")}))
    server.route("/b", lambda req: Reply(307, headers={"Location": "/a"}))
    error = _failure(client, _feed(server.url("/a")))
    assert error.reason == "redirect_loop"
    assert (len(server.requests_to("/a")), len(server.requests_to("/b"))) == (1, 1)


def test_redirect_without_location(server: LoopbackServer, client: httpx.Client) -> None:
    server.route("/nowhere", lambda req: Reply(302))
    assert _failure(client, _feed(server.url("/nowhere"))).reason == "redirects"


def test_messages_do_not_show_secrets_in_urls(server: LoopbackServer, client: httpx.Client) -> None:
    server.route("/private", lambda req: Reply(500))
    error = _failure(client, _feed(server.url("/private") + "?token=s3cret"))
    assert "s3cret" not in str(error)
    assert f"127.0.0.1:{server.port}" in str(error)
